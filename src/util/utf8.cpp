#include "util/utf8.h"

#include <utf8proc.h>

#include <cstdio>
#include <string>

namespace prefer {

std::optional<size_t> find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    // ASCII fast path: most text in preference data is ASCII.
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return i;
    i += static_cast<size_t>(n);
  }
  return std::nullopt;
}

bool is_valid_utf8(std::string_view s) { return !find_invalid_utf8(s).has_value(); }

void check_utf8(std::string_view s, const ErrorContext& ctx) {
  auto bad = find_invalid_utf8(s);
  if (!bad) return;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(s[*bad]));
  ErrorContext c = ctx;
  if (c.hint.empty()) c.hint = "re-encode the data as UTF-8";
  throw Error("invalid UTF-8 at byte " + std::to_string(*bad) + " (byte " + hex + ")", c);
}

}  // namespace prefer
