// tokenizer.json "pre_tokenizer": splits normalized text into pieces that the model encodes separately
// (ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, Sequence).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "text/component_error.h"

namespace prefer::text {

// How split matches are kept, as in HF tokenizers' SplitDelimiterBehavior.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokenizeOptions {
  // Index of the text section (sections are separated by added tokens); Metaspace's "first" prepend
  // scheme only prepends to section 0.
  size_t section_index = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by the pieces each one splits into (in order).
  void pre_tokenize(std::vector<std::string>& pieces, const PreTokenizeOptions& opt) const;
  virtual void split(const std::string& piece, const PreTokenizeOptions& opt, std::vector<std::string>& out) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const ComponentContext& ctx);

// Splits `text` at `matches` (byte ranges, in order) with HF's delimiter behaviour; `invert` swaps the
// roles of matches and the text between them. Empty pieces are dropped.
struct ByteRange {
  size_t begin, end;
};
std::vector<std::string> split_with_behavior(const std::string& text, const std::vector<ByteRange>& matches,
                                             SplitBehavior behavior, bool invert);

}  // namespace prefer::text
