// A small test harness for the engine, with no dependency beyond the standard library:
// each test registers itself, runs in order, and the binary prints one line per test and
// a closing "N passed, N failed" line.
#include "test/testing.h"

#include <cstdio>
#include <vector>

namespace nds::testing {

std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

int current_failures = 0;

}  // namespace nds::testing

int main(int argc, char** argv) {
  using namespace nds::testing;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (auto& test : registry()) {
    if (filter && std::string(test.name).find(filter) == std::string::npos) continue;
    current_failures = 0;
    test.fn();
    if (current_failures == 0) {
      ++passed;
      std::printf("ok   %s\n", test.name);
    } else {
      ++failed;
      std::printf("FAIL %s\n", test.name);
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
