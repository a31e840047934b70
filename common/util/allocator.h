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

}  // namespace pocket::util
