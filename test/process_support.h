#pragma once
// Child processes for the end-to-end tests (relay-edge, relay-test-backend, sm-double,
// relay-gateway): start one with its output in a log file, kill it when the test is done, read the
// files it writes, wait for a condition.

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pocket::test {

// Starts argv[0] (a path) with stdout and stderr into logFile; returns its pid.
inline pid_t spawnProcess(std::vector<std::string> argv, const std::string& logFile) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// A server process, killed (SIGKILL) and reaped when the object goes, unless stopped before.
struct ChildProcess {
  ChildProcess(std::vector<std::string> argv, const std::string& logFile)
      : pid(spawnProcess(std::move(argv), logFile)) {}
  ~ChildProcess() { stop(SIGKILL); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Sends `signal` and waits for the exit.
  void stop(int signal) {
    if (pid <= 0) return;
    ::kill(pid, signal);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
  pid_t pid = -1;  // -1 once reaped
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits until `predicate` holds, for at most `limit`; returns its last value.
template <class F>
bool waitFor(F predicate, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

}  // namespace pocket::test
