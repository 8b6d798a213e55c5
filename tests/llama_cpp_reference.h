// The real llama.cpp for GGUF checks: tools/llama/greedy.mjs (node-llama-cpp's prebuilt CPU binary),
// installed by scripts/setup.sh (npm ci in tools/llama).
#pragma once

#include <filesystem>

#include "node_json.h"
#include "util/json.h"

namespace prefer::test {

inline std::filesystem::path llama_cpp_dir() { return std::filesystem::path(PREFER_SOURCE_DIR) / "tools" / "llama"; }

inline bool llama_cpp_installed() { return std::filesystem::exists(llama_cpp_dir() / "node_modules" / "node-llama-cpp" / "package.json"); }

// Runs greedy.mjs on `request` (its "runs": files, token cases, texts) in `tmp` and returns its JSON.
inline Json run_llama_cpp(const Json& request, const std::filesystem::path& tmp) {
  write_json_file(tmp / "request.json", request);
  return run_node_json(llama_cpp_dir(), "greedy.mjs", "'" + (tmp / "request.json").string() + "'", tmp);
}

}  // namespace prefer::test
