// Files and helpers of the online RL e2e tests (ppo, grpo, rloo): a reward program that pays for the low
// half of the vocabulary, a prompts file, and metric series.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"
#include "util/json.h"

namespace prefer::test {

// The reward: the share of response tokens with an id below 160.
inline void write_reward_script(const std::filesystem::path& file) {
  test::write_bytes(file, R"(import * as readline from 'node:readline';
const rl = readline.createInterface({input: process.stdin});
const out = [];
rl.on('line', (l) => { const ids = JSON.parse(l).completion_ids; let n = 0; for (const t of ids) if (t < 160) n++; out.push(String(n / ids.length)); });
rl.on('close', () => process.stdout.write(out.join('\n') + '\n'));
)");
}

inline void write_prompts(const std::filesystem::path& file, int n, bool chat = false) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const std::string q = "Question " + std::to_string(i) + ": what is " + std::to_string(i) + " plus " + std::to_string(i + 1) + "?";
    if (chat) s += Json({{"messages", Json::array({{{"role", "user"}, {"content", q}}})}}).dump() + "\n";
    else if (i % 5 == 4) s += Json({{"input_ids", {1, 40 + i, 41, 42}}}).dump() + "\n";  // TRL's pre-tokenized column
    else s += Json({{"prompt", q}}).dump() + "\n";
  }
  test::write_bytes(file, s);
}

inline std::vector<double> series(const std::vector<Json>& rows, const std::string& key) {
  std::vector<double> out;
  for (const auto& r : rows) out.push_back(r.at(key).get<double>());
  return out;
}

inline double mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / static_cast<double>(to - from);
}

}  // namespace prefer::test
