#include "common/util/thread_name.h"

#include <pthread.h>

#include <string>

namespace pocket::util {

void nameThisThread(std::string_view name) {
  std::string shortened(name.substr(0, 15));  // the kernel's limit, without the terminator
  (void)pthread_setname_np(pthread_self(), shortened.c_str());
}

}  // namespace pocket::util
