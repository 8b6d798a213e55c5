#include "text/pre_tokenizer.h"

#include "text/byte_level.h"
#include "text/regex.h"
#include "text/unicode.h"
#include "text/normalizer.h"

namespace prefer::text {

void PreTokenizer::pre_tokenize(std::vector<std::string>& pieces, const PreTokenizeOptions& opt) const {
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) split(p, opt, out);
  pieces = std::move(out);
}

std::vector<std::string> split_with_behavior(const std::string& text, const std::vector<ByteRange>& matches,
                                             SplitBehavior behavior, bool invert) {
  // (range, is_match) covering the whole text, then merged by behaviour; mirrors HF's
  // NormalizedString::split so that tokens come out as the Rust library makes them.
  struct Piece {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Piece> parts;
  size_t prev = 0;
  for (const auto& m : matches) {
    if (m.begin == m.end) continue;
    if (prev != m.begin) parts.push_back({prev, m.begin, false});
    parts.push_back({m.begin, m.end, true});
    prev = m.end;
  }
  if (prev != text.size()) parts.push_back({prev, text.size(), false});
  if (invert)
    for (auto& p : parts) p.is_match = !p.is_match;

  std::vector<Piece> kept;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& p : parts)
        if (!p.is_match) kept.push_back(p);
      break;
    case SplitBehavior::Isolated: kept = parts; break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& p : parts) {
        if (p.is_match && !previous_match && !kept.empty()) kept.back().end = p.end;
        else kept.push_back(p);
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) kept.back().begin = it->begin;
        else kept.push_back(*it);
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    case SplitBehavior::Contiguous:
      for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0 && parts[i].is_match == previous_match && !kept.empty()) kept.back().end = parts[i].end;
        else kept.push_back(parts[i]);
        previous_match = parts[i].is_match;
      }
      break;
  }
  std::vector<std::string> out;
  for (const auto& p : kept)
    if (p.end > p.begin) out.push_back(text.substr(p.begin, p.end - p.begin));
  return out;
}

namespace {

std::vector<ByteRange> ranges(const std::vector<Regex::Match>& ms) {
  std::vector<ByteRange> out;
  out.reserve(ms.size());
  for (const auto& m : ms) out.push_back({m.begin, m.end});
  return out;
}

// GPT-2's pattern; with use_regex the text is cut into its matches before the byte mapping.
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern);
  }
  void split(const std::string& piece, const PreTokenizeOptions&, std::vector<std::string>& out) const override {
    std::string text = add_prefix_space_ && (piece.empty() || piece[0] != ' ') ? " " + piece : piece;
    if (!regex_) {
      out.push_back(bytes_to_unicode_string(text));
      return;
    }
    for (const auto& m : regex_->find_all(text))
      if (m.end > m.begin) out.push_back(bytes_to_unicode_string(std::string_view(text).substr(m.begin, m.end - m.begin)));
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

class Split : public PreTokenizer {
 public:
  Split(Pattern p, SplitBehavior b, bool invert) : pattern_(std::move(p)), behavior_(b), invert_(invert) {}
  void split(const std::string& piece, const PreTokenizeOptions&, std::vector<std::string>& out) const override {
    for (auto& s : split_with_behavior(piece, ranges(pattern_.find_all(piece)), behavior_, invert_)) out.push_back(std::move(s));
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Regex-driven splitters with a fixed pattern (Digits, Punctuation, Whitespace, WhitespaceSplit).
class RegexSplit : public PreTokenizer {
 public:
  RegexSplit(const std::string& pattern, SplitBehavior b, bool invert) : regex_(pattern), behavior_(b), invert_(invert) {}
  void split(const std::string& piece, const PreTokenizeOptions&, std::vector<std::string>& out) const override {
    for (auto& s : split_with_behavior(piece, ranges(regex_.find_all(piece)), behavior_, invert_)) out.push_back(std::move(s));
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class Metaspace : public PreTokenizer {
 public:
  Metaspace(std::string replacement, std::string scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(std::move(scheme)), split_(split) {}
  void split(const std::string& piece, const PreTokenizeOptions& opt, std::vector<std::string>& out) const override {
    std::string text = Pattern::literal(" ").replace_all(piece, replacement_);
    bool prepend = scheme_ == "always" || (scheme_ == "first" && opt.section_index == 0);
    if (prepend && text.compare(0, replacement_.size(), replacement_) != 0) text = replacement_ + text;
    if (!split_) {
      out.push_back(std::move(text));
      return;
    }
    // Each piece starts at a replacement character (MergedWithNext), as HF's Metaspace with split=true.
    for (auto& s : split_with_behavior(text, ranges(Pattern::literal(replacement_).find_all(text)),
                                       SplitBehavior::MergedWithNext, false))
      out.push_back(std::move(s));
  }

 private:
  std::string replacement_, scheme_;
  bool split_;
};

class PreTokenizerSequence : public PreTokenizer {
 public:
  explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void split(const std::string& piece, const PreTokenizeOptions& opt, std::vector<std::string>& out) const override {
    std::vector<std::string> pieces{piece};
    for (const auto& p : parts_)
      if (p) p->pre_tokenize(pieces, opt);
    for (auto& s : pieces) out.push_back(std::move(s));
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

SplitBehavior parse_behavior(const Json& j, const ComponentContext& ctx, SplitBehavior dflt) {
  auto b = opt_string(j, "behavior", ctx.at());
  if (!b) return dflt;
  if (*b == "Removed") return SplitBehavior::Removed;
  if (*b == "Isolated") return SplitBehavior::Isolated;
  if (*b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (*b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (*b == "Contiguous") return SplitBehavior::Contiguous;
  throw Error("unknown split behavior '" + *b + "'", {.file = ctx.file, .field = ctx.path + ".behavior",
              .hint = "expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous"});
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const ComponentContext& ctx) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, ctx);
  const ErrorContext at = ctx.at();
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(opt_bool(j, "add_prefix_space", at).value_or(false),
                                       opt_bool(j, "use_regex", at).value_or(true));
  if (type == "Split")
    return std::make_unique<Split>(make_pattern(require_field(j, "pattern", at), ctx),
                                   parse_behavior(j, ctx, SplitBehavior::Isolated), opt_bool(j, "invert", at).value_or(false));
  if (type == "Metaspace") {
    std::string scheme = opt_string(j, "prepend_scheme", at).value_or("");
    if (scheme.empty()) {  // older files: add_prefix_space instead of prepend_scheme
      scheme = opt_bool(j, "add_prefix_space", at).value_or(true) ? "always" : "never";
    }
    if (scheme != "always" && scheme != "first" && scheme != "never")
      throw Error("unknown prepend_scheme '" + scheme + "'", {.file = ctx.file, .field = ctx.path + ".prepend_scheme",
                  .hint = "expected always, first or never"});
    return std::make_unique<Metaspace>(opt_string(j, "replacement", at).value_or("\xE2\x96\x81"), scheme,
                                       opt_bool(j, "split", at).value_or(true));
  }
  if (type == "Digits")
    // HF splits on char::is_numeric (every N* category), contiguous digits together unless individual.
    return std::make_unique<RegexSplit>("\\p{N}", opt_bool(j, "individual_digits", at).value_or(false)
                                                      ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false);
  if (type == "Punctuation")
    // HF's is_punc: Unicode P* categories plus the ASCII symbol ranges; one match per character.
    return std::make_unique<RegexSplit>(R"([\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E])",
                                        parse_behavior(j, ctx, SplitBehavior::Isolated), false);
  if (type == "Whitespace") return std::make_unique<RegexSplit>(R"(\w+|[^\w\s]+)", SplitBehavior::Removed, true);
  if (type == "WhitespaceSplit") return std::make_unique<RegexSplit>(R"(\s+)", SplitBehavior::Removed, false);
  if (type == "Sequence") {
    const Json& list = require_field(j, "pretokenizers", at);
    if (!list.is_array()) throw Error("expected a list", ctx.at("pretokenizers"));
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i)
      parts.push_back(make_pre_tokenizer(list[i], ctx.child(".pretokenizers[" + std::to_string(i) + "]")));
    return std::make_unique<PreTokenizerSequence>(std::move(parts));
  }
  throw_unsupported("pre-tokenizer", type,
                    {"ByteLevel", "Split", "Metaspace", "Digits", "Punctuation", "Whitespace", "WhitespaceSplit", "Sequence"}, ctx);
}

}  // namespace prefer::text
