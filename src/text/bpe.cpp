#include "text/bpe.h"

#include <cstdio>
#include <queue>

#include "text/unicode.h"

namespace prefer::text {

namespace {
constexpr size_t kCacheLimit = 200'000;  // words; cleared when full (pieces repeat a lot in real text)
uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
}  // namespace

BpeModel::BpeModel(BpeModel&& o) noexcept
    : vocab_(std::move(o.vocab_)), id_to_token_(std::move(o.id_to_token_)), merges_(std::move(o.merges_)),
      unk_id_(o.unk_id_), unk_token_(std::move(o.unk_token_)), continuing_subword_prefix_(std::move(o.continuing_subword_prefix_)),
      end_of_word_suffix_(std::move(o.end_of_word_suffix_)), byte_fallback_(o.byte_fallback_), fuse_unk_(o.fuse_unk_),
      ignore_merges_(o.ignore_merges_), byte_ids_(o.byte_ids_) {}

BpeModel& BpeModel::operator=(BpeModel&& o) noexcept {
  if (this != &o) {
    vocab_ = std::move(o.vocab_);
    id_to_token_ = std::move(o.id_to_token_);
    merges_ = std::move(o.merges_);
    unk_id_ = o.unk_id_;
    unk_token_ = std::move(o.unk_token_);
    continuing_subword_prefix_ = std::move(o.continuing_subword_prefix_);
    end_of_word_suffix_ = std::move(o.end_of_word_suffix_);
    byte_fallback_ = o.byte_fallback_;
    fuse_unk_ = o.fuse_unk_;
    ignore_merges_ = o.ignore_merges_;
    byte_ids_ = o.byte_ids_;
    cache_.clear();
  }
  return *this;
}

BpeModel BpeModel::from_json(const Json& j, const ComponentContext& ctx) {
  BpeModel m;
  const ErrorContext at = ctx.at();
  const Json& vocab = require_field(j, "vocab", at);
  if (!vocab.is_object()) throw Error("expected an object of token -> id", ctx.at("vocab"));
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    int64_t id = json_to_int(it.value(), {.file = ctx.file, .field = ctx.path + ".vocab." + it.key()});
    if (id < 0 || id > 50'000'000) throw Error("token id out of range", {.file = ctx.file, .field = ctx.path + ".vocab." + it.key()});
    m.add_token(it.key(), static_cast<int32_t>(id));
  }
  auto unk = opt_string(j, "unk_token", at);
  if (unk) {
    m.unk_token_ = *unk;
    m.unk_id_ = m.token_to_id(*unk);
  }
  m.continuing_subword_prefix_ = opt_string(j, "continuing_subword_prefix", at).value_or("");
  m.end_of_word_suffix_ = opt_string(j, "end_of_word_suffix", at).value_or("");
  m.byte_fallback_ = opt_bool(j, "byte_fallback", at).value_or(false);
  m.fuse_unk_ = opt_bool(j, "fuse_unk", at).value_or(false);
  m.ignore_merges_ = opt_bool(j, "ignore_merges", at).value_or(false);
  if (j.contains("dropout") && !j["dropout"].is_null() && j["dropout"].get<double>() > 0)
    throw Error("BPE dropout is a training-time option and is not supported", ctx.at("dropout"));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto id = m.token_to_id(name);
    m.byte_ids_[b] = id ? *id : -1;
  }

  const Json& merges = require_field(j, "merges", at);
  if (!merges.is_array()) throw Error("expected a list", ctx.at("merges"));
  m.merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const Json& e = merges[r];
    std::string a, b;
    if (e.is_string()) {  // "left right" (older files)
      const std::string& s = e.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos) throw Error("merge '" + s + "' has no space", ctx.at("merges[" + std::to_string(r) + "]"));
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {  // ["left", "right"]
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      throw Error("expected \"left right\" or [left, right]", ctx.at("merges[" + std::to_string(r) + "]"));
    }
    auto ia = m.token_to_id(a), ib = m.token_to_id(b), im = m.token_to_id(a + b);
    // A merge whose parts or result are not tokens can never fire on ids; HF refuses such files, the
    // reference ignores them. We ignore them too.
    if (!ia || !ib || !im) continue;
    m.merges_.emplace(pair_key(*ia, *ib), Merge{static_cast<int32_t>(r), *im});  // first (lowest) rank wins
  }
  return m;
}

void BpeModel::add_token(const std::string& content, int32_t id) {
  vocab_[content] = id;
  if (static_cast<size_t>(id) >= id_to_token_.size()) id_to_token_.resize(static_cast<size_t>(id) + 1);
  id_to_token_[static_cast<size_t>(id)] = content;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string& BpeModel::id_to_token(int32_t id) const {
  static const std::string empty;
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return empty;
  return id_to_token_[static_cast<size_t>(id)];
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto id = token_to_id(word)) {
      out.push_back(*id);
      return;
    }
  }
  std::string key(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheLimit) cache_.clear();
  cache_.emplace(std::move(key), std::move(ids));
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  // Initial symbols: one per code point (prefix/suffix applied as HF does); unknown ones become byte
  // tokens (byte_fallback) or unk; kDropped marks one the reference drops (no unk token defined).
  constexpr int32_t kDropped = -2;
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> syms;
  std::vector<std::string> chars = split_code_points(word);
  for (size_t i = 0; i < chars.size(); ++i) {
    std::string s = chars[i];
    if (i > 0) s = continuing_subword_prefix_ + s;
    if (i + 1 == chars.size()) s += end_of_word_suffix_;
    auto id = token_to_id(s);
    if (id) {
      syms.push_back({*id, 0, 0, true});
      continue;
    }
    bool bytes_ok = byte_fallback_;
    for (unsigned char c : chars[i]) bytes_ok = bytes_ok && byte_ids_[c] >= 0;
    if (bytes_ok) {
      for (unsigned char c : chars[i]) syms.push_back({byte_ids_[c], 0, 0, true});
    } else if (unk_id_) {
      syms.push_back({*unk_id_, 0, 0, true});  // fuse_unk is applied over the whole section by the caller
    } else {
      syms.push_back({kDropped, 0, 0, true});  // no unk token: the reference drops the piece
    }
  }
  const int32_t n = static_cast<int32_t>(syms.size());
  for (int32_t i = 0; i < n; ++i) {
    syms[i].prev = i - 1;
    syms[i].next = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank, pos, left_id, right_id, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push = [&](int32_t pos) {
    if (pos < 0) return;
    int32_t nx = syms[pos].next;
    if (nx < 0) return;
    auto it = merges_.find(pair_key(syms[pos].id, syms[nx].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, syms[pos].id, syms[nx].id, it->second.id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[c.pos];
    if (!left.alive || left.id != c.left_id || left.next < 0) continue;
    Symbol& right = syms[left.next];
    if (!right.alive || right.id != c.right_id) continue;
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = c.pos;
    push(left.prev);
    push(c.pos);
  }
  // Symbol 0 is never merged away (only right-hand symbols die), so the chain starts there.
  for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = syms[i].next)
    if (syms[i].id != kDropped) out.push_back(syms[i].id);
}

}  // namespace prefer::text
