// The real llama.cpp for GGUF checks: tools/llama/greedy.mjs (node-llama-cpp's prebuilt CPU binary),
// installed by scripts/setup.sh (npm ci in tools/llama).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "util/json.h"

namespace prefer::test {

inline std::filesystem::path llama_cpp_dir() { return std::filesystem::path(PREFER_SOURCE_DIR) / "tools" / "llama"; }

inline bool llama_cpp_installed() { return std::filesystem::exists(llama_cpp_dir() / "node_modules" / "node-llama-cpp" / "package.json"); }

// Runs greedy.mjs on `request` (its "runs": files, token cases, texts) in `tmp` and returns its JSON.
inline Json run_llama_cpp(const Json& request, const std::filesystem::path& tmp) {
  write_json_file(tmp / "request.json", request);
  const std::string cmd = "cd '" + llama_cpp_dir().string() + "' && node greedy.mjs '" + (tmp / "request.json").string() + "' > '" +
                          (tmp / "out.json").string() + "' 2> '" + (tmp / "err.txt").string() + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream e(tmp / "err.txt");
  EXPECT_EQ(rc, 0) << std::string((std::istreambuf_iterator<char>(e)), {});
  return read_json_file(tmp / "out.json");
}

}  // namespace prefer::test
