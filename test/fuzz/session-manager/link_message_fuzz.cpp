// Fuzz target: one frame from an edge, handled as the session manager handles it. The frame is
// decoded and classified like the link server does (hello, minedRelays, sessionQuery); a
// minedRelays batch goes through the whole ingest — every check, the journal write, the tree —
// against a static chain that knows one session. Nothing may crash, hang or leak; bad input is an
// ordinary error. The store lives in a temporary directory for the whole run.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "common/net/frame.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "edge_link.capnp.h"
#include "session-manager/ingest.h"
#include "session-manager/session_cache.h"
#include "session-manager/session_store.h"

namespace {

using namespace pocket;

// Knows one session of "pokt1app"/"svc" (blocks 11–20) with supplier "pokt1supplier".
class StaticChain final : public sm::ChainSource {
 public:
  util::Result<sm::ChainHead> latestHead() override {
    sm::ChainHead head;
    head.height = 15;
    head.sharedParams = protocol::SharedParams::genesisDefaults();
    return head;
  }
  util::Result<sm::SessionFacts> session(const std::string& app, const std::string& service,
                                         std::int64_t height) override {
    if (app != "pokt1app" || service != "svc" || height < 11 || height > 20) {
      return util::makeError(std::string(sm::kChainNotFound), "no such session");
    }
    sm::SessionFacts facts;
    facts.header = {"pokt1app", "svc", std::string(64, 'a'), 11, 20};
    facts.supplierOperatorAddresses = {"pokt1supplier"};
    facts.computeUnitsPerRelay = 1;
    facts.difficultyTarget = util::Bytes(32, 0xff);
    facts.startParams = facts.windowParams = protocol::SharedParams::genesisDefaults();
    return facts;
  }
};

struct World {
  World() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sm-link-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir = pattern;
    devnull = std::fopen("/dev/null", "w");
    log = std::make_unique<util::LogSink>(devnull, util::LogLevel::error);
    store = std::make_unique<sm::SessionStore>(dir + "/store", *log, metrics);
    cache = std::make_unique<sm::SessionCache>(chain, *log, metrics);
    sm::IngestOptions options;
    options.suppliers = {"pokt1supplier"};
    ingest = std::make_unique<sm::Ingest>(
        options, *store, *cache, [] { return std::int64_t{15}; }, [](sm::IngestOutcome) {}, *log,
        metrics);
  }
  ~World() {
    ingest.reset();
    cache.reset();
    store.reset();
    log.reset();
    std::fclose(devnull);
    std::filesystem::remove_all(dir);
  }
  std::string dir;
  std::FILE* devnull;
  std::unique_ptr<util::LogSink> log;
  util::MetricsRegistry metrics;
  StaticChain chain;
  std::unique_ptr<sm::SessionStore> store;
  std::unique_ptr<sm::SessionCache> cache;
  std::unique_ptr<sm::Ingest> ingest;
  std::uint64_t spool = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  auto decoded = net::decodeFrame(util::ByteSpan(data, size));
  if (!decoded.ok()) return 0;
  bool batch = false;
  auto status = net::guardDecode([&]() -> util::Status {
    auto message = (*decoded)->root<link::EdgeMessage>();
    switch (message.which()) {
      case link::EdgeMessage::HELLO: {
        auto hello = message.getHello();
        (void)hello.getEdgeId().size();
        (void)hello.getVersion().size();
        return util::Ok{};
      }
      case link::EdgeMessage::MINED_RELAYS:
        batch = true;
        return util::Ok{};
      case link::EdgeMessage::SESSION_QUERY: {
        auto query = message.getSessionQuery();
        (void)query.getApplicationAddress().size();
        (void)query.getServiceId().size();
        return util::Ok{};
      }
    }
    return util::makeError("unknown_message", "edge message of an unknown kind");
  });
  if (!status.ok() || !batch) return 0;
  sm::IngestBatch ingestBatch;
  ingestBatch.peer = "fuzz";
  ingestBatch.edge = {"fuzz-edge", ++world.spool};  // a fresh series: every batch is processed
  ingestBatch.resumeFloor = UINT64_MAX - 1;
  ingestBatch.frame = std::move(*decoded);
  world.ingest->submit(std::move(ingestBatch));
  world.ingest->runOnce();
  return 0;
}
