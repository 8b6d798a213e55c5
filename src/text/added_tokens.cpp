#include "text/added_tokens.h"

#include "text/regex.h"
#include "text/unicode.h"

namespace prefer::text {

namespace {
// A word character for single_word matching (HF uses the regex \w: letters, marks, digits, underscore).
bool is_word_char_at(std::string_view s, size_t byte_pos, bool before) {
  if (before) {
    if (byte_pos == 0) return false;
    size_t start = byte_pos - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    static const Regex word(R"(\A\w)");
    return !word.find_all(s.substr(start, byte_pos - start)).empty();
  }
  if (byte_pos >= s.size()) return false;
  size_t n = utf8_length(static_cast<unsigned char>(s[byte_pos]));
  static const Regex word(R"(\A\w)");
  return !word.find_all(s.substr(byte_pos, n)).empty();
}
}  // namespace

void TokenSplitter::add(const std::string& content, bool single_word) {
  if (content.empty()) return;
  int32_t node = 0;
  for (unsigned char c : content) {
    auto it = nodes_[node].next.find(c);
    if (it == nodes_[node].next.end()) {
      nodes_.push_back(Node{});
      int32_t fresh = static_cast<int32_t>(nodes_.size() - 1);
      nodes_[node].next.emplace(c, fresh);
      node = fresh;
    } else {
      node = it->second;
    }
  }
  nodes_[node].token_len = static_cast<int32_t>(content.size());
  nodes_[node].single_word = single_word;
  first_byte_[static_cast<unsigned char>(content[0])] = true;
}

std::vector<TokenSplitter::Section> TokenSplitter::split(std::string_view text) const {
  std::vector<Section> out;
  size_t start = 0, i = 0;
  while (i < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    int32_t node = 0, best = -1;
    for (size_t j = i; j < text.size(); ++j) {
      auto it = nodes_[node].next.find(static_cast<unsigned char>(text[j]));
      if (it == nodes_[node].next.end()) break;
      node = it->second;
      const Node& nd = nodes_[node];
      if (nd.token_len > 0) {
        bool ok = !nd.single_word || (!is_word_char_at(text, i, true) && !is_word_char_at(text, j + 1, false));
        if (ok) best = nd.token_len;
      }
    }
    if (best > 0) {
      if (i > start) out.push_back({std::string(text.substr(start, i - start)), false});
      out.push_back({std::string(text.substr(i, static_cast<size_t>(best))), true});
      i += static_cast<size_t>(best);
      start = i;
    } else {
      ++i;
    }
  }
  if (start < text.size()) out.push_back({std::string(text.substr(start)), false});
  return out;
}

void AddedVocabulary::load(const Json& list, const ComponentContext& ctx) {
  if (list.is_null()) return;
  if (!list.is_array()) throw Error("expected a list", ctx.at());
  for (size_t i = 0; i < list.size(); ++i) {
    ErrorContext at{.file = ctx.file, .field = ctx.path + "[" + std::to_string(i) + "]"};
    const Json& e = list[i];
    AddedToken t;
    int64_t id = require_int(e, "id", at);
    if (id < 0) throw Error("negative id", at);
    t.id = static_cast<int32_t>(id);
    t.content = require_string(e, "content", at);
    t.single_word = opt_bool(e, "single_word", at).value_or(false);
    t.lstrip = opt_bool(e, "lstrip", at).value_or(false);
    t.rstrip = opt_bool(e, "rstrip", at).value_or(false);
    t.special = opt_bool(e, "special", at).value_or(false);
    t.normalized = opt_bool(e, "normalized", at).value_or(!t.special);
    tokens_.push_back(t);
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_content_[tokens_[i].content] = i;
    by_id_[tokens_[i].id] = i;
  }
}

void AddedVocabulary::build_splitters(const Normalizer* normalizer) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.normalized && normalizer != nullptr) {
      std::string form = normalizer->normalize(t.content);
      by_content_.emplace(form, i);
      normalized_.add(form, t.single_word);
    } else {
      raw_.add(t.content, t.single_word);
    }
  }
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

void apply_strip_flags(std::vector<TokenSplitter::Section>& sections, const AddedVocabulary& vocab) {
  for (size_t i = 0; i < sections.size(); ++i) {
    if (!sections[i].is_token) continue;
    const AddedToken* t = vocab.find(sections[i].text);
    if (t == nullptr) continue;
    if (t->lstrip && i > 0) sections[i - 1].text = std::string(trim_end_js(sections[i - 1].text));
    if (t->rstrip && i + 1 < sections.size()) sections[i + 1].text = std::string(trim_start_js(sections[i + 1].text));
  }
}

}  // namespace prefer::text
