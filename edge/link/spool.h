#pragma once
// The edge's delivery spool (DESIGN §4 "Deliver mined relays at least once"): every mined relay is
// written here before the link sends it, and stays until the session manager acks it durable.
//
// On disk: a directory of segment files `<first seq, 20 digits>.seg`, each a run of records
//   masked crc32c (4, LE) | payload length (4, LE) | seq (8, LE) | payload
// where the CRC covers length, seq and payload, and seqs run on by one. Besides the segments:
// `SPOOL_ID` (a random 64-bit id fixed when the directory is created; the link sends it in hello so
// that sequence numbers are per (edge, spool)) and `ACKED` (the highest acked seq, rewritten by
// rename at most every ackPersistInterval and when the spool closes; a stale value only causes a
// replay the manager deduplicates: sequence numbers come from the segment files, never from it).
//
// Guarantees:
//   - append() returns after write(2) of the whole record: it survives kill -9 of the edge. Power
//     loss is covered by fsync: with FsyncPolicy::everyBatch (the default) the link only sends
//     records that sync() made durable, so a sequence number the manager has seen is never reused.
//   - Opening truncates a torn or corrupt record and everything after it in that segment (logged as
//     `spool_truncated` with the reason and the bytes dropped); it is never fatal.
//   - Segments rotate at segmentBytes; a segment is deleted once every record in it is acked.
//   - When the segments would exceed maxBytes, append() fails with "spool_full": the caller serves
//     the relay and counts it as dropped. At nearFullRatio the spool logs `spool_near_full` and
//     sets nearFull().
//
// Threading: append() and the getters are safe from any thread (one mutex around the file write;
// the getters are atomics). sync(), read() and ack() are the consumer side: one thread (the
// link's). Ownership: main() owns the Spool; the EdgeLink and the relay pipeline hold references.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/result.h"
#include "edge/link/mined_relay.h"

namespace pocket::edge {

enum class FsyncPolicy {
  everyBatch,  // the link fsyncs before each batch it sends; survives power loss
  never,       // rely on the page cache; survives kill -9 only
};

struct SpoolOptions {
  std::string directory;                     // created (mode 0700) when missing
  std::uint64_t maxBytes = 1ull << 30;       // all segment files together
  std::uint64_t segmentBytes = 64ull << 20;  // rotate when the next record would pass this
  FsyncPolicy fsync = FsyncPolicy::everyBatch;
  double nearFullRatio = 0.8;  // log and set nearFull() at this share of maxBytes
  // How often ack() may rewrite the ACKED file (a create and a rename each time).
  std::chrono::milliseconds ackPersistInterval{200};
};

// One record read back for sending.
struct SpooledRecord {
  std::uint64_t seq = 0;
  util::Bytes payload;  // encodeMinedRelay() bytes
};

// Records larger than this are refused by append() and treated as corruption on open.
inline constexpr std::uint32_t kMaxSpoolRecordBytes = 32u << 20;
inline constexpr std::size_t kSpoolRecordHeaderBytes = 16;

class Spool {
 public:
  // Opens (recovering) or creates the spool. Throws std::runtime_error on I/O failure or bad
  // options. `log` must outlive the spool.
  Spool(SpoolOptions options, util::LogSink& log);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Any thread. Writes the record and returns its sequence number. Errors: "spool_full" (the
  // record would take the spool past maxBytes), "record_too_large", "spool_write_failed" (write(2)
  // failed, e.g. ENOSPC; the partial record is cut off again). No state changes on error.
  util::Result<std::uint64_t> append(const MinedRelay& relay);
  // The same for an already encoded payload.
  util::Result<std::uint64_t> appendEncoded(util::ByteSpan payload);

  // Consumer side. Makes every record written so far durable (FsyncPolicy::everyBatch; nothing to
  // do with never) and returns the highest seq read() may now return. Throws std::runtime_error
  // when fsync fails (the disk is gone; the edge cannot promise delivery any more).
  std::uint64_t sync();
  // Up to maxRecords records (and about maxBytes of payload, at least one record) with seq ≥
  // fromSeq and seq ≤ the last sync() result (or the last written seq with FsyncPolicy::never), in
  // seq order. Seqs are consecutive except across records lost to corruption.
  std::vector<SpooledRecord> read(std::uint64_t fromSeq, std::size_t maxRecords,
                                  std::size_t maxBytes);
  // Everything ≤ throughSeq is durable at the manager (or rejected): forget it. Deletes fully acked
  // segments and persists the ack point (at most every ackPersistInterval; the destructor writes
  // the last one). Values at or below ackedThrough() are ignored, values
  // above lastSeq() are clamped to it.
  void ack(std::uint64_t throughSeq);

  // Any thread.
  std::uint64_t spoolId() const { return spoolId_; }
  std::uint64_t lastSeq() const { return lastSeq_.load(); }            // 0 when nothing was written
  std::uint64_t ackedThrough() const { return ackedThrough_.load(); }  // 0 when nothing acked
  std::uint64_t unackedCount() const;
  std::uint64_t usedBytes() const { return usedBytes_.load(); }
  std::uint64_t maxBytes() const { return options_.maxBytes; }
  bool nearFull() const { return nearFull_.load(); }
  std::uint64_t appendedTotal() const { return appended_.load(); }
  std::uint64_t rejectedFullTotal() const { return rejectedFull_.load(); }
  std::uint64_t writeFailuresTotal() const { return writeFailures_.load(); }
  std::uint64_t truncatedBytesTotal() const { return truncatedBytes_.load(); }  // at open
  std::size_t segmentCount() const;

 private:
  struct Segment;  // one segment file and the offset of each record in it

  void recover();
  void loadSegment(Segment& segment);
  void openNewSegmentLocked(std::uint64_t firstSeq);
  void deleteSegmentLocked(std::size_t index);
  void updateNearFullLocked();
  void writeAcked(std::uint64_t seq);

  const SpoolOptions options_;
  util::LogSink& log_;
  std::uint64_t spoolId_ = 0;  // fixed at construction

  mutable std::mutex mutex_;  // guards segments_, the active file's writes, the fields below
  std::vector<std::shared_ptr<Segment>> segments_;  // ascending firstSeq; back() is active
  std::vector<std::shared_ptr<Segment>> unsynced_;  // written since the last sync()
  bool directoryDirty_ = false;                     // a segment was created since the last sync()
  bool full_ = false;                               // the last append failed with spool_full

  std::uint64_t syncedSeq_ = 0;  // consumer thread only
  std::uint64_t persistedAck_ = 0;                       // consumer thread: last ACKED written
  // When ACKED was last written by ack(); empty until the first one, which is always written at
  // once (a steady-clock epoch is boot time, so no default time point can stand for "never").
  std::optional<std::chrono::steady_clock::time_point> ackPersistedAt_;  // consumer thread
  std::atomic<std::uint64_t> lastSeq_{0};
  std::atomic<std::uint64_t> ackedThrough_{0};
  std::atomic<std::uint64_t> usedBytes_{0};
  std::atomic<bool> nearFull_{false};
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<std::uint64_t> rejectedFull_{0};
  std::atomic<std::uint64_t> writeFailures_{0};
  std::atomic<std::uint64_t> truncatedBytes_{0};
};

}  // namespace pocket::edge
