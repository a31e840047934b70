#include "common/util/allocator.h"

#include <sys/types.h>

#include <cstddef>
#include <string>

// jemalloc's control interface. Weak: builds without jemalloc (sanitizers bring their own
// allocator) link without it, and the address is then null.
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp,
                       std::size_t newlen) __attribute__((weak));

namespace pocket::util {

namespace {

template <typename T>
bool set(const char* name, T value) {
  return mallctl(name, nullptr, nullptr, &value, sizeof value) == 0;
}

}  // namespace

AllocatorTuning releaseFreedMemoryAfter(std::chrono::milliseconds decay) {
  if (mallctl == nullptr) return {false, "not running on jemalloc"};
  auto ms = static_cast<ssize_t>(decay.count());
  // Arenas created from now on, then the ones that exist (an arena not yet initialized refuses
  // and takes the default above when it is).
  if (!set("arenas.dirty_decay_ms", ms)) return {false, "arenas.dirty_decay_ms refused"};
  unsigned arenas = 0;
  std::size_t size = sizeof arenas;
  if (mallctl("arenas.narenas", &arenas, &size, nullptr, 0) != 0) {
    return {false, "arenas.narenas unreadable"};
  }
  for (unsigned i = 0; i < arenas; ++i) {
    std::string name = "arena." + std::to_string(i) + ".dirty_decay_ms";
    (void)set(name.c_str(), ms);
  }
  if (!set("background_thread", true)) return {false, "background_thread refused"};
  return {true, {}};
}

ThreadArena keepFreedMemoryOnThisThread() {
  ThreadArena out;
  if (mallctl == nullptr) {
    out.why = "not running on jemalloc";
    return out;
  }
  unsigned index = 0;
  std::size_t size = sizeof index;
  if (mallctl("arenas.create", &index, &size, nullptr, 0) != 0) {
    out.why = "arenas.create refused";
    return out;
  }
  // -1: no decay; pages leave only through releaseFreedMemory().
  std::string prefix = "arena." + std::to_string(index) + ".";
  if (!set((prefix + "dirty_decay_ms").c_str(), ssize_t{-1}) ||
      !set((prefix + "muzzy_decay_ms").c_str(), ssize_t{-1})) {
    out.why = "the arena's decay settings were refused";
    return out;
  }
  if (!set("thread.arena", index)) {
    out.why = "thread.arena refused";
    return out;
  }
  out.applied = true;
  out.index = index;
  return out;
}

bool releaseFreedMemory(const ThreadArena& arena) {
  if (!arena.applied || mallctl == nullptr) return false;
  std::string name = "arena." + std::to_string(arena.index) + ".purge";
  return mallctl(name.c_str(), nullptr, nullptr, nullptr, 0) == 0;
}

}  // namespace pocket::util
