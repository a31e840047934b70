#include "common/util/process_signals.h"

#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdio>

namespace pocket::util {

namespace {

sigset_t terminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void blockTerminationSignals() {
  sigset_t set = terminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int waitForTerminationSignal() {
  sigset_t set = terminationSignals();
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

int usageError(std::string_view usage) {
  std::fwrite(usage.data(), 1, usage.size(), stderr);
  return 2;
}

}  // namespace pocket::util
