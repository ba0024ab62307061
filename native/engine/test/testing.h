// Minimal assertion macros for the engine's native tests (see test_main.cc).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace nds::testing {

struct TestCase {
  const char* name;
  void (*fn)();
};
std::vector<TestCase>& registry();
extern int current_failures;

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

}  // namespace nds::testing

#define NDS_TEST(name)                                                   \
  static void name();                                                    \
  static ::nds::testing::Registrar registrar_##name(#name, name);        \
  static void name()

#define EXPECT_TRUE(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::printf("  %s:%d: expected %s\n", __FILE__, __LINE__, #cond);                \
      ++::nds::testing::current_failures;                                              \
    }                                                                                  \
  } while (0)

#define EXPECT_EQ(a, b)                                                                              \
  do {                                                                                               \
    auto&& va = (a);                                                                                 \
    auto&& vb = (b);                                                                                 \
    if (!(va == vb)) {                                                                               \
      std::printf("  %s:%d: expected %s == %s\n", __FILE__, __LINE__, #a, #b);                       \
      ++::nds::testing::current_failures;                                                            \
    }                                                                                                \
  } while (0)

#define ASSERT_TRUE(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::printf("  %s:%d: expected %s (fatal)\n", __FILE__, __LINE__, #cond);        \
      ++::nds::testing::current_failures;                                              \
      return;                                                                          \
    }                                                                                  \
  } while (0)
