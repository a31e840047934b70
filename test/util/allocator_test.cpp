#include "common/util/allocator.h"

#include <sys/resource.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "doctest/doctest.h"

namespace pocket::util {
namespace {

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

}  // namespace

// The test binary links the same allocator as the session manager: jemalloc in the normal
// builds, the sanitizer's in the sanitizer builds.
TEST_CASE("a thread's own arena keeps what it frees until released") {
  ThreadArena arena = keepFreedMemoryOnThisThread();
#if defined(__SANITIZE_ADDRESS__)
  CHECK_FALSE(arena.applied);
  CHECK(arena.why == "not running on jemalloc");
  CHECK_FALSE(releaseFreedMemory(arena));
#else
  REQUIRE_MESSAGE(arena.applied, arena.why);
  // First use: the pages are faulted in.
  CHECK(touchAndFree() > kPages / 2);
  // Freed and allocated again: the same pages, no faults (a few for the allocator's own data).
  CHECK(touchAndFree() < kPages / 16);
  CHECK(touchAndFree() < kPages / 16);
  // Released: the pages went back to the system and fault in again.
  CHECK(releaseFreedMemory(arena));
  CHECK(touchAndFree() > kPages / 2);
#endif
}

TEST_CASE("a default arena refuses release") {
  CHECK_FALSE(releaseFreedMemory(ThreadArena{}));
}

}  // namespace pocket::util
