// Helpers shared by the test suites: fixture paths, temporary folders, running the CLI.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "util/error.h"

namespace prefer::test {

inline std::filesystem::path fixture(const std::string& rel) { return std::filesystem::path(PREFER_FIXTURE_DIR) / rel; }

// tools/reference: the npm packages the reference checks run under Node (scripts/setup.sh installs them).
inline std::filesystem::path reference_dir() { return std::filesystem::path(PREFER_SOURCE_DIR) / "tools" / "reference"; }

// A fresh folder under the system temp dir, removed with everything in it at scope end.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("prefer-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

// Expects `fn` to throw prefer::Error whose what() contains every one of `parts`.
#define EXPECT_ERROR_WITH(stmt, ...)                                                  \
  do {                                                                                \
    try {                                                                             \
      stmt;                                                                           \
      ADD_FAILURE() << "expected prefer::Error from: " #stmt;                         \
    } catch (const prefer::Error& e) {                                                \
      for (const char* part : {__VA_ARGS__})                                          \
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos)                \
            << "message: " << e.what() << "\n  lacks: " << part;                      \
    }                                                                                 \
  } while (0)

}  // namespace prefer::test
