#include "text/regex.h"

#include <oniguruma.h>

#include <mutex>

#include "text/unicode.h"
#include "util/error.h"

namespace prefer::text {

namespace {
void init_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}
}  // namespace

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  init_oniguruma();
  OnigRegex re = nullptr;
  OnigErrorInfo info;
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern_.data());
  int r = onig_new(&re, p, p + pattern_.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
  if (r != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r, &info);
    throw Error("invalid regular expression /" + pattern_ + "/: " + reinterpret_cast<char*>(msg));
  }
  regex_ = re;
}

Regex::~Regex() {
  if (regex_ != nullptr) onig_free(static_cast<OnigRegex>(regex_));
}

Regex::Regex(Regex&& o) noexcept : pattern_(std::move(o.pattern_)), regex_(o.regex_) { o.regex_ = nullptr; }

Regex& Regex::operator=(Regex&& o) noexcept {
  if (this != &o) {
    if (regex_ != nullptr) onig_free(static_cast<OnigRegex>(regex_));
    pattern_ = std::move(o.pattern_);
    regex_ = o.regex_;
    o.regex_ = nullptr;
  }
  return *this;
}

std::vector<Regex::Match> Regex::find_all(std::string_view text) const {
  std::vector<Match> out;
  const auto* start = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = start + text.size();
  OnigRegion* region = onig_region_new();
  size_t pos = 0;
  while (pos <= text.size()) {
    int r = onig_search(static_cast<OnigRegex>(regex_), start, end, start + pos, end, region, ONIG_OPTION_NONE);
    if (r < 0) break;  // ONIG_MISMATCH (or an error, which a compiled tokenizer pattern does not raise)
    size_t b = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
    out.push_back({b, e});
    if (e > b) {
      pos = e;
    } else {
      if (b >= text.size()) break;
      pos = b + utf8_length(static_cast<unsigned char>(text[b]));
    }
  }
  onig_region_free(region, 1);
  return out;
}

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace prefer::text

namespace prefer::text {

Pattern Pattern::literal(std::string s) {
  Pattern p;
  p.literal_ = std::move(s);
  return p;
}

Pattern Pattern::regex(std::string_view re) {
  Pattern p;
  p.regex_ = std::make_shared<Regex>(re);
  return p;
}

std::vector<Regex::Match> Pattern::find_all(std::string_view text) const {
  if (regex_) return regex_->find_all(text);
  std::vector<Regex::Match> out;
  if (literal_.empty()) return out;  // an empty literal matches nothing useful; HF never writes one
  size_t pos = 0;
  while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
    out.push_back({pos, pos + literal_.size()});
    pos += literal_.size();
  }
  return out;
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  size_t last = 0;
  for (const auto& m : find_all(text)) {
    out.append(text.substr(last, m.begin - last));
    out.append(content);
    last = m.end;
  }
  out.append(text.substr(last));
  return out;
}

}  // namespace prefer::text
