// tokenizer.json "post_processor": adds special tokens around an encoded sequence (BOS/EOS), for
// TemplateProcessing; ByteLevel's post-processing only touches offsets, which we do not track.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "text/component_error.h"

namespace prefer::text {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Returns the ids of the final sequence. Special tokens are added only when `add_special_tokens`.
  virtual std::vector<int32_t> process(std::vector<int32_t> ids, bool add_special_tokens) const = 0;
};

// `lookup` maps a token string to its id (special tokens named in a template).
using TokenLookup = std::function<std::optional<int32_t>(const std::string&)>;
std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const ComponentContext& ctx, const TokenLookup& lookup);

}  // namespace prefer::text
