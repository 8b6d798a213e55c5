#include "serve/text_stream.h"

#include <algorithm>

namespace prefer::serve {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD: a decoder's stand-in for a partial character

// Bytes at the end of `text` (after `from`) that could still grow into one of `stops`.
size_t stop_prefix_tail(const std::string& text, size_t from, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops) {
    for (size_t k = std::min(s.size() - 1, text.size() - from); k > hold; --k) {
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

TextStream::TextStream(Decode decode, std::vector<std::string> stop) : decode_(std::move(decode)), stop_(std::move(stop)) {}

std::string TextStream::push(int32_t id) {
  if (stopped_) return {};
  ids_.push_back(id);
  text_ = decode_(ids_);
  if (text_.size() < sent_) text_.resize(sent_);  // a decoder never takes back sent text; keep it if one did
  // The earliest stop string that ends in the new text (it may begin inside text already sent).
  size_t cut = std::string::npos;
  size_t longest = 0;
  for (const auto& s : stop_) longest = std::max(longest, s.size());
  const size_t search_from = sent_ > longest ? sent_ - longest : 0;
  for (const auto& s : stop_) {
    size_t at = text_.find(s, search_from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut != std::string::npos) {
    stopped_ = true;
    text_.resize(std::max(cut, sent_));
    std::string delta = text_.substr(sent_);
    sent_ = text_.size();
    return delta;
  }
  size_t safe = text_.size() - stop_prefix_tail(text_, sent_, stop_);
  if (text_.size() >= sent_ + kReplacement.size() && std::string_view(text_).substr(text_.size() - kReplacement.size()) == kReplacement)
    safe = std::min(safe, text_.size() - kReplacement.size());
  if (safe <= sent_) return {};
  std::string delta = text_.substr(sent_, safe - sent_);
  sent_ = safe;
  return delta;
}

std::string TextStream::finish() {
  std::string delta = text_.substr(std::min(sent_, text_.size()));
  sent_ = text_.size();
  return delta;
}

}  // namespace prefer::serve
