#include "eval/judge_cache.h"

#include <cmath>

#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"

namespace prefer::eval {

namespace fs = std::filesystem;

namespace {

std::optional<Verdict> verdict_from(const std::string& s) {
  if (s == "A") return Verdict::A;
  if (s == "B") return Verdict::B;
  if (s == "C") return Verdict::Tie;
  return std::nullopt;
}

}  // namespace

JudgeCache::JudgeCache(fs::path file) : file_(std::move(file)) {
  if (file_.empty()) return;
  fs::create_directories(file_.parent_path());
  if (fs::exists(file_)) {
    // A line cut short by a crash is skipped: the verdict is asked again.
    std::string text = read_file(file_);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) break;
      try {
        Json j = Json::parse(text.substr(pos, end - pos));
        if (auto v = verdict_from(j.value("verdict", ""))) verdicts_[j.value("key", "")] = *v;
        if (j.contains("score") && j["score"].is_number()) scores_[j.value("key", "")] = j["score"].get<double>();
      } catch (const std::exception&) {
      }
      pos = end + 1;
    }
  }
  out_ = std::fopen(file_.c_str(), "a");
  if (out_ == nullptr) throw Error("cannot write the judge cache", {.file = file_.string(), .hint = "pass --no_judge_cache to run without it"});
}

JudgeCache::~JudgeCache() {
  if (out_ != nullptr) std::fclose(out_);
}

std::string JudgeCache::key(const std::string& identity, const JudgeItem& item) {
  const Json k = {identity, item.question, item.prompt.dump(), item.answer_a, item.answer_b};
  return hex64(hash_bytes(k.dump()));
}

std::optional<Verdict> JudgeCache::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = verdicts_.find(key);
  if (it == verdicts_.end()) return std::nullopt;
  ++hits_;
  return it->second;
}

void JudgeCache::put(const std::string& key, Verdict v) {
  if (v == Verdict::Error) return;
  std::lock_guard lock(mu_);
  verdicts_[key] = v;
  append({{"key", key}, {"verdict", verdict_name(v)}});
}

std::optional<double> JudgeCache::get_score(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = scores_.find(key);
  if (it == scores_.end()) return std::nullopt;
  ++hits_;
  return it->second;
}

void JudgeCache::put_score(const std::string& key, double score) {
  if (std::isnan(score)) return;
  std::lock_guard lock(mu_);
  scores_[key] = score;
  append({{"key", key}, {"score", score}});
}

void JudgeCache::append(const Json& j) {
  if (out_ == nullptr) return;
  const std::string line = j.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

std::vector<Verdict> judge_cached(Judge& judge, JudgeCache& cache, const std::vector<JudgeItem>& items) {
  std::vector<Verdict> out(items.size(), Verdict::Error);
  std::vector<JudgeItem> todo;
  std::vector<size_t> where;
  std::vector<std::string> keys(items.size());
  const std::string id = judge.identity();
  for (size_t i = 0; i < items.size(); ++i) {
    keys[i] = JudgeCache::key(id, items[i]);
    if (auto v = cache.get(keys[i])) {
      out[i] = *v;
    } else {
      todo.push_back(items[i]);
      where.push_back(i);
    }
  }
  if (!todo.empty())
    judge.judge(todo, [&](size_t k, Verdict v) {
      out[where[k]] = v;
      cache.put(keys[where[k]], v);
    });
  return out;
}

std::vector<double> grade_cached(Judge& judge, JudgeCache& cache, const std::vector<JudgeItem>& items) {
  std::vector<double> out(items.size(), std::nan(""));
  std::vector<JudgeItem> todo;
  std::vector<size_t> where;
  std::vector<std::string> keys(items.size());
  const std::string id = judge.identity() + "|single";
  for (size_t i = 0; i < items.size(); ++i) {
    JudgeItem one = items[i];
    one.answer_b.clear();
    keys[i] = JudgeCache::key(id, one);
    if (auto v = cache.get_score(keys[i])) {
      out[i] = *v;
    } else {
      todo.push_back(items[i]);
      where.push_back(i);
    }
  }
  if (!todo.empty())
    judge.grade(todo, [&](size_t k, double v) {
      out[where[k]] = v;
      cache.put_score(keys[where[k]], v);
    });
  return out;
}

}  // namespace prefer::eval
