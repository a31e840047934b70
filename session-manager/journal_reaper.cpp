#include "session-manager/journal_reaper.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/transaction_log.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util/thread_name.h"
#include "common/util/thread_priority.h"

namespace pocket::sm {

namespace {

std::string errnoText(int error) { return std::strerror(error); }

// Makes a directory's entries (a new or a removed name) durable; errno on failure, else 0.
int syncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

std::string baseName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

}  // namespace

JournalReaper::JournalReaper(rocksdb::DB& journal, std::string archiveDir, std::string trashDir,
                             util::LogSink& log, util::MetricsRegistry& metrics,
                             JournalReaperOptions options)
    : journal_(journal),
      archiveDir_(std::move(archiveDir)),
      trashDir_(std::move(trashDir)),
      log_(log),
      options_(options) {
  std::filesystem::create_directories(trashDir_);
  filesTakenOut_ =
      &metrics
           .counter("sm_store_wal_files_deleted_total",
                    "Archived journal WAL files taken out of the journal because durable tree "
                    "commits hold every relay in them (their disk space comes back gradually: "
                    "sm_store_trash_bytes).")
           .with();
  errors_ = &metrics
                 .counter("sm_store_reaper_errors_total",
                          "Failures to take a file out of the journal or give its disk space "
                          "back (logged as journal_file_not_released; tried again).")
                 .with();
  trashBytes_ = &metrics
                     .gauge("sm_store_trash_bytes",
                            "Bytes of files out of the journal whose disk space is still being "
                            "given back, a few MiB at a time.")
                     .with();
  trashBytes_->set(0);
  thread_ = std::thread([this] { run(); });
}

JournalReaper::~JournalReaper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void JournalReaper::release(std::uint64_t needed) {
  {
    std::lock_guard lock(mutex_);
    requested_ = needed;
    ++requests_;
  }
  wake_.notify_all();
}

void JournalReaper::waitForPass() {
  std::unique_lock lock(mutex_);
  std::uint64_t asked = requests_;
  passDone_.wait(lock, [&] { return passesDone_ >= asked || stopping_; });
}

void JournalReaper::failed(const std::string& file, std::string_view step,
                           std::string_view reason) {
  errors_->inc();
  util::LogLine(log_, util::LogLevel::warn, "journal_file_not_released")
      .kv("file", file)
      .kv("step", step)
      .kv("reason", reason)
      .kv("consequence", "the file keeps its disk space until the next pass");
}

void JournalReaper::run() {
  util::nameThisThread("sm-reaper");
  if (options_.nice) {
    util::setThisThreadNiceOrLog(log_, "sm-reaper", *options_.nice,
                                 "giving disk space back competes with the acks for the CPU");
  }
  queueTrash();  // what a stop or a crash left
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (requested_) {
      std::uint64_t needed = *requested_;
      std::uint64_t answering = requests_;
      requested_.reset();
      lock.unlock();
      pass(needed);
      lock.lock();
      passesDone_ = answering;
      passDone_.notify_all();
      continue;
    }
    lock.unlock();
    bool more = cutOne();
    lock.lock();
    if (stopping_ || requested_) continue;
    if (more) {
      wake_.wait_for(lock, options_.pause, [&] { return stopping_ || requested_.has_value(); });
    } else {
      wake_.wait(lock, [&] { return stopping_ || requested_.has_value(); });
    }
  }
  passDone_.notify_all();
}

void JournalReaper::queueTrash() {
  std::error_code ec;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(trashDir_, ec), end; !ec && it != end;
       it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    failed(trashDir_, "list", ec.message());
    return;
  }
  std::sort(names.begin(), names.end());  // WAL file numbers: oldest first
  for (const auto& name : names) {
    std::string path = trashDir_ + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      failed(path, "stat", errnoText(errno));
      continue;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
      // Another name still holds the file (a crash before its archive name went): only this
      // name goes; the file stays whole where the journal sees it.
      if (::unlink(path.c_str()) != 0) failed(path, "unlink", errnoText(errno));
      continue;
    }
    trash_.push_back({path, static_cast<std::uint64_t>(st.st_size)});
    trashBytes_->add(static_cast<double>(st.st_size));
  }
}

void JournalReaper::pass(std::uint64_t needed) {
  rocksdb::VectorLogPtr files;
  auto listed = journal_.GetSortedWalFiles(files);
  if (!listed.ok()) {
    failed(archiveDir_, "list", listed.ToString());
    return;
  }
  std::uint64_t latest = journal_.GetLatestSequenceNumber();
  // An archived file (written no more) holds sequence numbers below the next file's first one,
  // or, if it is the last file with anything in it, up to the latest one.
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i]->Type() != rocksdb::kArchivedLogFile) continue;
    std::uint64_t after = i + 1 < files.size() ? files[i + 1]->StartSequence() : latest + 1;
    if (after > needed) break;
    takeOut(baseName(files[i]->PathName()), files[i]->SizeFileBytes());
  }
  // Archived files with nothing in them (the WAL a restart began with, unused) are not listed
  // above; they have no disk space to give back and go at once.
  std::error_code ec;
  for (std::filesystem::directory_iterator it(archiveDir_, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code sizeError;
    if (it->path().extension() == ".log" && it->file_size(sizeError) == 0 && !sizeError) {
      std::string name = it->path().filename().string();
      auto deleted = journal_.DeleteFile("/archive/" + name);
      if (!deleted.ok()) failed(it->path().string(), "delete", deleted.ToString());
    }
  }
}

void JournalReaper::takeOut(const std::string& name, std::uint64_t size) {
  std::string archived = archiveDir_ + "/" + name;
  std::string trashed = trashDir_ + "/" + name;
  ::unlink(trashed.c_str());  // a name left by a failed earlier attempt
  if (::link(archived.c_str(), trashed.c_str()) != 0) {
    failed(archived, "link", errnoText(errno));
    return;
  }
  if (int error = syncDirectory(trashDir_)) {
    ::unlink(trashed.c_str());
    failed(archived, "sync_trash", errnoText(error));
    return;
  }
  auto deleted = journal_.DeleteFile("/archive/" + name);
  if (!deleted.ok()) {
    ::unlink(trashed.c_str());
    failed(archived, "delete", deleted.ToString());
    return;
  }
  filesTakenOut_->inc();
  // Until the archive's name is gone for good, the file is not cut (see the header).
  if (int error = syncDirectory(archiveDir_)) {
    failed(archived, "sync_archive", errnoText(error));
    return;  // trash/ keeps the name; the next start releases it
  }
  trash_.push_back({trashed, size});
  trashBytes_->add(static_cast<double>(size));
}

bool JournalReaper::cutOne() {
  if (trash_.empty()) return false;
  Trash& file = trash_.front();
  int fd = ::open(file.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    failed(file.path, "open", errnoText(errno));
    trashBytes_->add(-static_cast<double>(file.size));
    trash_.pop_front();
    return !trash_.empty();
  }
  struct stat st {};
  std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  // Preallocated blocks past the end are freed by any truncation; the first cut takes them.
  std::uint64_t next = size > options_.chunkBytes ? size - options_.chunkBytes : 0;
  bool cut = ::ftruncate(fd, static_cast<off_t>(next)) == 0;
  int error = errno;
  ::close(fd);
  if (!cut) {
    failed(file.path, "truncate", errnoText(error));
    trashBytes_->add(-static_cast<double>(file.size));
    trash_.pop_front();
    return !trash_.empty();
  }
  std::uint64_t released = file.size > next ? file.size - next : 0;
  trashBytes_->add(-static_cast<double>(released));
  file.size = next;
  if (next == 0) {
    if (::unlink(file.path.c_str()) != 0) failed(file.path, "unlink", errnoText(errno));
    trash_.pop_front();
  }
  return !trash_.empty();
}

}  // namespace pocket::sm
