// Runs a fuzz target over every file of a corpus folder, so that inputs which once crashed are
// replayed by every test run (with the sanitizers in the sanitizer build). Prints
// `N passed, 0 failed`; a crash or sanitizer report fails the test by itself.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("usage: %s CORPUS_DIR\nRuns the fuzz target over every file of CORPUS_DIR.\n",
                argv[0]);
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  std::error_code error;
  if (!std::filesystem::is_directory(argv[1], error)) {
    std::fprintf(stderr, "corpus folder %s does not exist\n", argv[1]);
    return 1;
  }
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    ++inputs;
  }
  if (inputs == 0) {
    std::fprintf(stderr, "corpus folder %s is empty\n", argv[1]);
    return 1;
  }
  std::printf("%d passed, 0 failed\n", inputs);
  return 0;
}
