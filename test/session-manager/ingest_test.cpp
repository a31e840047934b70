// Ingest and store: every check's rejection, duplicates, group commit, gaps and deferrals, and
// restarts that give the same roots (docs/architecture.md §4–§5).

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include <doctest.h>
#include <rocksdb/db.h>

#include "common/smst/store.h"
#include "common/smst/trie.h"
#include "common/util/hex.h"
#include "session-manager/ingest.h"
#include "session-manager/session_cache.h"
#include "session-manager/session_store.h"
#include "test/link/test_support.h"
#include "test/support/process.h"
#include "test/session-manager/sm_test_support.h"

using namespace pocket;
using pocket::test::FakeChain;
using pocket::test::TestRelay;

namespace {

struct Harness {
  Harness() {
    chain.sessions = {test::makeSession(0)};
    open();
  }
  ~Harness() { close(); }

  void open() {
    metrics = std::make_unique<util::MetricsRegistry>();
    store = std::make_unique<sm::SessionStore>(dir / "store", log.sink(), *metrics, storeOptions);
    cache = std::make_unique<sm::SessionCache>(chain, log.sink(), *metrics);
    sm::IngestOptions options;
    options.suppliers = {test::kSupplier};
    options.treeCommitInterval = std::chrono::hours(1);
    ingest = std::make_unique<sm::Ingest>(
        options, *store, *cache, [this] { return height; },
        [this](sm::IngestOutcome o) { acks.push_back(std::move(o)); }, log.sink(), *metrics);
  }
  void close() {
    ingest.reset();
    cache.reset();
    store.reset();
    metrics.reset();
  }
  void reopen() {
    close();
    open();
  }

  // Submits one batch from `edge` and runs one group; returns the acks it produced.
  std::vector<sm::IngestOutcome> deliver(std::uint64_t firstSeq, const std::vector<TestRelay>& relays,
                                         const sm::EdgeKey& edge = {"edge-1", 7},
                                         std::uint64_t resumeFloor = 0) {
    sm::IngestBatch batch;
    batch.peer = "peer-" + edge.edgeId;
    batch.edge = edge;
    batch.resumeFloor = resumeFloor;
    batch.frame = test::batchFrame(firstSeq, relays);
    ingest->submit(std::move(batch));
    acks.clear();
    ingest->runOnce();
    return acks;
  }

  std::uint64_t counter(const std::string& line) {
    std::string text = metrics->render();
    auto at = text.find("\n" + line + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + line.size() + 2));
  }

  pocket::testing::TempDir dir;
  test::CapturedLog log;
  FakeChain chain;
  sm::SessionStoreOptions storeOptions;
  std::int64_t height = 15;
  std::unique_ptr<util::MetricsRegistry> metrics;
  std::unique_ptr<sm::SessionStore> store;
  std::unique_ptr<sm::SessionCache> cache;
  std::unique_ptr<sm::Ingest> ingest;
  std::vector<sm::IngestOutcome> acks;
};

// The root of a tree built in one go from `relays`.
smst::Digest referenceRoot(const std::vector<TestRelay>& relays) {
  smst::MemoryStore memory;
  smst::SparseMerkleSumTrie trie(memory);
  for (const auto& r : relays) trie.update(r.relayHash, r.relayBytes, r.computeUnits);
  return trie.root();
}

std::vector<TestRelay> relaysOf(const sm::SessionFacts& session, int from, int count) {
  std::vector<TestRelay> out;
  for (int i = from; i < from + count; ++i) out.push_back(test::makeRelay(i, session));
  return out;
}

// Two sessions of one supplier fed together: each push is one batch (20 relays of the first
// session, 10 of the second) and one group commit.
struct TwoTrees {
  explicit TwoTrees(Harness& harness) : h(harness) { h.chain.sessions.push_back(s1); }
  void push(int from) {
    auto a = relaysOf(s0, from, 20);
    auto b = relaysOf(s1, from, 10);
    std::vector<TestRelay> both = a;
    both.insert(both.end(), b.begin(), b.end());
    REQUIRE(h.deliver(seq, both).size() == 1);
    seq += both.size();
    all0.insert(all0.end(), a.begin(), a.end());
    all1.insert(all1.end(), b.begin(), b.end());
  }

  Harness& h;
  sm::SessionFacts s0 = test::makeSession(0);
  sm::SessionFacts s1 = test::makeSession(1);
  std::vector<TestRelay> all0, all1;
  std::uint64_t seq = 1;
  std::string t0 = sm::treeKey(test::kSupplier, s0.header.sessionId);
  std::string t1 = sm::treeKey(test::kSupplier, s1.header.sessionId);
};

// A chain whose answers about the sessions starting at the gated heights wait until the test
// opens their gate (a full node that hangs on those queries); everything else is the
// FakeChain's.
class GatedChain final : public sm::ChainSource {
 public:
  explicit GatedChain(std::set<std::int64_t> gatedStarts) : closed_(std::move(gatedStarts)) {}
  explicit GatedChain(std::int64_t gatedStart) : closed_{gatedStart} {}
  util::Result<sm::ChainHead> latestHead() override { return chain.latestHead(); }
  util::Result<sm::SessionFacts> session(const std::string& app, const std::string& service,
                                         std::int64_t height) override {
    {
      std::unique_lock lock(mutex_);
      if (closed_.contains(height)) {
        ++waiting_;
        opened_.wait(lock, [&] { return !closed_.contains(height); });
      }
    }
    return chain.session(app, service, height);
  }
  void open(std::int64_t height) {
    {
      std::lock_guard lock(mutex_);
      closed_.erase(height);
    }
    opened_.notify_all();
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      closed_.clear();
    }
    opened_.notify_all();
  }
  int waiting() {
    std::lock_guard lock(mutex_);
    return waiting_;
  }
  FakeChain chain;

 private:
  std::int64_t gatedStart_;
  std::mutex mutex_;
  std::condition_variable opened_;
  std::set<std::int64_t> closed_;
  int waiting_ = 0;
};

// Opens every gate when it goes: declared after the ingest that uses the chain, so the gates
// open, whatever happened, before the ingest stops (stop() waits for the lookup in progress).
struct OpenGatesOnExit {
  GatedChain& chain;
  ~OpenGatesOnExit() { chain.open(); }
};

// An ingest started with its own threads (session lookups set batches aside) over `chain`, with
// the acks it hands out collected.
struct StartedIngest {
  explicit StartedIngest(sm::ChainSource& chain)
      : store(dir / "store", log.sink(), metrics),
        cache(chain, log.sink(), metrics),
        ingest(
            options(), store, cache, [] { return std::int64_t{15}; },
            [this](sm::IngestOutcome o) {
              std::lock_guard lock(acksMutex);
              acks.push_back(std::move(o));
            },
            log.sink(), metrics) {
    ingest.start();
  }
  static sm::IngestOptions options() {
    sm::IngestOptions o;
    o.suppliers = {test::kSupplier};
    return o;
  }
  static sm::IngestBatch batch(const std::string& edge, std::uint64_t firstSeq,
                               const std::vector<TestRelay>& relays) {
    sm::IngestBatch b;
    b.peer = "peer-" + edge;
    b.edge = {edge, 1};
    b.frame = test::batchFrame(firstSeq, relays);
    return b;
  }
  std::vector<sm::IngestOutcome> acksOf(const std::string& edge) {
    std::lock_guard lock(acksMutex);
    std::vector<sm::IngestOutcome> out;
    for (const auto& a : acks) {
      if (a.edge.edgeId == edge) out.push_back(a);
    }
    return out;
  }
  // The highest sequence number acked to `edge`, and how many of its relays were accepted.
  std::uint64_t ackedThrough(const std::string& edge) {
    std::uint64_t through = 0;
    for (const auto& a : acksOf(edge)) through = std::max(through, a.throughSeq);
    return through;
  }
  std::uint64_t acceptedOf(const std::string& edge) {
    std::uint64_t accepted = 0;
    for (const auto& a : acksOf(edge)) accepted += a.accepted;
    return accepted;
  }

  pocket::testing::TempDir dir;
  test::CapturedLog log;
  util::MetricsRegistry metrics;
  sm::SessionStore store;
  sm::SessionCache cache;
  std::mutex acksMutex;
  std::vector<sm::IngestOutcome> acks;
  sm::Ingest ingest;  // last: stopped and destroyed first
};

}  // namespace

TEST_SUITE("session-manager ingest") {
  TEST_CASE("once started, a batch whose session the chain is slow to confirm waits off the "
            "ingest thread while other edges' batches are acked") {
    auto known = test::makeSession(0);
    auto slow = test::makeSession(1);
    GatedChain chain(slow.header.sessionStartBlockHeight);
    chain.chain.sessions = {known, slow};
    StartedIngest started(chain);
    OpenGatesOnExit openOnExit{chain};
    auto submit = [&](const std::string& edge, std::uint64_t firstSeq,
                      const std::vector<TestRelay>& relays) {
      started.ingest.submit(StartedIngest::batch(edge, firstSeq, relays));
    };
    auto ackedThrough = [&](const std::string& edge) { return started.ackedThrough(edge); };

    submit("edge-known", 1, relaysOf(known, 0, 3));
    REQUIRE(pocket::testing::waitFor([&] { return ackedThrough("edge-known") == 3; },
                                     "the known session's first batch acked"));
    // edge-slow's session needs the chain, which does not answer.
    submit("edge-slow", 1, relaysOf(slow, 0, 2));
    REQUIRE(pocket::testing::waitFor([&] { return chain.waiting() == 1; },
                                     "the lookup of edge-slow's session in progress"));
    // The same batch resent while it waits is kept once.
    submit("edge-slow", 1, relaysOf(slow, 0, 2));
    // The edge's next batch (a cached session) waits behind it instead of being dropped as a gap.
    submit("edge-slow", 3, relaysOf(known, 10, 3));
    submit("edge-known", 4, relaysOf(known, 3, 3));
    CHECK(pocket::testing::waitFor([&] { return ackedThrough("edge-known") == 6; },
                                   "edge-known acked while edge-slow's lookup waits"));
    CHECK(ackedThrough("edge-slow") == 0);

    chain.open();
    CHECK(pocket::testing::waitFor([&] { return ackedThrough("edge-slow") == 5; },
                                   "edge-slow's two batches acked, in order, once the chain "
                                   "answered"));
    started.ingest.stop();
    CHECK(started.acceptedOf("edge-slow") == 5);  // the first batch once, although submitted twice
    CHECK(!started.log.contains("event=batch_gap"));
    CHECK(started.log.contains("reason=\"behind an earlier batch of the same edge that awaits a session "
                       "lookup\""));
    CHECK(chain.waiting() == 1);  // one lookup for both copies
    CHECK(started.log.contains("event=batch_awaiting_session edge_id=edge-slow"));
    CHECK(started.store.summaries().size() == 2);
  }

  TEST_CASE("a batch back from its lookup goes ahead of its edge's batches that arrived meanwhile") {
    auto slow = test::makeSession(1);
    GatedChain chain(slow.header.sessionStartBlockHeight);
    chain.chain.sessions = {slow};
    StartedIngest started(chain);
    OpenGatesOnExit openOnExit{chain};
    // The edge's first batch needs the chain, which does not answer yet.
    started.ingest.submit(StartedIngest::batch("edge-1", 1, relaysOf(slow, 0, 4)));
    REQUIRE(pocket::testing::waitFor([&] { return chain.waiting() == 1; },
                                     "the lookup of the first batch's session in progress"));
    // The ingest thread is held busy, so the edge's second batch stays queued, unread, until
    // the lookup has answered and the first batch is back in the queue.
    std::mutex gateMutex;
    std::condition_variable gateChanged;
    bool busy = false, release = false;
    started.ingest.post([&] {
      std::unique_lock lock(gateMutex);
      busy = true;
      gateChanged.notify_all();
      gateChanged.wait(lock, [&] { return release; });
    });
    struct ReleaseOnExit {
      std::mutex& m;
      std::condition_variable& c;
      bool& release;
      ~ReleaseOnExit() {
        std::lock_guard lock(m);
        release = true;
        c.notify_all();
      }
    } releaseOnExit{gateMutex, gateChanged, release};
    {
      std::unique_lock lock(gateMutex);
      REQUIRE(gateChanged.wait_for(lock, std::chrono::seconds(60), [&] { return busy; }));
    }
    started.ingest.submit(StartedIngest::batch("edge-1", 5, relaysOf(slow, 4, 4)));
    chain.open();
    REQUIRE(pocket::testing::waitFor([&] { return started.ingest.queued() == 2; },
                                     "the first batch back in the queue beside the second"));
    {
      std::lock_guard lock(gateMutex);
      release = true;
    }
    gateChanged.notify_all();
    CHECK(pocket::testing::waitFor([&] { return started.ackedThrough("edge-1") == 8; },
                                   "both batches acked, in order"));
    started.ingest.stop();
    CHECK(!started.log.contains("event=batch_gap"));
    CHECK(started.acceptedOf("edge-1") == 8);
  }

  TEST_CASE("a batch set aside again for its own lookup keeps its edge's later batches behind it") {
    auto first = test::makeSession(1);
    auto second = test::makeSession(2);
    GatedChain chain({first.header.sessionStartBlockHeight, second.header.sessionStartBlockHeight});
    chain.chain.sessions = {first, second};
    StartedIngest started(chain);
    OpenGatesOnExit openOnExit{chain};
    auto ackedThrough = [&] { return started.ackedThrough("edge-1"); };
    // The first batch waits for its session; the next two (another uncached session) wait
    // behind it without a lookup of their own yet.
    started.ingest.submit(StartedIngest::batch("edge-1", 1, relaysOf(first, 0, 4)));
    REQUIRE(pocket::testing::waitFor([&] { return chain.waiting() == 1; },
                                     "the first batch's lookup in progress"));
    started.ingest.submit(StartedIngest::batch("edge-1", 5, relaysOf(second, 0, 4)));
    started.ingest.submit(StartedIngest::batch("edge-1", 9, relaysOf(second, 4, 4)));
    REQUIRE(pocket::testing::waitFor(
        [&] {
          return started.metrics.render().find(
                     "sm_batches_total{outcome=\"batch_awaiting_session\"} 3\n") !=
                 std::string::npos;
        },
        "both later batches set aside behind the first"));
    // The first batch is processed; the second now needs its own lookup (which hangs), and the
    // third must keep waiting behind it instead of being taken as a gap.
    chain.open(first.header.sessionStartBlockHeight);
    REQUIRE(pocket::testing::waitFor([&] { return ackedThrough() == 4 && chain.waiting() == 2; },
                                     "the first batch acked, the second's lookup in progress"));
    chain.open(second.header.sessionStartBlockHeight);
    CHECK(pocket::testing::waitFor([&] { return ackedThrough() == 12; },
                                   "all three batches acked, in order"));
    started.ingest.stop();
    CHECK(!started.log.contains("event=batch_gap"));
    CHECK(started.acceptedOf("edge-1") == 12);
  }

  TEST_CASE("large batches set aside for a lookup are read again whole: a known session's relays "
            "are accepted, an unknown session's rejected, both acked") {
    auto known = test::makeSession(0);
    auto unknown = test::makeSession(1);
    FakeChain chain;
    chain.sessions = {known};  // the chain never heard of `unknown`
    StartedIngest started(chain);
    constexpr int kRelays = 300;  // far more than the reader's slack beyond twice the frame
    for (const auto& [edge, session] : {std::pair{"edge-a", known}, std::pair{"edge-b", unknown}}) {
      auto batch = StartedIngest::batch(edge, 1, relaysOf(session, 0, kRelays));
      // As the link server does before handing a batch over: its size is read (which spends
      // part of the reader's traversal budget on the list of relays).
      REQUIRE(batch.frame->root<link::EdgeMessage>().getMinedRelays().getRelays().size() ==
              kRelays);
      started.ingest.submit(std::move(batch));
    }
    auto outcome = [&](const std::string& edge) -> std::optional<sm::IngestOutcome> {
      auto acks = started.acksOf(edge);
      if (acks.empty()) return std::nullopt;
      return acks.front();
    };
    REQUIRE(pocket::testing::waitFor([&] { return outcome("edge-a") && outcome("edge-b"); },
                                     "both set-aside batches processed and acked"));
    started.ingest.stop();
    CHECK(outcome("edge-a")->throughSeq == kRelays);
    CHECK(outcome("edge-a")->accepted == kRelays);
    CHECK(outcome("edge-b")->throughSeq == kRelays);
    CHECK(outcome("edge-b")->accepted == 0);
    CHECK(outcome("edge-b")->rejected.size() == kRelays);
    CHECK(outcome("edge-b")->rejected.front().second == sm::kRejectSessionUnknown);
    CHECK(started.log.contains("event=batch_awaiting_session edge_id=edge-a"));
    CHECK(started.log.contains("event=batch_awaiting_session edge_id=edge-b"));
    CHECK(!started.log.contains("event=batch_malformed"));
    CHECK(*started.store.root(sm::treeKey(test::kSupplier, known.header.sessionId)) ==
          referenceRoot(relaysOf(known, 0, kRelays)));
  }

  TEST_CASE("accepted relays are durable, in their (supplier, session) tree, and acked") {
    Harness h;
    auto session = test::makeSession(0);
    auto relays = relaysOf(session, 0, 3);
    auto acks = h.deliver(1, relays);
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].throughSeq == 3);
    CHECK(acks[0].rejected.empty());
    CHECK(acks[0].accepted == 3);
    CHECK(acks[0].peer == "peer-edge-1");
    std::string tree = sm::treeKey(test::kSupplier, session.header.sessionId);
    REQUIRE(h.store->root(tree));
    CHECK(*h.store->root(tree) == referenceRoot(relays));
    CHECK(h.store->highWater({"edge-1", 7}) == 3);
    auto summaries = h.store->summaries();
    REQUIRE(summaries.size() == 1);
    CHECK(summaries[0].relays == 3);
    CHECK(summaries[0].computeUnits == 21);
    CHECK(h.counter("sm_relays_accepted_total") == 3);
    CHECK(h.log.contains("event=tree_created"));
  }

  TEST_CASE("every failed check rejects its relay with a named reason and changes nothing") {
    Harness h;
    auto good = test::makeSession(0);
    // Sessions the chain knows besides the good one.
    auto foreign = test::makeSession(1);
    foreign.supplierOperatorAddresses = {"pokt1someoneelse"};
    auto hard = test::makeSession(2);
    hard.difficultyTarget = util::Bytes(32, 0x00);
    auto early = test::makeSession(3);
    early.header.sessionStartBlockHeight = 1;
    early.header.sessionEndBlockHeight = 10;  // claim window opens at 12 (genesis params)
    h.chain.sessions = {good, foreign, hard, early};
    auto unknown = test::makeSession(4);  // not on the chain

    std::vector<TestRelay> batch;
    std::vector<std::string> expected;
    auto add = [&](TestRelay r, std::string_view reason) {
      batch.push_back(std::move(r));
      expected.emplace_back(reason);
    };
    TestRelay r = test::makeRelay(1, good);
    r.relayHash[0] ^= 1;
    add(r, sm::kRejectRelayHashMismatch);
    r = test::makeRelay(2, good);
    r.relayBytes = {0xff, 0xff, 0xff};
    r.relayHash = [&] { auto x = crypto::sha256(r.relayBytes); return util::Bytes(x.begin(), x.end()); }();
    add(r, sm::kRejectRelayMalformed);
    r = test::makeRelay(3, good);
    r.header.sessionEndBlockHeight += 1;  // the message says otherwise than the relay
    add(r, sm::kRejectSessionHeaderMismatch);
    r = test::makeRelay(4, good);
    r.supplier = "pokt1other";
    add(r, sm::kRejectSupplierMismatch);
    add(test::makeRelay(5, good, "pokt1stranger"), sm::kRejectSupplierNotOurs);
    add(test::makeRelay(6, unknown), sm::kRejectSessionUnknown);
    auto forged = good;
    forged.header.sessionId = std::string(64, 'z');  // not the chain's id for that session
    add(test::makeRelay(7, forged), sm::kRejectSessionHeaderMismatch);
    add(test::makeRelay(8, foreign), sm::kRejectSupplierNotInSession);
    add(test::makeRelay(9, hard), sm::kRejectDifficulty);
    r = test::makeRelay(10, good);
    r.computeUnits = 8;
    add(r, sm::kRejectComputeUnits);
    add(test::makeRelay(11, early), sm::kRejectClaimWindowOpen);

    auto acks = h.deliver(1, batch);
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].throughSeq == batch.size());
    CHECK(acks[0].accepted == 0);
    REQUIRE(acks[0].rejected.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      CAPTURE(i);
      CHECK(acks[0].rejected[i].first == i + 1);
      CHECK(acks[0].rejected[i].second == expected[i]);
    }
    CHECK(h.store->summaries().empty());
    CHECK(h.counter("sm_relays_rejected_total{reason=\"difficulty_not_met\"}") == 1);
    CHECK(h.counter("sm_relays_rejected_total{reason=\"session_header_mismatch\"}") == 2);
    CHECK(h.log.contains("event=relay_rejected"));
    CHECK(h.log.contains("reason=claim_window_open"));
  }

  TEST_CASE("a flushed tree takes no more relays: its claim root stays fixed") {
    Harness h;
    auto session = test::makeSession(0);
    auto relays = relaysOf(session, 0, 3);
    h.deliver(1, {relays[0], relays[1]});
    std::string tree = sm::treeKey(test::kSupplier, session.header.sessionId);
    // The claim lifecycle flushes on the ingest thread, in order with the batches.
    util::Result<smst::Digest> flushed = util::makeError("not_run", "");
    h.ingest->post([&] { flushed = h.store->flushTree(tree); });
    h.ingest->runOnce();
    REQUIRE(flushed.ok());
    auto acks = h.deliver(3, {relays[2]});
    REQUIRE(acks.size() == 1);
    REQUIRE(acks[0].rejected.size() == 1);
    CHECK(acks[0].rejected[0].second == sm::kRejectTreeFlushed);
    CHECK(*h.store->root(tree) == *flushed);
    CHECK(*flushed == referenceRoot({relays[0], relays[1]}));
    CHECK(h.counter("sm_relays_rejected_total{reason=\"tree_flushed\"}") == 1);
  }

  TEST_CASE("duplicates by sequence number or by relay hash are acked and change nothing") {
    Harness h;
    auto session = test::makeSession(0);
    auto relays = relaysOf(session, 0, 4);
    h.deliver(1, relays);
    std::string tree = sm::treeKey(test::kSupplier, session.header.sessionId);
    auto root = *h.store->root(tree);

    auto again = h.deliver(1, relays);  // a replay after a lost ack
    REQUIRE(again.size() == 1);
    CHECK(again[0].throughSeq == 4);
    CHECK(again[0].duplicates == 4);
    CHECK(*h.store->root(tree) == root);

    // The same relays under new sequence numbers (another spool, or a re-mined copy).
    auto other = h.deliver(1, relays, {"edge-2", 1});
    REQUIRE(other.size() == 1);
    CHECK(other[0].throughSeq == 4);
    CHECK(other[0].duplicates == 4);
    CHECK(other[0].accepted == 0);
    CHECK(*h.store->root(tree) == root);
    CHECK(h.store->summaries()[0].relays == 4);

    // Two copies of one relay inside one batch: the second is a duplicate.
    auto fresh = test::makeRelay(100, session);
    auto inOne = h.deliver(5, {fresh, fresh});
    REQUIRE(inOne.size() == 1);
    CHECK(inOne[0].accepted == 1);
    CHECK(inOne[0].duplicates == 1);
    CHECK(h.counter("sm_relays_duplicate_total{kind=\"relay_hash\"}") == 5);
    CHECK(h.counter("sm_relays_duplicate_total{kind=\"sequence\"}") == 4);
  }

  TEST_CASE("batches of several edges queued together share one synced write") {
    Harness h;
    auto session = test::makeSession(0);
    for (int e = 0; e < 3; ++e) {
      sm::IngestBatch batch;
      batch.peer = "p" + std::to_string(e);
      batch.edge = {"edge-" + std::to_string(e), 1};
      batch.frame = test::batchFrame(1, relaysOf(session, e * 10, 5));
      h.ingest->submit(std::move(batch));
    }
    h.acks.clear();
    CHECK(h.ingest->runOnce() == 3);
    CHECK(h.acks.size() == 3);
    CHECK(h.counter("sm_store_group_commits_total") == 1);
    CHECK(h.counter("sm_store_relays_written_total") == 15);
  }

  TEST_CASE("a gap or an unavailable chain leaves the batch unacked until it is resent") {
    Harness h;
    auto session = test::makeSession(0);
    CHECK(h.deliver(5, relaysOf(session, 0, 2)).empty());  // 1..4 never arrived
    CHECK(h.log.contains("event=batch_gap"));
    // ...unless the edge's hello said it holds nothing below 5.
    CHECK(h.deliver(5, relaysOf(session, 0, 2), {"edge-1", 7}, 4).size() == 1);

    {
      std::lock_guard lock(h.chain.mutex);
      h.chain.available = false;
    }
    auto otherSession = test::makeSession(1);
    h.chain.sessions.push_back(otherSession);
    CHECK(h.deliver(7, relaysOf(otherSession, 0, 2)).empty());
    CHECK(h.log.contains("event=batch_deferred"));
    CHECK(h.store->highWater({"edge-1", 7}) == 6);
    {
      std::lock_guard lock(h.chain.mutex);
      h.chain.available = true;
    }
    auto acks = h.deliver(7, relaysOf(otherSession, 0, 2));
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].accepted == 2);
    CHECK(h.counter("sm_batches_total{outcome=\"batch_deferred\"}") == 1);
    CHECK(h.counter("sm_batches_total{outcome=\"batch_gap\"}") == 1);
  }

  TEST_CASE("a malformed batch is dropped unacked and counted") {
    Harness h;
    capnp::MallocMessageBuilder builder;
    builder.initRoot<pocket::link::EdgeMessage>().initMinedRelays().setFirstSeq(0);
    sm::IngestBatch batch;
    batch.edge = {"edge-1", 7};
    batch.frame = test::decoded(builder);
    h.ingest->submit(std::move(batch));
    h.acks.clear();
    h.ingest->runOnce();
    CHECK(h.acks.empty());
    CHECK(h.log.contains("event=batch_malformed"));
  }

  TEST_CASE("a restart, with or without committed trees, gives exactly the same roots") {
    Harness h;
    TwoTrees two(h);
    const auto& s0 = two.s0;
    const std::string& t0 = two.t0;
    const std::string& t1 = two.t1;
    const auto& all0 = two.all0;
    const auto& all1 = two.all1;
    std::uint64_t& seq = two.seq;
    auto push = [&](int from) { two.push(from); };

    push(0);
    h.reopen();  // nothing committed: everything replays from the journal
    CHECK(*h.store->root(t0) == referenceRoot(all0));
    CHECK(*h.store->root(t1) == referenceRoot(all1));
    CHECK(h.store->highWater({"edge-1", 7}) == seq - 1);

    CHECK(h.store->commitTrees() == 2);
    push(100);  // after the commit: replayed on top of the committed root
    h.reopen();
    CHECK(*h.store->root(t0) == referenceRoot(all0));
    CHECK(*h.store->root(t1) == referenceRoot(all1));
    auto summaries = h.store->summaries();
    REQUIRE(summaries.size() == 2);
    CHECK(summaries[0].relays + summaries[1].relays == 60);

    // The dedup index survived: the same relays again change nothing.
    auto again = h.deliver(seq, relaysOf(s0, 0, 5));
    REQUIRE(again.size() == 1);
    CHECK(again[0].duplicates == 5);
    CHECK(*h.store->root(t0) == referenceRoot(all0));
    CHECK(h.log.contains("event=store_opened"));
  }

  TEST_CASE("relay records a durable tree commit holds leave the journal; nothing is lost") {
    Harness h;
    TwoTrees two(h);
    const auto& s0 = two.s0;
    const std::string& t0 = two.t0;
    const std::string& t1 = two.t1;
    auto& all0 = two.all0;
    const auto& all1 = two.all1;
    std::uint64_t& seq = two.seq;
    two.push(0);  // two group commits: two relay records per tree
    two.push(100);
    CHECK(h.store->commitTrees() == 2);
    // Flushing t1 waits until every queued commit is durable, t0's included.
    REQUIRE(h.store->flushTree(t1).ok());
    auto more = relaysOf(s0, 200, 5);
    REQUIRE(h.deliver(seq, more).size() == 1);
    seq += more.size();
    all0.insert(all0.end(), more.begin(), more.end());
    CHECK(h.counter("sm_store_journal_records_pruned_total") == 0);
    CHECK(h.store->commitTrees() == 1);
    CHECK(h.counter("sm_store_journal_records_pruned_total") == 4);

    // A restart finds the pruned relays in the trees, the rest in the journal.
    h.reopen();
    CHECK(*h.store->root(t0) == referenceRoot(all0));
    CHECK(*h.store->root(t1) == referenceRoot(all1));
    CHECK(h.store->isFlushed(t1));
    // The dedup index still knows the pruned relays.
    auto again = h.deliver(seq, relaysOf(s0, 0, 5));
    REQUIRE(again.size() == 1);
    CHECK(again[0].duplicates == 5);
    CHECK(again[0].accepted == 0);
    CHECK(*h.store->root(t0) == referenceRoot(all0));
  }

  TEST_CASE("relays stay in the journal's WAL files until durable tree commits hold them; a "
            "restart replays the rest from them") {
    Harness h;
    h.storeOptions.walSwitchBytes = 1;  // a new WAL file after every group commit
    h.reopen();
    TwoTrees two(h);
    auto& all0 = two.all0;
    std::uint64_t& seq = two.seq;
    // WAL files with something in them in `dir` (RocksDB may move one while it is counted).
    auto walFiles = [](const std::filesystem::path& dir) {
      std::size_t n = 0;
      std::error_code ec;
      for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
           it.increment(ec)) {
        std::error_code sizeError;
        std::uintmax_t size = it->file_size(sizeError);
        n += it->path().extension() == ".log" && !sizeError && size > 0 ? 1 : 0;
      }
      return n;
    };
    auto archived = [&] { return walFiles(h.dir / "store/journal/archive"); };
    two.push(0);
    two.push(100);
    // Once the journal's flushes are done, the WAL files behind are archived, not deleted: no
    // tree commit holds their relays yet.
    REQUIRE(pocket::testing::waitFor([&] { return archived() >= 2; }, "two archived WAL files"));
    CHECK(h.store->commitTrees() == 2);
    REQUIRE(h.store->flushTree(two.t1).ok());  // waits until every queued commit is durable
    CHECK(h.counter("sm_store_wal_files_deleted_total") == 0);
    std::size_t before = archived();
    h.store->commitTrees();  // both trees' relays are in durable commits now
    CHECK(h.counter("sm_store_wal_files_deleted_total") == before);
    CHECK(archived() == 0);

    // One batch of the first session's relays [from, from + count).
    auto deliver0 = [&](int from, int count) {
      auto relays = relaysOf(two.s0, from, count);
      REQUIRE(h.deliver(seq, relays).size() == 1);
      seq += relays.size();
      all0.insert(all0.end(), relays.begin(), relays.end());
    };
    // A file whose relays no durable commit holds stays.
    deliver0(200, 5);
    REQUIRE(pocket::testing::waitFor([&] { return archived() >= 1; }, "an archived WAL file"));
    h.store->commitTrees();  // its prune runs before this commit is durable
    CHECK(archived() == 1);
    // Relays no commit holds, their WAL file archived: a restart replays them from it.
    deliver0(300, 3);
    REQUIRE(pocket::testing::waitFor([&] { return archived() >= 2; }, "two archived WAL files"));
    h.reopen();
    CHECK(h.log.contains("relays_replayed=3"));
    CHECK(*h.store->root(two.t0) == referenceRoot(all0));
    CHECK(*h.store->root(two.t1) == referenceRoot(two.all1));
    auto summaries = h.store->summaries();
    REQUIRE(summaries.size() == 2);
    CHECK(summaries[0].relays + summaries[1].relays == 68);

    // Without the WAL files that hold relays no commit holds, the store refuses to open rather
    // than lose them.
    h.reopen();  // the last commit is durable now: only newer relays would need a file
    std::size_t had = archived();
    deliver0(400, 4);
    // Once the journal's flush is done, no live WAL file holds anything: that write's is archived.
    REQUIRE(pocket::testing::waitFor([&] { return walFiles(h.dir / "store/journal") == 0; },
                                      "the journal's flush"));
    h.close();
    REQUIRE(archived() > had);
    for (const auto& e : std::filesystem::directory_iterator(h.dir / "store/journal/archive")) {
      std::filesystem::remove(e.path());
    }
    util::MetricsRegistry metrics;
    std::string error;
    try {
      sm::SessionStore store(h.dir / "store", h.log.sink(), metrics);
    } catch (const smst::StoreError& e) {
      error = e.what();
    }
    CHECK(error.find("relay hashes") != std::string::npos);
    CHECK(error.find(two.t0) != std::string::npos);
  }

  TEST_CASE("a store written when relays were records in the journal's tables opens with the "
            "same roots and lets those records go once a durable commit holds them") {
    Harness h;
    auto session = test::makeSession(0);
    std::string tree = sm::treeKey(test::kSupplier, session.header.sessionId);
    std::string recordKey = "r" + tree + std::string(1, '\0') + std::string(8, '\0');
    auto first = relaysOf(session, 0, 6);
    REQUIRE(h.deliver(1, first).size() == 1);
    h.close();
    {
      // The same relays as that older layout kept them: a relay record `r‹tree›\0‹index›`, and
      // no WAL left (a flush, then a journal opened without archiving drops the WAL files).
      std::string record;
      for (const auto& r : first) {
        record.append(reinterpret_cast<const char*>(r.relayHash.data()), r.relayHash.size());
        std::uint8_t be[12];
        smst::writeBE64(be, r.computeUnits);
        auto size = static_cast<std::uint32_t>(r.relayBytes.size());
        for (int i = 0; i < 4; ++i) be[8 + i] = static_cast<std::uint8_t>(size >> (24 - 8 * i));
        record.append(reinterpret_cast<const char*>(be), sizeof be);
        record.append(reinterpret_cast<const char*>(r.relayBytes.data()), r.relayBytes.size());
      }
      rocksdb::DB* raw = nullptr;
      REQUIRE(rocksdb::DB::Open(rocksdb::Options(), h.dir / "store/journal", &raw).ok());
      std::unique_ptr<rocksdb::DB> db(raw);
      REQUIRE(db->Put(rocksdb::WriteOptions(), recordKey, record).ok());
      REQUIRE(db->Flush(rocksdb::FlushOptions()).ok());
    }
    std::error_code ec;
    std::filesystem::remove_all(h.dir / "store/journal/archive", ec);
    h.open();
    CHECK(h.log.contains("relays_replayed=6"));
    CHECK(*h.store->root(tree) == referenceRoot(first));
    // New relays go to the WAL, after the record; a restart reads both.
    auto more = relaysOf(session, 100, 4);
    REQUIRE(h.deliver(7, more).size() == 1);
    auto all = first;
    all.insert(all.end(), more.begin(), more.end());
    h.reopen();
    CHECK(*h.store->root(tree) == referenceRoot(all));
    // Once a durable commit holds its relays, the record goes.
    h.store->commitTrees();
    REQUIRE(h.store->flushTree(tree).ok());  // waits until the commit is durable
    h.store->commitTrees();
    CHECK(h.counter("sm_store_journal_records_pruned_total") == 2);
    h.close();
    {
      rocksdb::DB* raw = nullptr;
      REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), h.dir / "store/journal", &raw).ok());
      std::unique_ptr<rocksdb::DB> db(raw);
      std::string value;
      CHECK(db->Get(rocksdb::ReadOptions(), recordKey, &value).IsNotFound());
    }
    h.open();
    CHECK(*h.store->root(tree) == referenceRoot(all));
  }

  TEST_CASE("a removal that a crash interrupted is finished by the restart") {
    Harness h;
    auto session = test::makeSession(0);
    h.deliver(1, relaysOf(session, 0, 3));
    h.store->commitTrees();
    std::string tree = sm::treeKey(test::kSupplier, session.header.sessionId);
    h.close();
    {
      // What removeTree() makes durable before it drops the tree's nodes.
      rocksdb::DB* raw = nullptr;
      REQUIRE(rocksdb::DB::Open(rocksdb::Options(), h.dir / "store/journal", &raw)
                  .ok());
      std::unique_ptr<rocksdb::DB> db(raw);
      REQUIRE(db->Delete(rocksdb::WriteOptions(), "m" + tree).ok());
      REQUIRE(db->Put(rocksdb::WriteOptions(), "x" + tree, "").ok());
    }
    h.open();
    CHECK(!h.store->root(tree));
    CHECK(h.store->summaries().empty());
    CHECK(h.log.contains("finishing a removal that a stop interrupted"));
    // Nothing of it is left: the same relays make a new tree from scratch.
    auto acks = h.deliver(1, relaysOf(session, 0, 3), {"edge-2", 1});
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].accepted == 3);
    CHECK(*h.store->root(tree) == referenceRoot(relaysOf(session, 0, 3)));
    h.reopen();
    CHECK(*h.store->root(tree) == referenceRoot(relaysOf(session, 0, 3)));
    CHECK(!h.log.contains("event=store_failed"));
  }

  TEST_CASE("trees past their proof window are removed from disk") {
    Harness h;
    auto session = test::makeSession(0);
    h.deliver(1, relaysOf(session, 0, 3));
    h.store->commitTrees();
    std::string tree = sm::treeKey(test::kSupplier, session.header.sessionId);
    auto summaries = h.store->summaries();
    REQUIRE(summaries.size() == 1);
    std::int64_t close = summaries[0].info.proofWindowClose;
    CHECK(close == 30);  // genesis params: end 20 + 1 + 1 + 4 + 0 + 4
    h.ingest->expireBefore(close);  // still inside the window
    h.ingest->runOnce();
    CHECK(h.store->root(tree));
    h.ingest->expireBefore(close + 1);
    h.ingest->runOnce();
    CHECK(!h.store->root(tree));
    CHECK(h.log.contains("event=tree_removed"));
    h.reopen();
    CHECK(!h.store->root(tree));
    CHECK(h.store->summaries().empty());
    CHECK(h.store->highWater({"edge-1", 7}) == 3);
  }
}
