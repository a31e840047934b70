#include "common/util/allocator.h"

#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "doctest/doctest.h"

namespace pocket::util {
namespace {

#if !defined(__SANITIZE_ADDRESS__)
// Minor page faults of the calling thread so far.
long threadFaults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

constexpr std::size_t kBlock = std::size_t{1} << 20;
constexpr std::size_t kBlocks = 16;
constexpr long kPages = static_cast<long>(kBlock * kBlocks / 4096);

// Allocates 16 MiB in 1 MiB blocks, writes every byte, frees them; returns the faults it took.
long touchAndFree() {
  long before = threadFaults();
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < kBlocks; ++i) {
    void* p = std::malloc(kBlock);
    REQUIRE(p != nullptr);
    std::memset(p, 0x5a, kBlock);
    blocks.push_back(p);
  }
  long faults = threadFaults() - before;
  for (void* p : blocks) std::free(p);
  return faults;
}
#endif

}  // namespace

// The test binary links the same allocator as the session manager: jemalloc in the normal
// builds, the sanitizer's in the sanitizer builds.
TEST_CASE("a thread's own arena keeps what it frees until released") {
#if defined(__SANITIZE_ADDRESS__)
  ThreadArena arena = keepFreedMemoryOnThisThread();
  CHECK_FALSE(arena.applied);
  CHECK(arena.why == "not running on jemalloc");
  CHECK_FALSE(releaseFreedMemory(arena));
#else
  // Every other arena gives freed pages back at once, as the process-wide decay eventually does.
  REQUIRE(releaseFreedMemoryAfter(std::chrono::milliseconds(0)).applied);
  // On such an arena, memory freed and allocated again faults in again (this shows the
  // measurement tells the two apart).
  long plainFirst = 0;
  long plainReused = 0;
  std::thread([&] {
    plainFirst = touchAndFree();
    plainReused = touchAndFree();
  }).join();
  CHECK(plainReused * 2 > plainFirst);

  ThreadArena arena = keepFreedMemoryOnThisThread();
  REQUIRE_MESSAGE(arena.applied, arena.why);
  // First use: the pages are faulted in (one per 4 KiB page, or per 2 MiB where transparent huge
  // pages are always on).
  long first = touchAndFree();
  // Freed and allocated again: the same pages, no faults (a few for the allocator's own data).
  long reused = touchAndFree();
  CHECK(reused < kPages / 16);
  CHECK(reused < first);
  CHECK(touchAndFree() < kPages / 16);
  // Released: the pages went back to the system and fault in again, as on first use.
  CHECK(releaseFreedMemory(arena));
  long afterRelease = touchAndFree();
  CHECK(afterRelease > reused);
  CHECK(afterRelease * 2 > first);
#endif
}

TEST_CASE("a default arena refuses release") {
  CHECK_FALSE(releaseFreedMemory(ThreadArena{}));
}

}  // namespace pocket::util
