// tokenizer.json "decoder": token strings -> text (ByteLevel, Metaspace, ByteFallback, Fuse, Strip,
// Replace, Sequence). Each step maps a list of strings to a list of strings; the result is joined.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "text/component_error.h"

namespace prefer::text {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens) const = 0;
  std::string decode(std::vector<std::string> tokens) const;
};

// `is_added` tells added tokens apart: the ByteLevel decoder passes them through unchanged, as the
// reference does (their text is not byte-level encoded).
using AddedTokenTest = std::function<bool(const std::string&)>;
std::unique_ptr<Decoder> make_decoder(const Json& j, const ComponentContext& ctx, const AddedTokenTest& is_added);

}  // namespace prefer::text
