#include "common/util/thread_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace pocket::util {
namespace {

Error niceError(int err, int nice, const std::string& what) {
  std::string message = what + ": nice " + std::to_string(nice) + ": " + std::strerror(err);
  if (err == EPERM || err == EACCES) {
    return makeError(std::string(kThreadPriorityDenied),
                     message + " (raising a thread needs CAP_SYS_NICE or an RLIMIT_NICE that "
                               "allows it, e.g. systemd's LimitNICE=)");
  }
  return makeError(std::string(kThreadPriorityFailed), message);
}

id_t thisThreadId() { return static_cast<id_t>(::syscall(SYS_gettid)); }

void logNotSet(LogSink& log, std::string_view thread, std::string_view reason,
               std::string_view consequence) {
  LogLine(log, LogLevel::warn, "thread_priority_not_set")
      .kv("thread", thread)
      .kv("reason", reason)
      .kv("consequence", consequence);
}

}  // namespace

Status setThisThreadNice(int nice) {
  if (::setpriority(PRIO_PROCESS, thisThreadId(), nice) == 0) return Ok{};
  return niceError(errno, nice, "this thread");
}

int thisThreadNice() { return ::getpriority(PRIO_PROCESS, thisThreadId()); }

Status setThisThreadIdle() {
  sched_param param{};
  if (::sched_setscheduler(0, SCHED_IDLE, &param) == 0) return Ok{};
  return makeError(std::string(kThreadPriorityFailed),
                   std::string("cannot run this thread under SCHED_IDLE: ") + std::strerror(errno));
}

bool thisThreadIsIdle() { return ::sched_getscheduler(0) == SCHED_IDLE; }

Result<std::size_t> setNiceOfThreadsNamed(std::string_view namePrefix, int nice) {
  std::size_t set = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name;
    std::ifstream comm(it->path() / "comm");
    if (!std::getline(comm, name)) continue;  // the thread has just ended
    if (name.compare(0, namePrefix.size(), namePrefix) != 0) continue;
    id_t tid = 0;
    try {
      tid = static_cast<id_t>(std::stoul(it->path().filename().string()));
    } catch (const std::exception&) {
      continue;
    }
    if (::setpriority(PRIO_PROCESS, tid, nice) != 0) {
      if (errno == ESRCH) continue;  // ended since it was listed
      return niceError(errno, nice, "thread " + name);
    }
    ++set;
  }
  if (ec) return makeError(std::string(kThreadPriorityFailed), "/proc/self/task: " + ec.message());
  return set;
}

void setThisThreadNiceOrLog(LogSink& log, std::string_view thread, int nice,
                            std::string_view consequence) {
  if (auto s = setThisThreadNice(nice); !s.ok()) logNotSet(log, thread, s.error().message, consequence);
}

void setThisThreadIdleOrLog(LogSink& log, std::string_view thread, std::string_view consequence) {
  if (auto s = setThisThreadIdle(); !s.ok()) logNotSet(log, thread, s.error().message, consequence);
}

void setNiceOfThreadsNamedOrLog(LogSink& log, std::string_view namePrefix, int nice,
                                std::string_view consequence,
                                std::chrono::milliseconds appearWithin) {
  auto deadline = std::chrono::steady_clock::now() + appearWithin;
  auto set = setNiceOfThreadsNamed(namePrefix, nice);
  while (set.ok() && *set == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    set = setNiceOfThreadsNamed(namePrefix, nice);
  }
  if (!set.ok()) {
    logNotSet(log, namePrefix, set.error().message, consequence);
  } else if (*set == 0) {
    logNotSet(log, namePrefix, "no thread of that name found", consequence);
  }
}

}  // namespace pocket::util
