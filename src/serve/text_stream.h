// The text of a completion as its tokens arrive: deltas safe to send (no half of a multi-byte
// character, no beginning of what may turn into a stop string), cut before the first stop string as
// OpenAI does. Decodes the whole id list each step, so a decoder that joins tokens (SentencePiece
// spaces, byte-level pieces) gives the same text as decoding at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace prefer::serve {

class TextStream {
 public:
  using Decode = std::function<std::string(const std::vector<int32_t>&)>;
  TextStream(Decode decode, std::vector<std::string> stop);

  // Adds a token; returns the text that became safe to send (often empty). After a stop string
  // appears, stopped() is true and further tokens add nothing.
  std::string push(int32_t id);
  // The held-back rest, at the end of decoding.
  std::string finish();
  bool stopped() const { return stopped_; }
  // All text so far (cut at the stop string once one appeared).
  const std::string& text() const { return text_; }
  int64_t tokens() const { return static_cast<int64_t>(ids_.size()); }

 private:
  Decode decode_;
  std::vector<std::string> stop_;
  std::vector<int32_t> ids_;
  std::string text_;
  size_t sent_ = 0;
  bool stopped_ = false;
};

}  // namespace prefer::serve
