#include "edge/link/spool.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/link/crc32c.h"

namespace pocket::edge {

// Record checksum: crc32c over payload, then the 4-byte length and the 8-byte seq as stored,
// masked. (Payload first, so that the expensive part can be computed before the seq is known.)

struct Spool::Segment {
  std::uint64_t firstSeq = 0;
  std::string path;
  int fd = -1;
  std::uint64_t size = 0;              // bytes of whole records
  std::vector<std::uint64_t> offsets;  // offsets[i]: where record firstSeq + i starts
  bool dirty = false;                  // written since the last sync()

  Segment() = default;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
  bool empty() const { return offsets.empty(); }
  // firstSeq − 1 when empty.
  std::uint64_t lastSeq() const { return firstSeq + offsets.size() - 1; }
  std::uint64_t recordEnd(std::size_t index) const {
    return index + 1 < offsets.size() ? offsets[index + 1] : size;
  }
};

namespace {

// strerror is not thread-safe; the GNU strerror_r is.
std::string errnoText(int err) {
  char buffer[128];
  return std::string(strerror_r(err, buffer, sizeof(buffer)));
}

void putLe32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void putLe64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t getLe32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t getLe64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::uint32_t recordCrc(std::uint32_t payloadCrc, const std::uint8_t* header) {
  return maskCrc(crc32cExtend(payloadCrc, util::ByteSpan(header + 4, 12)));
}

[[noreturn]] void ioFail(const std::string& what, const std::string& path) {
  throw std::runtime_error("spool: " + what + " " + path + ": " + errnoText(errno));
}

bool writeAll(int fd, const std::uint8_t* data, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool readAll(int fd, std::uint8_t* data, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    ssize_t n = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

void fsyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ioFail("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) ioFail("fsync failed on directory", dir);
}

// Reads a small text file holding one unsigned number; nullopt when missing or not a number.
std::optional<std::uint64_t> readNumberFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[64] = {};
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::uint64_t value = 0;
  bool any = false;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
    value = value * 10 + static_cast<std::uint64_t>(buf[i] - '0');
    any = true;
  }
  if (!any) return std::nullopt;
  return value;
}

// Replaces `path` with `text` through a rename; fsyncs file and directory when `durable`.
bool writeFileAtomically(const std::string& dir, const std::string& path, const std::string& text,
                         bool durable) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = writeAll(fd, reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), 0);
  if (ok && durable) ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return false;
  if (durable) fsyncDirectory(dir);
  return true;
}

std::string segmentName(std::uint64_t firstSeq) {
  return fmt::format("{:020d}.seg", firstSeq);
}

}  // namespace

Spool::Spool(SpoolOptions options, util::LogSink& log) : options_(std::move(options)), log_(log) {
  if (options_.directory.empty()) throw std::runtime_error("spool: directory is not set");
  if (options_.maxBytes < 4096) throw std::runtime_error("spool: maxBytes must be at least 4096");
  if (options_.segmentBytes < 1024 || options_.segmentBytes > options_.maxBytes) {
    throw std::runtime_error("spool: segmentBytes must be between 1024 and maxBytes");
  }
  if (!(options_.nearFullRatio > 0.0 && options_.nearFullRatio <= 1.0)) {
    throw std::runtime_error("spool: nearFullRatio must be in (0, 1]");
  }
  recover();
}

Spool::~Spool() {
  if (ackedThrough_.load() > persistedAck_) writeAcked(ackedThrough_.load());
}

void Spool::recover() {
  const std::string& dir = options_.directory;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) ioFail("cannot create", dir);

  std::string idPath = dir + "/SPOOL_ID";
  if (auto id = readNumberFile(idPath); id && *id != 0) {
    spoolId_ = *id;
  } else {
    std::random_device random;
    while (spoolId_ == 0) {
      spoolId_ = (static_cast<std::uint64_t>(random()) << 32) ^ random();
      spoolId_ &= (1ull << 63) - 1;  // stays positive wherever it is printed as a signed number
    }
    if (!writeFileAtomically(dir, idPath, std::to_string(spoolId_) + "\n", true)) {
      ioFail("cannot write", idPath);
    }
  }
  std::uint64_t acked = readNumberFile(dir + "/ACKED").value_or(0);
  persistedAck_ = acked;

  std::vector<std::shared_ptr<Segment>> found;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) ioFail("cannot list", dir);
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name.size() == 24 && name.ends_with(".seg") &&
        std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; })) {
      auto segment = std::make_shared<Segment>();
      segment->firstSeq = std::stoull(name.substr(0, 20));
      segment->path = dir + "/" + name;
      found.push_back(std::move(segment));
    }
  }
  ::closedir(d);
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a->firstSeq < b->firstSeq; });

  std::uint64_t last = acked;
  for (std::size_t i = 0; i < found.size(); ++i) {
    Segment& segment = *found[i];
    loadSegment(segment);
    bool isLast = i + 1 == found.size();
    bool useless = segment.empty() || segment.lastSeq() <= acked;
    if (!isLast && useless) {
      ::unlink(segment.path.c_str());
      continue;
    }
    if (!segment.empty()) last = std::max(last, segment.lastSeq());
    if (isLast && segment.firstSeq > 0) last = std::max(last, segment.firstSeq - 1);
    segment.dirty = true;  // not known to be durable: the first sync() fsyncs it
    usedBytes_ += segment.size;
    segments_.push_back(found[i]);
    unsynced_.push_back(found[i]);
  }
  ackedThrough_ = std::min(acked, last);
  lastSeq_ = last;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (segments_.empty()) openNewSegmentLocked(last + 1);
    updateNearFullLocked();
  }
  util::LogLine(log_, util::LogLevel::info, "spool_opened")
      .kv("directory", dir)
      .kv("spool_id", spoolId_)
      .kv("segments", segments_.size())
      .kv("last_seq", lastSeq_.load())
      .kv("acked_through", ackedThrough_.load())
      .kv("unacked", unackedCount())
      .kv("used_bytes", usedBytes_.load());
}

void Spool::loadSegment(Segment& segment) {
  segment.fd = ::open(segment.path.c_str(), O_RDWR | O_CLOEXEC);
  if (segment.fd < 0) ioFail("cannot open", segment.path);
  struct stat st {};
  if (::fstat(segment.fd, &st) != 0) ioFail("cannot stat", segment.path);
  std::uint64_t fileSize = static_cast<std::uint64_t>(st.st_size);
  util::Bytes data(fileSize);
  if (fileSize > 0 && !readAll(segment.fd, data.data(), data.size(), 0)) {
    ioFail("cannot read", segment.path);
  }
  std::uint64_t offset = 0;
  const char* reason = nullptr;
  while (offset < fileSize) {
    if (fileSize - offset < kSpoolRecordHeaderBytes) {
      reason = "torn record header";
      break;
    }
    const std::uint8_t* header = data.data() + offset;
    std::uint32_t length = getLe32(header + 4);
    std::uint64_t seq = getLe64(header + 8);
    if (length > kMaxSpoolRecordBytes) {
      reason = "record length out of range";
      break;
    }
    if (fileSize - offset - kSpoolRecordHeaderBytes < length) {
      reason = "torn record payload";
      break;
    }
    std::uint32_t payloadCrc = crc32c(util::ByteSpan(header + kSpoolRecordHeaderBytes, length));
    if (recordCrc(payloadCrc, header) != getLe32(header)) {
      reason = "checksum mismatch";
      break;
    }
    if (seq != segment.firstSeq + segment.offsets.size()) {
      reason = "sequence number out of order";
      break;
    }
    segment.offsets.push_back(offset);
    offset += kSpoolRecordHeaderBytes + length;
  }
  segment.size = offset;
  if (reason != nullptr) {
    if (::ftruncate(segment.fd, static_cast<off_t>(offset)) != 0) {
      ioFail("cannot truncate", segment.path);
    }
    truncatedBytes_ += fileSize - offset;
    util::LogLine(log_, util::LogLevel::warn, "spool_truncated")
        .kv("segment", segment.path)
        .kv("offset", offset)
        .kv("dropped_bytes", fileSize - offset)
        .kv("records_kept", segment.offsets.size())
        .kv("reason", reason);
  }
}

void Spool::openNewSegmentLocked(std::uint64_t firstSeq) {
  auto segment = std::make_shared<Segment>();
  segment->firstSeq = firstSeq;
  segment->path = options_.directory + "/" + segmentName(firstSeq);
  segment->fd = ::open(segment->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (segment->fd < 0) ioFail("cannot create segment", segment->path);
  segment->dirty = true;
  segments_.push_back(segment);
  unsynced_.push_back(std::move(segment));
  directoryDirty_ = true;
}

void Spool::deleteSegmentLocked(std::size_t index) {
  auto segment = segments_[index];
  if (::unlink(segment->path.c_str()) != 0) {
    util::LogLine(log_, util::LogLevel::warn, "spool_delete_failed")
        .kv("segment", segment->path)
        .kv("reason", errnoText(errno));
  }
  usedBytes_ -= segment->size;
  segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(index));
  directoryDirty_ = true;
}

util::Result<std::uint64_t> Spool::append(const MinedRelay& relay) {
  util::Bytes payload = encodeMinedRelay(relay);
  return appendEncoded(payload);
}

util::Result<std::uint64_t> Spool::appendEncoded(util::ByteSpan payload) {
  if (payload.size() > kMaxSpoolRecordBytes) {
    return util::makeError("record_too_large", "mined relay record of " +
                                                   std::to_string(payload.size()) +
                                                   " bytes exceeds the spool's record limit");
  }
  const std::uint64_t recordBytes = kSpoolRecordHeaderBytes + payload.size();
  util::Bytes record(recordBytes);
  std::copy(payload.begin(), payload.end(), record.begin() + kSpoolRecordHeaderBytes);
  std::uint32_t payloadCrc = crc32c(payload);
  putLe32(record.data() + 4, static_cast<std::uint32_t>(payload.size()));

  std::lock_guard<std::mutex> lock(mutex_);
  if (usedBytes_.load() + recordBytes > options_.maxBytes) {
    rejectedFull_.fetch_add(1);
    if (!full_) {
      full_ = true;
      util::LogLine(log_, util::LogLevel::error, "spool_full")
          .kv("used_bytes", usedBytes_.load())
          .kv("max_bytes", options_.maxBytes)
          .kv("unacked", unackedCount())
          .kv("reason", "mined relays are dropped until the session manager acks; check the link");
    }
    return util::makeError("spool_full", "the spool holds " + std::to_string(usedBytes_.load()) +
                                             " of " + std::to_string(options_.maxBytes) +
                                             " bytes unacked");
  }
  Segment* active = segments_.back().get();
  if (active->size > 0 && active->size + recordBytes > options_.segmentBytes) {
    openNewSegmentLocked(lastSeq_.load() + 1);
    active = segments_.back().get();
  }
  const std::uint64_t seq = lastSeq_.load() + 1;
  putLe64(record.data() + 8, seq);
  putLe32(record.data(), recordCrc(payloadCrc, record.data()));
  if (!writeAll(active->fd, record.data(), record.size(), active->size)) {
    int err = errno;
    writeFailures_.fetch_add(1);
    // Cut off whatever part was written, so the next record starts on a record boundary.
    (void)::ftruncate(active->fd, static_cast<off_t>(active->size));
    util::LogLine(log_, util::LogLevel::error, "spool_write_failed")
        .kv("segment", active->path)
        .kv("seq", seq)
        .kv("reason", errnoText(err));
    return util::makeError("spool_write_failed",
                           std::string("writing the spool failed: ") + errnoText(err));
  }
  active->offsets.push_back(active->size);
  active->size += recordBytes;
  if (!active->dirty) {
    active->dirty = true;
    unsynced_.push_back(segments_.back());
  }
  usedBytes_ += recordBytes;
  lastSeq_.store(seq);
  appended_.fetch_add(1);
  if (full_) {
    full_ = false;
    util::LogLine(log_, util::LogLevel::info, "spool_accepting")
        .kv("used_bytes", usedBytes_.load())
        .kv("rejected_full_total", rejectedFull_.load());
  }
  updateNearFullLocked();
  return seq;
}

std::uint64_t Spool::sync() {
  if (options_.fsync == FsyncPolicy::never) {
    syncedSeq_ = lastSeq_.load();
    return syncedSeq_;
  }
  std::vector<std::shared_ptr<Segment>> files;
  bool directory = false;
  std::uint64_t target = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    files.swap(unsynced_);
    for (auto& f : files) f->dirty = false;
    directory = std::exchange(directoryDirty_, false);
    target = lastSeq_.load();
  }
  for (auto& f : files) {
    if (::fdatasync(f->fd) != 0) ioFail("fdatasync failed on", f->path);
  }
  if (directory) fsyncDirectory(options_.directory);
  syncedSeq_ = std::max(syncedSeq_, target);
  return syncedSeq_;
}

std::vector<SpooledRecord> Spool::read(std::uint64_t fromSeq, std::size_t maxRecords,
                                       std::size_t maxBytes) {
  struct Range {
    std::shared_ptr<Segment> segment;
    std::uint64_t firstSeq;  // seq of the record at `begin`
    std::uint64_t begin;
    std::uint64_t end;
  };
  std::vector<Range> ranges;
  const std::uint64_t limit = options_.fsync == FsyncPolicy::never
                                  ? lastSeq_.load()
                                  : std::min(syncedSeq_, lastSeq_.load());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::uint64_t seq = std::max(fromSeq, ackedThrough_.load() + 1);
    std::size_t records = 0;
    std::uint64_t bytes = 0;
    for (const auto& segment : segments_) {
      if (records >= maxRecords || seq > limit) break;
      if (segment->empty() || segment->lastSeq() < seq) continue;
      seq = std::max(seq, segment->firstSeq);
      std::size_t first = static_cast<std::size_t>(seq - segment->firstSeq);
      std::size_t index = first;
      while (index < segment->offsets.size() && segment->firstSeq + index <= limit &&
             records < maxRecords && (records == 0 || bytes < maxBytes)) {
        bytes += segment->recordEnd(index) - segment->offsets[index];
        ++records;
        ++index;
      }
      if (index > first) {
        ranges.push_back(Range{segment, segment->firstSeq + first, segment->offsets[first],
                               segment->recordEnd(index - 1)});
      }
      seq = segment->firstSeq + index;
      if (records > 0 && bytes >= maxBytes) break;
    }
  }

  std::vector<SpooledRecord> out;
  for (const Range& range : ranges) {
    util::Bytes data(range.end - range.begin);
    if (!readAll(range.segment->fd, data.data(), data.size(), range.begin)) {
      ioFail("cannot read", range.segment->path);
    }
    std::uint64_t offset = 0;
    std::uint64_t expected = range.firstSeq;
    while (offset + kSpoolRecordHeaderBytes <= data.size()) {
      const std::uint8_t* header = data.data() + offset;
      std::uint32_t length = getLe32(header + 4);
      std::uint64_t seq = getLe64(header + 8);
      bool fits = data.size() - offset - kSpoolRecordHeaderBytes >= length;
      if (!fits || seq != expected ||
          recordCrc(crc32c(util::ByteSpan(header + kSpoolRecordHeaderBytes, length)), header) !=
              getLe32(header)) {
        // The file changed under us since it was written or opened (disk fault): what follows in
        // this range cannot be trusted.
        util::LogLine(log_, util::LogLevel::error, "spool_record_unreadable")
            .kv("segment", range.segment->path)
            .kv("seq", expected)
            .kv("reason",
                "checksum or framing mismatch on read-back; the rest of the range is skipped");
        break;
      }
      const std::uint8_t* payload = header + kSpoolRecordHeaderBytes;
      out.push_back(SpooledRecord{seq, util::Bytes(payload, payload + length)});
      offset += kSpoolRecordHeaderBytes + length;
      ++expected;
    }
  }
  return out;
}

void Spool::ack(std::uint64_t throughSeq) {
  throughSeq = std::min(throughSeq, lastSeq_.load());
  if (throughSeq <= ackedThrough_.load()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ackedThrough_.store(throughSeq);
    for (std::size_t i = 0; i + 1 < segments_.size();) {
      if (segments_[i]->empty() || segments_[i]->lastSeq() <= throughSeq) {
        deleteSegmentLocked(i);
      } else {
        ++i;
      }
    }
    // A fully acked active segment of some size is replaced by a fresh one rather than left to
    // hold disk space until it fills.
    Segment& active = *segments_.back();
    if (!active.empty() && active.lastSeq() <= throughSeq && active.size >= (1u << 20)) {
      openNewSegmentLocked(lastSeq_.load() + 1);
      deleteSegmentLocked(segments_.size() - 2);
    }
    updateNearFullLocked();
  }
  auto now = std::chrono::steady_clock::now();
  if (!ackPersistedAt_ || now - *ackPersistedAt_ >= options_.ackPersistInterval) {
    writeAcked(throughSeq);
    ackPersistedAt_ = now;
  }
}

void Spool::writeAcked(std::uint64_t seq) {
  persistedAck_ = seq;
  if (!writeFileAtomically(options_.directory, options_.directory + "/ACKED",
                           std::to_string(seq) + "\n", false)) {
    util::LogLine(log_, util::LogLevel::warn, "spool_ack_not_persisted")
        .kv("acked_through", seq)
        .kv("reason", errnoText(errno));
  }
}

void Spool::updateNearFullLocked() {
  double ratio = static_cast<double>(usedBytes_.load()) / static_cast<double>(options_.maxBytes);
  if (!nearFull_.load() && ratio >= options_.nearFullRatio) {
    nearFull_.store(true);
    util::LogLine(log_, util::LogLevel::error, "spool_near_full")
        .kv("used_bytes", usedBytes_.load())
        .kv("max_bytes", options_.maxBytes)
        .kv("unacked", unackedCount())
        .kv("reason", "the session manager is not acking as fast as relays are mined");
  } else if (nearFull_.load() && ratio < options_.nearFullRatio * 0.9) {
    nearFull_.store(false);
    util::LogLine(log_, util::LogLevel::info, "spool_near_full_cleared")
        .kv("used_bytes", usedBytes_.load())
        .kv("max_bytes", options_.maxBytes);
  }
}

std::uint64_t Spool::unackedCount() const {
  std::uint64_t last = lastSeq_.load();
  std::uint64_t acked = ackedThrough_.load();
  return last > acked ? last - acked : 0;
}

std::size_t Spool::segmentCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return segments_.size();
}

}  // namespace pocket::edge
