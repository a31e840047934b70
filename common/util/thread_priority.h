#pragma once
// CPU priority (the nice value, -20 highest … 19 lowest) of single threads, so that a process can
// keep the threads a client waits on (taking requests in, answering them) ahead of its background
// work (building and writing trees) on a busy machine. Linux keeps a nice value per thread.
//
// Raising a thread above the process's limit (a lower nice value than RLIMIT_NICE allows, e.g.
// below 0 for an unprivileged user without systemd's LimitNICE=) fails with
// kThreadPriorityDenied; lowering one always works. The thread keeps its priority on failure.
//
// Threading: setThisThreadNice() and thisThreadNice() act on the calling thread;
// setNiceOfThreadsNamed() acts on other threads of the process (those a library started, found by
// the names it gives them) and may run on any thread.

#include <chrono>
#include <cstddef>
#include <string_view>

#include "common/util/log.h"
#include "common/util/result.h"

namespace pocket::util {

inline constexpr std::string_view kThreadPriorityDenied = "thread_priority_denied";
inline constexpr std::string_view kThreadPriorityFailed = "thread_priority_failed";

inline constexpr int kNiceHighest = -20;
inline constexpr int kNiceLowest = 19;

Status setThisThreadNice(int nice);
int thisThreadNice();
// Sets `nice` on every thread of this process whose name starts with `namePrefix`; the number of
// threads set, or the first failure (threads before it are set).
Result<std::size_t> setNiceOfThreadsNamed(std::string_view namePrefix, int nice);

// Puts the calling thread under SCHED_IDLE: it runs only when no other thread wants its CPU, and
// a thread that wakes up takes the CPU from it at once (the kernel counts a CPU that runs only
// such threads as idle when it places a waking thread, so the ack path does not wait behind
// background work on the other core either). Any thread may lower itself so; the nice value is
// kept but no longer weighs.
Status setThisThreadIdle();
bool thisThreadIsIdle();

// The same for a component that goes on either way: a failure, or no thread of that name within
// `appearWithin` (a thread names itself once it runs, a moment after it was started), is logged
// as `thread_priority_not_set` with the thread, the reason and `consequence` (what running at the
// process's priority means for the operator).
void setThisThreadNiceOrLog(LogSink& log, std::string_view thread, int nice,
                            std::string_view consequence);
void setThisThreadIdleOrLog(LogSink& log, std::string_view thread, std::string_view consequence);
void setNiceOfThreadsNamedOrLog(LogSink& log, std::string_view namePrefix, int nice,
                                std::string_view consequence,
                                std::chrono::milliseconds appearWithin = std::chrono::milliseconds(0));

}  // namespace pocket::util
