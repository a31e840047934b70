#pragma once
// The session manager's durable state (docs/architecture.md §4): every accepted mined relay, the
// high-water mark of every (edge id, spool id), and one sparse Merkle sum trie per (supplier,
// session).
//
// On disk, under the store directory:
//   journal/  RocksDB. Per tree and group commit, in its write-ahead log only (log data, never in
//             its tables: relay bytes go to disk once), 'L' ‖ BE16 length ‖ ‹tree› ‖ ‹index BE8›
//             ‖ the relays of that tree in that write, each relayHash ‖ BE64 weight ‖ BE32 length
//             ‖ relayBytes; in its tables `h‹tree›\0‹index BE8›` → their relay hashes, 32 bytes
//             each (the dedup index); per tree `m‹tree›` → its session (JSON); per edge
//             `w‹edgeId›\0‹spoolId BE8›` → BE64 high-water mark. ‹tree› is
//             "‹supplier›/‹sessionId›"; ‹index› is the tree's count of relays before the record
//             (relays are numbered from 0). Two records per tree and write, not two per relay,
//             keep the per-relay RocksDB work to a copy. WAL files the tables no longer need are
//             archived (journal/archive/) and leave the journal once durable tree commits hold
//             every relay in them (checked at each commit of the trees, done by the
//             JournalReaper's thread: journal_reaper.h); the journal switches to a new WAL file
//             every SessionStoreOptions::walSwitchBytes, which bounds what a restart reads. A
//             store written before relays went to the WAL only also has relay records
//             `r‹tree›\0‹index BE8›` → the same relays: a restart reads them first, and they are
//             deleted like the WAL files. Hash records stay until the tree is removed. Only this
//             store may open the journal (RocksDB opened with other options may delete WAL files
//             that still hold relays).
//             A flushed tree (its claim root fixed) has `f‹tree›` → its 48-byte root; the claim and
//             proof lifecycle keeps its record of the session under `l‹tree›` (lifecycle.h);
//             `x‹tree›` marks a removal in progress (a restart finishes it).
//   trees/    RocksDB (common/smst/rocksdb_store.h) with background commits: the committed
//             nodes and root of every tree.
//   trash/    WAL files out of the journal, their disk space on its way back (journal_reaper.h).
//
// Guarantees:
//   - write() returns once everything in the WriteSet is durable (one synced RocksDB WriteBatch),
//     and only then hands the relays to the tree thread, which applies them to the in-memory tries
//     in order while the ingest acks and goes on (write() waits only while more than 64 MiB of
//     relays are handed over and not yet applied). A crash at any point loses nothing write()
//     returned for, and keeps nothing it did not: the journal, not the tries, is what is durable.
//   - The tree thread owns the tries. Every call that reads or changes one (hasRelay's
//     confirmation, root(), commitTrees(), flushTree(), removeTree()) runs there, after every
//     relay handed over before it, so it sees exactly what was written, and the caller waits for
//     it; commitTreesInBackground() does not wait.
//   - A commit serializes each changed trie's new nodes and root on the tree thread and hands them
//     to the trees database's commit thread, which writes the whole round with one fsync
//     (the tree thread waits only if more than 64 MiB of commits are queued). A committed
//     root's count says how many of the tree's relays it holds. Opening the store reopens every
//     tree from its last durable root and replays the journal's relays after that count, so
//     every tree has exactly the root it had before a clean stop or a kill -9, wherever the
//     commit thread was (a journal that lacks relays its hash records name refuses to open).
//     Committed leaf values live in trees/, not in memory. A large tree applies its relays to
//     the trie as they come (every few thousand), so that root() and a claim's flushTree() find
//     little left to hash.
//   - A relay hash is in a tree at most once: hasRelay() sees every written relay (a compact
//     fingerprint index in memory; a match is confirmed in the tree).
//
//   - flushTree() commits a tree and fixes its root for good (durably): it never changes again,
//     write() refuses relays for it (the ingest rejects them first), and proveClosest() may read
//     it from any thread, over its own read-only view of the trees database.
//
// Ownership and threading: main() owns the store; the store owns its tree thread (started when it
// opens, joined when it goes, after finishing what it was handed). highWater(), summaries(),
// proveClosest() and the lifecycle records are thread-safe; every other method belongs to one
// thread (the ingest thread). RocksDB I/O errors and a corrupt store throw smst::StoreError
// (logistics: the process stops; a restart recovers); a failure on the tree thread is thrown by
// the ingest thread's next call.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/crypto/hash.h"
#include "common/protocol/relay.h"
#include "common/smst/proof.h"
#include "common/smst/types.h"
#include "common/util/bytes.h"
#include "common/util/log.h"
#include "common/util/metrics.h"
#include "common/util/result.h"
#include "session-manager/fingerprint_set.h"

namespace pocket::sm {

// Sequence numbers are per (edge id, spool id): a wiped spool starts a new series.
inline constexpr std::string_view kStoreUnknownTree = "unknown_tree";
inline constexpr std::string_view kStoreNotFlushed = "tree_not_flushed";

struct EdgeKey {
  std::string edgeId;
  std::uint64_t spoolId = 0;
  auto operator<=>(const EdgeKey&) const = default;
};

// What a tree remembers of its session (written when the tree is created).
struct TreeInfo {
  std::string supplierOperatorAddress;
  protocol::SessionHeader header;
  std::uint64_t computeUnitsPerRelay = 0;
  std::int64_t claimWindowOpen = 0;   // no relay is accepted from this height on
  std::int64_t proofWindowClose = 0;  // nothing can be earned after this height
};

// "‹supplier›/‹sessionId›": names a tree in the store, the log and /status.
std::string treeKey(const std::string& supplier, const std::string& sessionId);

struct TreeSummary {
  TreeInfo info;
  std::uint64_t relays = 0;
  std::uint64_t computeUnits = 0;
  std::string committedRootHex;  // empty before the first commit
};

// Changes gathered by the ingest thread for one group commit. Each relay is copied once, straight
// into its tree's journal record (the bytes the store writes and later applies to the trie).
// SessionStore::write() empties it but keeps its buffers (and hands it back the records' buffers
// that the tree thread is done with): a WriteSet kept from group to group fills memory that is
// already mapped instead of faulting in fresh pages on every group commit.
class WriteSet {
 public:
  // Whether `hash` was added to `tree` in this set.
  bool contains(const std::string& tree, const crypto::Hash32& hash) const;
  void addRelay(const TreeInfo& info, const crypto::Hash32& hash, util::ByteSpan relayBytes,
                std::uint64_t weight);
  // The same, for a caller that already holds treeKey(info's supplier, info's session id).
  void addRelay(const std::string& tree, const TreeInfo& info, const crypto::Hash32& hash,
                util::ByteSpan relayBytes, std::uint64_t weight);
  void setHighWater(const EdgeKey& edge, std::uint64_t seq);
  std::optional<std::uint64_t> highWater(const EdgeKey& edge) const;
  bool empty() const { return relays_ == 0 && highWater_.empty(); }
  std::size_t relayCount() const { return relays_; }
  // Empties the set, keeping its buffers for the next changes.
  void clear();

 private:
  friend class SessionStore;
  struct Tree {
    TreeInfo info;
    // The WAL record: its header (see above), then per relay hash ‖ BE64 weight ‖ BE32 size ‖
    // bytes.
    std::string record;
    std::string hashes;  // the journal's hash record: the relay hashes, 32 bytes each
    FingerprintSet fingerprints;  // of `hashes`
    std::size_t count = 0;
    std::uint64_t weight = 0;  // the relays' compute units
  };
  std::map<std::string, Tree, std::less<>> trees_;
  std::size_t relays_ = 0;
  std::map<EdgeKey, std::uint64_t> highWater_;
  // Emptied buffers for the next trees' records, hash lists and fingerprints.
  std::vector<std::string> spareRecords_;
  std::vector<std::string> spareHashes_;
  std::vector<FingerprintSet> spareFingerprints_;
};

struct SessionStoreOptions {
  // WAL bytes written after which the journal switches to a new WAL file (flushing its small
  // memtable): bounds the live WAL a restart reads. Tests make it small to see WAL files come
  // and go.
  std::uint64_t walSwitchBytes = std::uint64_t{64} << 20;
  // Nice value of the store's background threads — the tree thread, the trees database's
  // commit thread and the journal reaper (threads.background_nice) — so that they yield the CPU
  // to the ack path; above 0, RocksDB's flush and compaction threads run their jobs at the
  // lowest priority (19). Unset: the process's.
  std::optional<int> backgroundNice;
  // The tree thread and the trees database's commit thread under SCHED_IDLE
  // (threads.background_idle): a CPU only when nothing else wants it.
  bool backgroundIdle = false;
};

class SessionStore {
 public:
  // Opens (creating if needed) the store in `directory` and restores every tree. Throws
  // smst::StoreError on I/O errors or corrupt data.
  SessionStore(const std::string& directory, util::LogSink& log, util::MetricsRegistry& metrics,
               SessionStoreOptions options = {});
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Thread-safe.
  std::uint64_t highWater(const EdgeKey& edge) const;
  std::vector<TreeSummary> summaries() const;
  std::map<EdgeKey, std::uint64_t> highWaters() const;

  // Ingest thread only.
  bool hasRelay(const std::string& tree, const crypto::Hash32& hash) const;
  // Makes `changes` durable, then applies them to the tries. Clears `changes` (see WriteSet).
  void write(WriteSet& changes);
  // Commits every trie changed since its last commit, after every relay written before; returns
  // how many. Also waits until the WAL files that durable commits made unneeded before the call
  // are out of the journal.
  std::size_t commitTrees();
  // The same on the tree thread without waiting for it (at most one such commit queued at a
  // time): what the ingest does periodically.
  void commitTreesInBackground();
  // The current root of a tree (48 bytes), or nullopt for an unknown tree.
  std::optional<smst::Digest> root(const std::string& tree);
  // Removes a tree and its journal records (lifecycle record included) from disk, durably (a
  // session that can no longer earn anything); `reason` goes in the log line. Unknown trees are
  // ignored.
  void removeTree(const std::string& tree,
                  std::string_view reason = "the session's proof window has closed");
  // Trees whose proof window closed before `height`.
  std::vector<std::string> treesExpiredAt(std::int64_t height) const;

  // Commits the tree and fixes its root for good (synced): the claim root. Idempotent: a flushed
  // tree answers its fixed root. Error kStoreUnknownTree for a tree the store does not hold.
  util::Result<smst::Digest> flushTree(const std::string& tree);
  bool isFlushed(const std::string& tree) const;

  // Thread-safe. The closest proof of `path` (32 bytes) in a flushed tree, read from disk.
  // Errors: kStoreNotFlushed (unknown or not flushed tree), the trie's ("invalid_path", ...).
  util::Result<smst::SparseMerkleClosestProof> proveClosest(const std::string& tree,
                                                            util::ByteSpan path) const;

  // Thread-safe. The lifecycle's records (opaque values), written synced; removeTree() erases a
  // tree's record with the tree.
  void putLifecycleRecord(const std::string& tree, const std::string& value);
  std::map<std::string, std::string> lifecycleRecords() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pocket::sm
