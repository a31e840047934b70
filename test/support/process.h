#pragma once
// Process-level test support: child processes, bounded waits, temporary directories, files.
//
// ChildProcess starts a program (argv[0] is a path) with its stdout and stderr appended to one log
// file, and is killed with SIGKILL and reaped when the object goes if it still runs. A stopped
// process can be started again with the same arguments, environment and log file (a restart on
// the same state directory); output() is the whole log, outputOfThisRun() what the latest start
// wrote. describe() names the process, its state and the tail of its log, for failure messages.
//
// waitFor(condition, deadline, what) polls until the condition holds; its result converts to bool
// and prints "timed out after …s waiting for <what>" when a doctest assertion shows it. Deadlines
// only bound a failure: pass generous ones (kGenerous), never a figure a slow machine could miss.
//
// Threading: a ChildProcess is used from one thread at a time. Errors: a program that cannot be
// started, a directory or file that cannot be made throw std::runtime_error naming the path.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace pocket::testing {

// The deadline for anything a correct program does promptly: tens of seconds, so that a loaded
// machine never fails a test that a fast one passes.
inline constexpr std::chrono::milliseconds kGenerous{60000};

class ChildProcess {
 public:
  // Starts `argv` with `env` added to this process's environment; output appended to `logPath`.
  ChildProcess(std::string name, std::vector<std::string> argv, std::string logPath,
               std::map<std::string, std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }
  const std::string& logPath() const { return logPath_; }

  // True until the process has exited (and was reaped).
  bool running();
  // The raw wait status once the process ended; nullopt while it still runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // The exit code, or -signal when a signal ended it; nullopt while it still runs after `timeout`.
  std::optional<int> exitCode(std::chrono::milliseconds timeout);
  // SIGTERM, then the exit code (SIGKILL and -SIGKILL if it has not ended within `timeout`).
  int terminate(std::chrono::milliseconds timeout = kGenerous);
  // SIGKILL, reaped.
  void kill9();
  // Starts the ended process again with the same arguments, environment and log file.
  void restart();
  // The same, with other arguments.
  void restart(std::vector<std::string> argv);

  std::string output() const;
  std::string outputOfThisRun() const;
  // "<name> (pid N, running|exited with …): <argv>" and the last `tailBytes` of the log.
  std::string describe(std::size_t tailBytes = 4096) const;

 private:
  void start();
  std::string name_;
  std::vector<std::string> argv_;
  std::string logPath_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  std::optional<int> status_;  // set once reaped
  std::size_t runStart_ = 0;   // log offset where the latest start began
};

// A program run to its end: its exit code (-signal if killed) and everything it printed.
struct Run {
  int status = -1;
  std::string output;
};
// Runs `argv` to its end (killed after `timeout`), output into `logPath`.
Run runToEnd(const std::vector<std::string>& argv, const std::string& logPath,
             std::chrono::milliseconds timeout = kGenerous);

// What waitFor found: converts to bool; printed as the reason when it failed.
class Waited {
 public:
  Waited(bool ok, std::string what, std::chrono::milliseconds deadline)
      : ok_(ok), what_(std::move(what)), deadline_(deadline) {}
  explicit operator bool() const { return ok_; }
  friend std::ostream& operator<<(std::ostream& out, const Waited& w);

 private:
  bool ok_;
  std::string what_;
  std::chrono::milliseconds deadline_;
};

Waited waitForImpl(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
                   std::string what);

// Polls `condition` (every 10 ms) until it holds or `deadline` has passed.
template <class F>
Waited waitFor(F&& condition, std::chrono::milliseconds deadline, std::string what) {
  return waitForImpl(std::function<bool()>(std::forward<F>(condition)), deadline, std::move(what));
}
template <class F>
Waited waitFor(F&& condition, std::string what) {
  return waitFor(std::forward<F>(condition), kGenerous, std::move(what));
}

// The value of environment variable `variable`, which names a binary (or a list of them) the
// test starts; throws std::runtime_error naming the variable if it is unset or empty.
std::string binaryPath(const char* variable);

// A fresh directory under $TMPDIR, removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "pocket-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  operator const std::string&() const { return path_; }

 private:
  std::string path_;
};

// The file's bytes; "" when it does not exist (yet).
std::string readFile(const std::string& path);
// The file's first line without its line end ("" when absent): port files.
std::string readLine(const std::string& path);
// Writes `text` to `path` (replacing it) with permissions `mode`; throws on failure.
void writeFile(const std::string& path, const std::string& text, unsigned mode = 0644);

// Whether processes started by this one may set a thread to nice value `nice` (CAP_SYS_NICE, or
// an RLIMIT_NICE allowing it): tests of thread priorities expect the raise or its refusal.
bool mayRaiseThreadsTo(int nice);
// The name and nice value of each thread of process `pid`.
std::vector<std::pair<std::string, int>> threadNices(int pid);
// The scheduling policy (SCHED_OTHER, SCHED_IDLE, …) of each thread of process `pid`, by name (of
// threads sharing a name, one).
std::map<std::string, int> threadPolicies(int pid);

}  // namespace pocket::testing
