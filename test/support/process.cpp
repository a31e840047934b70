#include "test/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace pocket::testing {

namespace {

std::size_t fileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::size_t>(st.st_size);
}

std::string statusText(const std::optional<int>& status) {
  if (!status) return "running";
  if (WIFEXITED(*status)) return "exited with code " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return "killed by signal " + std::to_string(WTERMSIG(*status));
  return "ended with wait status " + std::to_string(*status);
}

}  // namespace

ChildProcess::ChildProcess(std::string name, std::vector<std::string> argv, std::string logPath,
                           std::map<std::string, std::string> env)
    : name_(std::move(name)), argv_(std::move(argv)), logPath_(std::move(logPath)),
      env_(std::move(env)) {
  if (argv_.empty()) throw std::runtime_error(name_ + ": no program to start");
  start();
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) kill9();
}

void ChildProcess::start() {
  runStart_ = fileSize(logPath_);
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  // This process's environment with env_ on top.
  std::vector<std::string> envText;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string key = entry.substr(0, entry.find('='));
    if (env_.count(key) == 0) envText.push_back(entry);
  }
  for (const auto& [k, v] : env_) envText.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envText) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, logPath_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error(name_ + ": cannot start " + argv_[0] + ": " + std::strerror(rc));
  }
  status_.reset();
}

bool ChildProcess::running() {
  return !wait(std::chrono::milliseconds(0)).has_value();
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_ && pid_ > 0) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

std::optional<int> ChildProcess::exitCode(std::chrono::milliseconds timeout) {
  auto status = wait(timeout);
  if (!status) return std::nullopt;
  if (WIFEXITED(*status)) return WEXITSTATUS(*status);
  return -WTERMSIG(*status);
}

int ChildProcess::terminate(std::chrono::milliseconds timeout) {
  if (!status_) ::kill(pid_, SIGTERM);
  auto code = exitCode(timeout);
  if (code) return *code;
  kill9();
  return -SIGKILL;
}

void ChildProcess::kill9() {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = status;
}

void ChildProcess::restart() {
  if (!status_) throw std::runtime_error(name_ + ": restart while still running");
  start();
}

void ChildProcess::restart(std::vector<std::string> argv) {
  if (argv.empty()) throw std::runtime_error(name_ + ": no program to start");
  argv_ = std::move(argv);
  restart();
}

std::string ChildProcess::output() const {
  return readFile(logPath_);
}

std::string ChildProcess::outputOfThisRun() const {
  std::string all = output();
  return runStart_ <= all.size() ? all.substr(runStart_) : all;
}

std::string ChildProcess::describe(std::size_t tailBytes) const {
  std::ostringstream out;
  out << name_ << " (pid " << pid_ << ", " << statusText(status_) << "):";
  for (const auto& a : argv_) out << ' ' << a;
  std::string log = output();
  out << "\n--- last " << std::min(tailBytes, log.size()) << " bytes of " << logPath_ << " ---\n";
  out << (log.size() > tailBytes ? log.substr(log.size() - tailBytes) : log);
  if (!log.empty() && log.back() != '\n') out << '\n';
  return out.str();
}

Run runToEnd(const std::vector<std::string>& argv, const std::string& logPath,
             std::chrono::milliseconds timeout) {
  std::string name = std::filesystem::path(argv.at(0)).filename().string();
  std::filesystem::remove(logPath);
  ChildProcess process(name, argv, logPath);
  Run run;
  auto code = process.exitCode(timeout);
  if (!code) {
    process.kill9();
    code = process.exitCode(std::chrono::milliseconds(0));
  }
  run.status = code.value_or(-1);
  run.output = process.output();
  return run;
}

std::ostream& operator<<(std::ostream& out, const Waited& w) {
  if (w.ok_) return out << "done: " << w.what_;
  return out << "timed out after " << std::chrono::duration<double>(w.deadline_).count()
             << " s waiting for " << w.what_;
}

Waited waitForImpl(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
                   std::string what) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return Waited(true, std::move(what), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Waited(condition(), std::move(what), deadline);
}

std::string binaryPath(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string("environment variable ") + variable +
                             " is not set: it names the binary this test starts (meson test sets "
                             "it; see test/support/README.md)");
  }
  return value;
}

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot make a temporary directory " + pattern + ": " +
                             std::strerror(errno));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string readLine(const std::string& path) {
  std::string text = readFile(path);
  return text.substr(0, text.find_first_of("\r\n"));
}

void writeFile(const std::string& path, const std::string& text, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

bool mayRaiseThreadsTo(int nice) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      if (((caps >> 23) & 1) != 0) return true;  // CAP_SYS_NICE
    }
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NICE, &limit) != 0) return false;
  return 20 - static_cast<long long>(limit.rlim_cur) <= nice;
}

namespace {

// Field `index` (proc(5) numbering) of /proc/PID/task/*/stat for each thread of `pid`, by name.
std::vector<std::pair<std::string, long long>> threadStatField(int pid, int index) {
  std::vector<std::pair<std::string, long long>> out;
  std::error_code ec;
  auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (std::filesystem::directory_iterator it(tasks, ec), end; !ec && it != end; it.increment(ec)) {
    std::ifstream stat(it->path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // pid (comm) state ppid … : comm may hold spaces, so fields are counted after the last ')'.
    auto open = text.find('(');
    auto close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    for (int at = 3; fields >> field; ++at) {
      if (at == index) {
        out.emplace_back(text.substr(open + 1, close - open - 1), std::stoll(field));
        break;
      }
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, int>> threadNices(int pid) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [name, nice] : threadStatField(pid, 19)) {  // proc(5): the nice value
    out.emplace_back(name, static_cast<int>(nice));
  }
  return out;
}

std::map<std::string, int> threadPolicies(int pid) {
  std::map<std::string, int> out;
  for (const auto& [name, policy] : threadStatField(pid, 41)) {  // proc(5): the policy
    out[name] = static_cast<int>(policy);
  }
  return out;
}

}  // namespace pocket::testing
