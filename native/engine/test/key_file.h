// A key file for tests (a line of text, with the mode given), removed with the object.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "test/testing.h"

namespace nds::testing {

struct KeyFile {
  std::string path;
  KeyFile(const std::string& text, mode_t mode) {
    char name[] = "/tmp/nds-key-XXXXXX";
    int fd = mkstemp(name);
    path = name;
    if (fd >= 0) {
      const std::string line = text + "\n";
      EXPECT_TRUE(write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
      fchmod(fd, mode);
      close(fd);
    }
  }
  // New contents, the mode kept.
  void rewrite(const std::string& text) const {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return;
    std::fputs((text + "\n").c_str(), f);
    std::fclose(f);
  }
  ~KeyFile() { unlink(path.c_str()); }
  KeyFile(const KeyFile&) = delete;
  KeyFile& operator=(const KeyFile&) = delete;
};

}  // namespace nds::testing
