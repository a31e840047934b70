// The delivery spool, broken on purpose in the manner of LevelDB's log and fault-injection tests:
// torn tails, flipped bits, truncation at every offset of the last record, a full disk budget.

#include "edge/link/spool.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <doctest.h>

#include "test/link/test_support.h"
#include "test/support/process.h"

using pocket::edge::FsyncPolicy;
using pocket::edge::MinedRelay;
using pocket::edge::Spool;
using pocket::edge::SpoolOptions;
using pocket::test::CapturedLog;
using pocket::test::makeRelay;
using pocket::testing::TempDir;

namespace {

SpoolOptions options(const TempDir& dir, std::uint64_t maxBytes = 1u << 20,
                     std::uint64_t segmentBytes = 64u << 10) {
  SpoolOptions o;
  o.directory = dir / "spool";
  o.maxBytes = maxBytes;
  o.segmentBytes = segmentBytes;
  return o;
}

// Every record the spool would send now, decoded.
std::vector<std::pair<std::uint64_t, MinedRelay>> readAll(Spool& spool) {
  spool.sync();
  std::vector<std::pair<std::uint64_t, MinedRelay>> out;
  for (auto& record : spool.read(1, 1u << 20, 1u << 30)) {
    auto relay = pocket::edge::decodeMinedRelay(record.payload);
    REQUIRE(relay.ok());
    out.emplace_back(record.seq, *relay);
  }
  return out;
}

std::vector<std::filesystem::path> segmentFiles(const TempDir& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "spool")) {
    if (entry.path().extension() == ".seg") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void appendN(Spool& spool, std::uint64_t from, std::uint64_t to, std::size_t size = 64) {
  for (std::uint64_t i = from; i <= to; ++i) {
    auto seq = spool.append(makeRelay(i, size));
    REQUIRE(seq.ok());
    REQUIRE(*seq == i);
  }
}

}  // namespace

TEST_SUITE("spool") {
  TEST_CASE("records come back in order, with the same content, after a reopen") {
    TempDir dir;
    CapturedLog log;
    std::uint64_t id = 0;
    {
      Spool spool(options(dir), log.sink());
      id = spool.spoolId();
      CHECK(id != 0);
      appendN(spool, 1, 100);
      auto records = readAll(spool);
      REQUIRE(records.size() == 100);
      CHECK(records[41].first == 42);
      CHECK(records[41].second == makeRelay(42));
    }
    Spool reopened(options(dir), log.sink());
    CHECK(reopened.spoolId() == id);
    CHECK(reopened.lastSeq() == 100);
    CHECK(reopened.unackedCount() == 100);
    auto records = readAll(reopened);
    REQUIRE(records.size() == 100);
    CHECK(records[99].second == makeRelay(100));
    auto next = reopened.append(makeRelay(101));
    REQUIRE(next.ok());
    CHECK(*next == 101);
  }

  TEST_CASE("a new spool directory gets a new spool id") {
    TempDir a, b;
    CapturedLog log;
    Spool first(options(a), log.sink());
    Spool second(options(b), log.sink());
    CHECK(first.spoolId() != second.spoolId());
  }

  TEST_CASE("read honours fromSeq, the record limit and the byte limit") {
    TempDir dir;
    CapturedLog log;
    Spool spool(options(dir), log.sink());
    appendN(spool, 1, 20, 200);
    spool.sync();
    auto some = spool.read(5, 3, 1u << 20);
    REQUIRE(some.size() == 3);
    CHECK(some[0].seq == 5);
    CHECK(some[2].seq == 7);
    auto byBytes = spool.read(1, 100, 500);  // a record is ~300 bytes: two fit the budget
    CHECK(byBytes.size() == 2);
    auto atLeastOne = spool.read(1, 100, 1);
    CHECK(atLeastOne.size() == 1);
    CHECK(spool.read(21, 10, 1u << 20).empty());
  }

  TEST_CASE("with fsync per batch, read returns only what sync made durable") {
    TempDir dir;
    CapturedLog log;
    Spool spool(options(dir), log.sink());
    appendN(spool, 1, 3);
    CHECK(spool.read(1, 10, 1u << 20).empty());
    CHECK(spool.sync() == 3);
    appendN(spool, 4, 5);
    CHECK(spool.read(1, 10, 1u << 20).size() == 3);
    spool.sync();
    CHECK(spool.read(1, 10, 1u << 20).size() == 5);
  }

  TEST_CASE("without fsync, read returns everything written") {
    TempDir dir;
    CapturedLog log;
    auto o = options(dir);
    o.fsync = FsyncPolicy::never;
    Spool spool(o, log.sink());
    appendN(spool, 1, 3);
    CHECK(spool.read(1, 10, 1u << 20).size() == 3);
  }

  TEST_CASE("a torn last record is cut off at every possible offset, never fatal") {
    TempDir dir;
    CapturedLog log;
    std::uint64_t sizeBefore = 0;
    std::uint64_t sizeAfter = 0;
    {
      Spool spool(options(dir), log.sink());
      appendN(spool, 1, 4);
      sizeBefore = std::filesystem::file_size(segmentFiles(dir).at(0));
      appendN(spool, 5, 5, 300);
      sizeAfter = std::filesystem::file_size(segmentFiles(dir).at(0));
    }
    auto segment = segmentFiles(dir).at(0);
    std::vector<char> full(sizeAfter);
    {
      std::ifstream in(segment, std::ios::binary);
      in.read(full.data(), static_cast<std::streamsize>(full.size()));
    }
    // Every length that ends inside the last record: header torn, payload torn.
    for (std::uint64_t cut = sizeBefore + 1; cut < sizeAfter; ++cut) {
      CAPTURE(cut);
      {
        std::ofstream out(segment, std::ios::binary | std::ios::trunc);
        out.write(full.data(), static_cast<std::streamsize>(cut));
      }
      CapturedLog reopenLog;
      Spool spool(options(dir), reopenLog.sink());
      CHECK(spool.lastSeq() == 4);
      CHECK(spool.truncatedBytesTotal() == cut - sizeBefore);
      CHECK(reopenLog.contains("event=spool_truncated"));
      CHECK(std::filesystem::file_size(segment) == sizeBefore);
      auto records = readAll(spool);
      REQUIRE(records.size() == 4);
      CHECK(records[3].second == makeRelay(4));
      // The sequence number of the lost record is given to the next append.
      auto seq = spool.append(makeRelay(5, 300));
      REQUIRE(seq.ok());
      CHECK(*seq == 5);
    }
  }

  TEST_CASE("a flipped bit stops recovery at the last good record") {
    TempDir dir;
    CapturedLog log;
    {
      Spool spool(options(dir), log.sink());
      appendN(spool, 1, 10);
    }
    auto segment = segmentFiles(dir).at(0);
    std::uint64_t recordSize = std::filesystem::file_size(segment) / 10;  // equal-sized relays
    {
      std::fstream f(segment, std::ios::binary | std::ios::in | std::ios::out);
      f.seekp(static_cast<std::streamoff>(recordSize * 6 + 30));  // inside record 7's payload
      char c = 0;
      f.seekg(f.tellp());
      f.get(c);
      f.seekp(static_cast<std::streamoff>(recordSize * 6 + 30));
      f.put(static_cast<char>(c ^ 0x10));
    }
    CapturedLog reopenLog;
    Spool spool(options(dir), reopenLog.sink());
    CHECK(spool.lastSeq() == 6);
    CHECK(reopenLog.contains("reason=\"checksum mismatch\""));
    CHECK(readAll(spool).size() == 6);
  }

  TEST_CASE("a record whose length field is garbage is treated as corruption") {
    TempDir dir;
    CapturedLog log;
    {
      Spool spool(options(dir), log.sink());
      appendN(spool, 1, 3);
    }
    auto segment = segmentFiles(dir).at(0);
    {
      std::ofstream out(segment, std::ios::binary | std::ios::app);
      const char junk[] = "\x01\x02\x03\x04\xff\xff\xff\x7f-not-a-record-at-all";
      out.write(junk, sizeof(junk) - 1);
    }
    Spool spool(options(dir), log.sink());
    CHECK(spool.lastSeq() == 3);
    CHECK(log.contains("reason=\"record length out of range\""));
  }

  TEST_CASE("segments rotate and are deleted once every record in them is acked") {
    TempDir dir;
    CapturedLog log;
    Spool spool(options(dir, 1u << 20, 2048), log.sink());
    appendN(spool, 1, 60, 200);  // ~300 bytes a record: 6 per segment
    auto before = segmentFiles(dir);
    CHECK(before.size() > 4);
    CHECK(spool.segmentCount() == before.size());
    std::uint64_t used = spool.usedBytes();
    spool.ack(31);
    CHECK(spool.ackedThrough() == 31);
    CHECK(spool.unackedCount() == 29);
    auto after = segmentFiles(dir);
    CHECK(after.size() < before.size());
    CHECK(spool.segmentCount() == after.size());
    // The first remaining segment still holds seq 32; every deleted one ended at or before 31.
    auto firstSeqOf = [](const std::filesystem::path& p) {
      return std::stoull(p.filename().string().substr(0, 20));
    };
    CHECK(firstSeqOf(after.front()) <= 32);
    CHECK(firstSeqOf(after.front()) > firstSeqOf(before.front()));
    CHECK(spool.usedBytes() < used);
    spool.sync();
    auto records = spool.read(1, 1000, 1u << 20);
    REQUIRE(!records.empty());
    CHECK(records.front().seq == 32);
    CHECK(records.back().seq == 60);
  }

  TEST_CASE("the ack point and the sequence survive a reopen") {
    TempDir dir;
    CapturedLog log;
    {
      Spool spool(options(dir), log.sink());
      appendN(spool, 1, 10);
      spool.ack(7);
      spool.ack(3);  // stale acks are ignored
      CHECK(spool.ackedThrough() == 7);
    }
    {
      Spool spool(options(dir), log.sink());
      CHECK(spool.ackedThrough() == 7);
      CHECK(spool.unackedCount() == 3);
      auto records = readAll(spool);
      REQUIRE(records.size() == 3);
      CHECK(records[0].first == 8);
      spool.ack(100);  // clamped to what was written
      CHECK(spool.ackedThrough() == 10);
    }
    Spool spool(options(dir), log.sink());
    CHECK(readAll(spool).empty());
    auto seq = spool.append(makeRelay(11));
    REQUIRE(seq.ok());
    CHECK(*seq == 11);
  }

  TEST_CASE("acks within the persist interval rewrite ACKED once; closing writes the last") {
    TempDir dir;
    CapturedLog log;
    auto opts = options(dir);
    opts.ackPersistInterval = std::chrono::hours(1);
    auto ackedOnDisk = [&] {
      std::ifstream in(dir / "spool/ACKED");
      std::uint64_t v = 0;
      in >> v;
      return v;
    };
    {
      Spool spool(opts, log.sink());
      appendN(spool, 1, 20);
      spool.ack(5);  // the first ack is written at once
      CHECK(ackedOnDisk() == 5);
      spool.ack(9);
      spool.ack(12);  // within the interval: memory only
      CHECK(spool.ackedThrough() == 12);
      CHECK(ackedOnDisk() == 5);
    }
    CHECK(ackedOnDisk() == 12);  // written when the spool closed
    Spool spool(opts, log.sink());
    CHECK(spool.ackedThrough() == 12);
    auto records = readAll(spool);
    REQUIRE(records.size() == 8);
    CHECK(records.front().first == 13);
  }

  TEST_CASE("a full spool refuses appends with spool_full and changes nothing") {
    TempDir dir;
    CapturedLog log;
    Spool spool(options(dir, 8192, 2048), log.sink());
    std::uint64_t accepted = 0;
    pocket::util::Error error;
    for (std::uint64_t i = 1; i < 1000; ++i) {
      auto seq = spool.append(makeRelay(i, 200));
      if (!seq.ok()) {
        error = seq.error();
        break;
      }
      accepted = *seq;
    }
    CHECK(error.code == pocket::edge::kErrSpoolFull);
    CHECK(accepted > 10);
    CHECK(spool.lastSeq() == accepted);
    CHECK(spool.rejectedFullTotal() == 1);
    CHECK(spool.usedBytes() <= 8192);
    CHECK(spool.nearFull());
    CHECK(log.contains("event=spool_near_full"));
    CHECK(log.contains("event=spool_full"));
    // Acks free whole segments, and appends are accepted again.
    spool.ack(accepted);
    CHECK_FALSE(spool.nearFull());
    auto seq = spool.append(makeRelay(accepted + 1, 200));
    REQUIRE(seq.ok());
    CHECK(*seq == accepted + 1);
    CHECK(log.contains("event=spool_accepting"));
  }

  TEST_CASE("a record above the size limit is refused") {
    TempDir dir;
    CapturedLog log;
    Spool spool(options(dir), log.sink());
    std::vector<std::uint8_t> huge(pocket::edge::kMaxSpoolRecordBytes + 1);
    auto seq = spool.appendEncoded(huge);
    REQUIRE_FALSE(seq.ok());
    CHECK(seq.error().code == pocket::edge::kErrRecordTooLarge);
    CHECK(spool.lastSeq() == 0);
  }

  TEST_CASE("files that are not segments are left alone; a garbage segment is emptied") {
    TempDir dir;
    CapturedLog log;
    std::filesystem::create_directories(dir / "spool");
    { std::ofstream(dir / "spool/notes.txt") << "operator notes"; }
    { std::ofstream(dir / "spool/00000000000000000001.seg") << "garbage that is no record"; }
    Spool spool(options(dir), log.sink());
    CHECK(spool.lastSeq() == 0);
    CHECK(std::filesystem::exists(dir / "spool/notes.txt"));
    auto seq = spool.append(makeRelay(1));
    REQUIRE(seq.ok());
    CHECK(*seq == 1);
  }

  TEST_CASE("appends from many threads get distinct consecutive sequence numbers") {
    TempDir dir;
    CapturedLog log;
    Spool spool(options(dir, 16u << 20, 256u << 10), log.sink());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&spool, t] {
        for (int i = 0; i < 300; ++i) {
          auto seq = spool.append(makeRelay(static_cast<std::uint64_t>(t * 1000 + i)));
          if (!seq.ok()) std::abort();
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(spool.lastSeq() == 1200);
    auto records = readAll(spool);
    REQUIRE(records.size() == 1200);
    std::set<std::string> bodies;
    for (std::size_t i = 0; i < records.size(); ++i) {
      CHECK(records[i].first == i + 1);
      bodies.insert(
          std::string(records[i].second.relayBytes.begin(), records[i].second.relayBytes.end()));
    }
    CHECK(bodies.size() == 1200);
  }

  TEST_CASE("bad options are refused at construction") {
    TempDir dir;
    CapturedLog log;
    SpoolOptions o = options(dir);
    o.segmentBytes = o.maxBytes + 1;
    CHECK_THROWS_AS(Spool(o, log.sink()), std::runtime_error);
    o = options(dir);
    o.directory.clear();
    CHECK_THROWS_AS(Spool(o, log.sink()), std::runtime_error);
  }
}
