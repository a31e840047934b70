// The journal reaper against a real RocksDB journal with archived WAL files on the local disk.
#include "session-manager/journal_reaper.h"

#include <doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/transaction_log.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/util/metrics.h"
#include "test/link/test_support.h"
#include "test/support/process.h"

namespace pocket::sm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A RocksDB database that archives its WAL files (as the store's journal does).
struct Journal {
  explicit Journal(const fs::path& dir) : dir(dir) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.WAL_ttl_seconds = std::uint64_t{100} * 365 * 24 * 3600;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.string(), &raw).ok());
    db.reset(raw);
  }
  // One write of `bytes` bytes, then a flush: its WAL file goes to the archive.
  void writeAndArchive(std::size_t bytes) {
    std::string key = "k" + std::to_string(writes++);
    REQUIRE(db->Put(rocksdb::WriteOptions(), key, std::string(bytes, 'x')).ok());
    rocksdb::FlushOptions flush;
    flush.wait = true;
    REQUIRE(db->Flush(flush).ok());
  }
  std::uint64_t latest() { return db->GetLatestSequenceNumber(); }
  fs::path dir;
  std::unique_ptr<rocksdb::DB> db;
  int writes = 0;
};

// Non-empty WAL files in `dir`, by name, with their sizes.
std::vector<std::pair<std::string, std::uintmax_t>> logFiles(const fs::path& dir) {
  std::vector<std::pair<std::string, std::uintmax_t>> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code sizeError;
    auto size = it->file_size(sizeError);
    if (it->path().extension() == ".log" && !sizeError && size > 0) {
      out.emplace_back(it->path().filename().string(), size);
    }
  }
  return out;
}

std::uint64_t counterValue(util::MetricsRegistry& metrics, const std::string& name) {
  std::string text = metrics.render();
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + name.size() + 2));
}

struct Setup {
  pocket::testing::TempDir tmp;
  fs::path archive = fs::path(tmp.path()) / "journal/archive";
  fs::path trash = fs::path(tmp.path()) / "trash";
  test::CapturedLog log;
  util::MetricsRegistry metrics;
  Journal journal{fs::path(tmp.path()) / "journal"};

  // One write in a WAL file of its own, archived: that file's name and size.
  std::pair<std::string, std::uintmax_t> archiveOne(std::size_t bytes) {
    auto before = logFiles(archive).size();
    journal.writeAndArchive(bytes);
    auto files = logFiles(archive);
    REQUIRE(files.size() == before + 1);
    std::sort(files.begin(), files.end());  // WAL file numbers: the newest last
    return files.back();
  }

  std::unique_ptr<JournalReaper> reaper(JournalReaperOptions options = {}) {
    return std::make_unique<JournalReaper>(*journal.db, archive.string(), trash.string(),
                                           log.sink(), metrics, options);
  }
};

TEST_CASE("the reaper takes out of the journal the archived WAL files below the sequence "
          "number asked for, keeps the rest, and gives their space back") {
  Setup s;
  s.archiveOne(100'000);
  std::uint64_t firstEnd = s.journal.latest() + 1;
  s.archiveOne(100'000);
  auto reaper = s.reaper();
  // Everything in the first file lies below `firstEnd`; the second holds `firstEnd` itself.
  reaper->release(firstEnd);
  reaper->waitForPass();
  auto left = logFiles(s.archive);
  REQUIRE(left.size() == 1);
  CHECK(counterValue(s.metrics, "sm_store_wal_files_deleted_total") == 1);
  // The journal still reads the file it kept.
  std::unique_ptr<rocksdb::TransactionLogIterator> it;
  CHECK(s.journal.db->GetUpdatesSince(firstEnd, &it).ok());
  REQUIRE(pocket::testing::waitFor([&] { return fs::is_empty(s.trash); }, "an empty trash"));
  CHECK(counterValue(s.metrics, "sm_store_reaper_errors_total") == 0);

  reaper->release(s.journal.latest() + 1);
  reaper->waitForPass();
  CHECK(logFiles(s.archive).empty());
  CHECK(counterValue(s.metrics, "sm_store_wal_files_deleted_total") == 2);
  REQUIRE(pocket::testing::waitFor([&] { return fs::is_empty(s.trash); }, "an empty trash"));
  CHECK(s.metrics.render().find("\nsm_store_trash_bytes 0\n") != std::string::npos);
}

TEST_CASE("a file's space comes back one chunk at a time; what a stop leaves in the trash goes "
          "at the next start") {
  Setup s;
  auto [name, size] = s.archiveOne(200'000);
  JournalReaperOptions slow;
  slow.chunkBytes = 65536;
  slow.pause = std::chrono::hours(1);  // one cut, then nothing until asked again or stopped
  auto reaper = s.reaper(slow);
  reaper->release(s.journal.latest() + 1);
  reaper->waitForPass();
  CHECK(logFiles(s.archive).empty());
  fs::path trashed = s.trash / name;
  std::string trashGauge = "\nsm_store_trash_bytes " + std::to_string(size - 65536) + "\n";
  REQUIRE(pocket::testing::waitFor(
      [&] {
        return s.metrics.render().find(trashGauge) != std::string::npos;
      },
      "the gauge after the first cut"));
  REQUIRE(fs::exists(trashed));
  CHECK(fs::file_size(trashed) == size - 65536);
  reaper.reset();  // stops during the pause
  CHECK(fs::file_size(trashed) == size - 65536);

  reaper = s.reaper();
  REQUIRE(pocket::testing::waitFor([&] { return !fs::exists(trashed); }, "the rest released"));
  CHECK(counterValue(s.metrics, "sm_store_reaper_errors_total") == 0);
}

TEST_CASE("a trash name whose file still has its archive name (a crash between the two) only "
          "loses the trash name") {
  Setup s;
  auto [name, size] = s.archiveOne(50'000);
  fs::create_directories(s.trash);
  fs::create_hard_link(s.archive / name, s.trash / name);
  auto reaper = s.reaper();
  REQUIRE(pocket::testing::waitFor([&] { return !fs::exists(s.trash / name); },
                                   "the trash name gone"));
  REQUIRE(fs::exists(s.archive / name));
  CHECK(fs::file_size(s.archive / name) == size);
  struct stat st {};
  REQUIRE(::stat((s.archive / name).c_str(), &st) == 0);
  CHECK(st.st_nlink == 1);
}

TEST_CASE("a file that cannot be moved to the trash stays in the journal, is logged and counted, "
          "and goes at a later pass") {
  Setup s;
  std::string name = s.archiveOne(50'000).first;
  auto reaper = s.reaper();
  reaper->release(0);  // nothing below 0: a pass once the reaper has looked at its trash
  reaper->waitForPass();
  fs::create_directories(s.trash / name);  // a directory where the trash name would go
  reaper->release(s.journal.latest() + 1);
  reaper->waitForPass();
  CHECK(logFiles(s.archive).size() == 1);
  CHECK(counterValue(s.metrics, "sm_store_wal_files_deleted_total") == 0);
  CHECK(counterValue(s.metrics, "sm_store_reaper_errors_total") == 1);
  CHECK(s.log.contains("event=journal_file_not_released"));
  CHECK(s.log.contains("step=link"));

  fs::remove(s.trash / name);
  reaper->release(s.journal.latest() + 1);
  reaper->waitForPass();
  CHECK(logFiles(s.archive).empty());
  CHECK(counterValue(s.metrics, "sm_store_wal_files_deleted_total") == 1);
}

}  // namespace
}  // namespace pocket::sm
