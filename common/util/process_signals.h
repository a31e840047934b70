#pragma once
// The start and stop shape every binary's main() shares: the usage text for wrong arguments, and
// stopping on SIGTERM / SIGINT, which are delivered to main()'s thread only.
//
//   blockTerminationSignals();         // first, before any thread starts (threads inherit it)
//   ... build and start the components ...
//   int signal = waitForTerminationSignal();
//   ... stop the components in order ...
//
// Threading: call both from main()'s thread. Errors: none (the system calls cannot fail with
// these arguments).

#include <string_view>

namespace pocket::util {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards, so that
// only waitForTerminationSignal() receives them; ignores SIGPIPE (a peer that went away is an
// error on the socket, not the end of the process).
void blockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns its number. Needs blockTerminationSignals().
int waitForTerminationSignal();

// Writes `usage` to stderr and returns 2, the exit status of a usage error.
int usageError(std::string_view usage);

}  // namespace pocket::util
