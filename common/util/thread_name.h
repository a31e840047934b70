#pragma once
// Names the calling thread so that `top -H`, `ps -L`, `perf` and core dumps show what it does
// (for example "sm-ingest" instead of the binary's name on every thread).
//
// Threading: names only the calling thread; call it first thing in the thread's function.
// Errors: none; Linux keeps at most 15 characters, a longer name is cut there.

#include <string_view>

namespace pocket::util {

void nameThisThread(std::string_view name);

}  // namespace pocket::util
