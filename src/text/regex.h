// Oniguruma, the regex engine Hugging Face tokenizers compiles tokenizer.json patterns with, so Split
// and Replace patterns (\p{L}, (?i:...), lookaheads) mean here what they mean there.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prefer::text {

class Regex {
 public:
  // Throws prefer::Error naming the pattern and Oniguruma's message when it does not compile.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  struct Match {
    size_t begin = 0;  // byte offsets into the searched text
    size_t end = 0;
  };
  // Every non-overlapping match, left to right; an empty match advances by one code point.
  std::vector<Match> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* regex_ = nullptr;  // OnigRegex; kept opaque so that oniguruma.h stays out of our headers
};

// Escapes `literal` so that it matches itself (Split / Replace with a "String" pattern).
std::string regex_escape(std::string_view literal);

}  // namespace prefer::text

namespace prefer::text {

// A tokenizer.json pattern: {"String": "literal"} or {"Regex": "oniguruma pattern"}.
class Pattern {
 public:
  static Pattern literal(std::string s);
  static Pattern regex(std::string_view re);
  std::vector<Regex::Match> find_all(std::string_view text) const;
  // Replaces every match with `content` (JS String.prototype.replaceAll semantics for both kinds).
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;
  std::shared_ptr<Regex> regex_;  // null for a literal
};

}  // namespace prefer::text
