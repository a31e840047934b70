#pragma once
// JournalReaper: takes the journal's archived WAL files that durable tree commits no longer need
// out of the journal, and gives their disk space back, on a thread of its own (`sm-reaper`) and
// a few MiB at a time, so that deleting them never holds up an ack.
//
// Why: on a filesystem mounted with `discard` (common on cloud disks), unlinking a file frees its
// blocks and tells the device so inside the unlink call. Unlinking one 64 MiB WAL file took
// ~25 ms, on whichever thread called it (it was the ingest thread, holding a group's acks), and
// the device serves the journal's syncs behind such a request. So a file leaves the journal at
// once, but keeps its blocks under a second name in `trash/` (a hard link); the file is then cut
// down from its end, `chunkBytes` at a time with `pause` between two cuts, and unlinked when
// empty.
//
// Steps for one archived file: link it into trash/, sync trash/, delete the archive's name
// through RocksDB (which forgets what it cached about the file), sync the archive directory,
// then release. A file is cut only when the trash name is its only one (st_nlink == 1), so a
// crash at any point leaves every archived WAL file either whole in the archive or gone from
// it. At start, trash/ is released first: a name whose file is still in the archive (a crash
// between the steps) is only unlinked.
//
// Threading: release(), waitForPass() and the destructor from one thread (the store's ingest
// thread); the reaper's thread does every file and RocksDB call (the journal is thread-safe).
// The destructor stops the thread between two cuts; what is left in trash/ goes at the next
// start.
//
// Errors: a file that cannot be moved, cut or unlinked is logged (`journal_file_not_released`,
// with the step and the reason) and counted in sm_store_reaper_errors_total; the next pass tries
// again, and the store goes on (the file costs disk space, not data).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/util/log.h"
#include "common/util/metrics.h"

namespace rocksdb {
class DB;
}

namespace pocket::sm {

struct JournalReaperOptions {
  // Disk space given back per cut, and the pause between two cuts of the same file.
  std::size_t chunkBytes = std::size_t{4} << 20;
  std::chrono::milliseconds pause{10};
  // Nice value of the reaper's thread (threads.background_nice); unset: the process's.
  std::optional<int> nice;
};

class JournalReaper {
 public:
  // `journal` must outlive the reaper. `archiveDir` is the journal's archive directory,
  // `trashDir` a directory on the same filesystem (created if missing). Starts the thread.
  JournalReaper(rocksdb::DB& journal, std::string archiveDir, std::string trashDir,
                util::LogSink& log, util::MetricsRegistry& metrics,
                JournalReaperOptions options = {});
  ~JournalReaper();
  JournalReaper(const JournalReaper&) = delete;
  JournalReaper& operator=(const JournalReaper&) = delete;

  // Asks for a pass, without waiting for it: every archived WAL file whose sequence numbers all
  // lie below `needed` leaves the journal (and empty archived files go). The latest request
  // wins; a pass already running finishes first.
  void release(std::uint64_t needed);
  // Waits until a pass that started after the last release() has taken its files out of the
  // journal (their disk space may still be on its way back).
  void waitForPass();

 private:
  void run();
  void pass(std::uint64_t needed);
  void takeOut(const std::string& archivedName, std::uint64_t size);
  // One cut of the oldest file in trash/ (unlinked once empty); false when trash/ is empty.
  bool cutOne();
  void queueTrash();
  void failed(const std::string& file, std::string_view step, std::string_view reason);

  rocksdb::DB& journal_;
  std::string archiveDir_;
  std::string trashDir_;
  util::LogSink& log_;
  JournalReaperOptions options_;
  util::Counter* filesTakenOut_;
  util::Counter* errors_;
  util::Gauge* trashBytes_;

  std::mutex mutex_;
  std::condition_variable wake_;      // a request, or stopping
  std::condition_variable passDone_;  // passesDone_ went up
  std::optional<std::uint64_t> requested_;
  std::uint64_t requests_ = 0;     // release() calls so far
  std::uint64_t passesDone_ = 0;   // requests the last finished pass answered
  bool stopping_ = false;

  // The reaper's thread only: files in trash/ to cut, oldest first, with their sizes.
  struct Trash {
    std::string path;
    std::uint64_t size = 0;
  };
  std::deque<Trash> trash_;
  std::thread thread_;
};

}  // namespace pocket::sm
