// Runs a Node script of tools/ that prints one JSON document (the reference checks against real
// implementations: llama.cpp, Chromium, a TensorBoard reader) and returns that JSON; a non-zero exit
// fails the test with the script's stderr.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "util/json.h"

namespace prefer::test {

// `cd dir && node script args`, its stdout and stderr kept in `tmp` (`args` is quoted by the caller).
inline Json run_node_json(const std::filesystem::path& dir, const std::string& script, const std::string& args,
                          const std::filesystem::path& tmp) {
  const std::filesystem::path out = tmp / (script + ".out"), err = tmp / (script + ".err");
  const std::string cmd = "cd '" + dir.string() + "' && node " + script + " " + args + " > '" + out.string() + "' 2> '" + err.string() + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream e(err);
  EXPECT_EQ(rc, 0) << script << ": " << std::string((std::istreambuf_iterator<char>(e)), {});
  return read_json_file(out);
}

}  // namespace prefer::test
