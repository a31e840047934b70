#pragma once
// Memory given back to the system after a busy period, for long-running processes on jemalloc.
//
// jemalloc keeps the pages of freed memory ("dirty" pages) for reuse and, by default, purges them
// only while the process keeps allocating in the same arena: after a burst (a large tree commit,
// a backlog of relays) a quiet process would keep its peak resident size. Here a background
// thread of jemalloc's own purges pages that stayed unused for `decay`.
//
// Threading: call once from main()'s thread, after blockTerminationSignals() (the allocator's
// thread inherits the blocked signals) and before the components start. Errors: none thrown; the
// result says whether it applied (false in builds without jemalloc, such as the sanitizer builds,
// and when the allocator refuses a setting; `why` then says which).

#include <chrono>
#include <string>

namespace pocket::util {

struct AllocatorTuning {
  bool applied = false;
  std::string why;  // when not applied
};

AllocatorTuning releaseFreedMemoryAfter(std::chrono::milliseconds decay);

// A thread on the latency path that allocates in bursts (the session manager's ingest: a backlog
// of relays after a pause) pays a page fault per 4 KiB of memory it touches for the first time,
// and under virtualization a fault costs microseconds. With the process-wide decay above, the
// pages it freed after one burst are gone by the next, so every burst faults its memory in again.
// keepFreedMemoryOnThisThread() moves the calling thread's allocations to an arena of its own
// whose freed pages are never purged by decay: memory the thread frees (or that other threads
// free for it: an allocation goes back to the arena it came from) serves its next allocations
// already mapped. Its resident size then stays at the thread's peak until releaseFreedMemory(),
// which the thread calls once it has been idle for a while.
//
// Threading: keepFreedMemoryOnThisThread() affects the calling thread only; releaseFreedMemory()
// may be called from any thread. Errors: none thrown; `applied` false (with `why`) leaves the
// thread on the process's arenas (builds without jemalloc, an allocator that refuses).
struct ThreadArena {
  bool applied = false;
  std::string why;      // when not applied
  unsigned index = 0;   // jemalloc's arena index, when applied
};

ThreadArena keepFreedMemoryOnThisThread();
// Returns the arena's unused pages to the system; false if the arena was not applied or the
// allocator refused.
bool releaseFreedMemory(const ThreadArena& arena);

}  // namespace pocket::util
