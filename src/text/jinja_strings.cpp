#include "text/jinja_strings.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdio>

#include "text/jinja_error.h"

namespace prefer::text::jinja {

namespace {

bool is_cased(char32_t cp) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

char32_t to_upper(char32_t cp) {
  return cp == U'ß' ? cp : static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}
char32_t to_lower(char32_t cp) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))); }
// ß has no one-to-one title case (Python gives "Ss"); it stays as is rather than becoming U+1E9E.
char32_t to_title(char32_t cp) {
  return cp == U'ß' ? cp : static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)));
}

template <typename F>
std::string map_code_points(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : utf8_decode(s)) utf8_append(out, f(cp));
  return out;
}

bool contains(const std::u32string& set, char32_t cp) { return set.find(cp) != std::u32string::npos; }

}  // namespace

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    char32_t cp;
    size_t n;
    if (b < 0x80) {
      cp = b, n = 1;
    } else if (b < 0xE0) {
      cp = b & 0x1F, n = 2;
    } else if (b < 0xF0) {
      cp = b & 0x0F, n = 3;
    } else {
      cp = b & 0x07, n = 4;
    }
    for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) utf8_append(out, cp);
  return out;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool py_isspace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool py_isprintable(char32_t cp) {
  if (cp == ' ') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

namespace {
// Decodes the code point starting at s[i]; sets `len` to its byte length.
char32_t decode_at(std::string_view s, size_t i, size_t& len) {
  auto b = static_cast<unsigned char>(s[i]);
  len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  len = std::min(len, s.size() - i);
  return utf8_decode(s.substr(i, len))[0];
}
}  // namespace

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  // Only the ends are decoded: stripping a long message costs what is stripped, not its length.
  std::u32string set = chars ? utf8_decode(*chars) : std::u32string();
  auto strip_it = [&](char32_t cp) { return chars ? contains(set, cp) : py_isspace(cp); };
  size_t b = 0, e = s.size(), len = 0;
  if (left)
    while (b < e && strip_it(decode_at(s, b, len))) b += len;
  if (right) {
    while (e > b) {
      size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      if (!strip_it(decode_at(s, start, len))) break;
      e = start;
    }
  }
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  int64_t budget = maxsplit < 0 ? INT64_MAX : maxsplit;
  if (sep) {
    if (sep->empty()) throw EvalError("empty separator");
    size_t start = 0;
    while (budget-- > 0) {
      size_t at = s.find(*sep, start);
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  // CPython's split_whitespace, on code points.
  std::u32string cps = utf8_decode(s);
  size_t i = 0, n = cps.size();
  while (budget-- > 0) {
    while (i < n && py_isspace(cps[i])) ++i;
    if (i == n) break;
    size_t j = i++;
    while (i < n && !py_isspace(cps[i])) ++i;
    out.push_back(utf8_encode(std::u32string_view(cps).substr(j, i - j)));
  }
  if (i < n) {
    while (i < n && py_isspace(cps[i])) ++i;
    if (i != n) out.push_back(utf8_encode(std::u32string_view(cps).substr(i)));
  }
  return out;
}

std::vector<std::string> py_splitlines(std::string_view s) {
  std::u32string cps = utf8_decode(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < cps.size()) {
    char32_t c = cps[i];
    bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
               c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    out.push_back(utf8_encode(std::u32string_view(cps).substr(start, i - start)));
    i += (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ? 2 : 1;
    start = i;
  }
  if (start < cps.size()) out.push_back(utf8_encode(std::u32string_view(cps).substr(start)));
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  int64_t budget = count < 0 ? INT64_MAX : count;
  std::string out;
  if (old.empty()) {
    // Python inserts `repl` before every code point and at the end.
    std::u32string cps = utf8_decode(s);
    for (char32_t cp : cps) {
      if (budget > 0) out.append(repl), --budget;
      utf8_append(out, cp);
    }
    if (budget > 0) out.append(repl);
    return out;
  }
  size_t start = 0;
  while (budget > 0) {
    size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out.append(s.substr(start, at - start)).append(repl);
    start = at + old.size();
    --budget;
  }
  out.append(s.substr(start));
  return out;
}

int64_t py_find(std::string_view s, std::string_view sub) {
  size_t at = s.find(sub);
  return at == std::string_view::npos ? -1 : static_cast<int64_t>(code_point_count(s.substr(0, at)));
}

int64_t py_count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(code_point_count(s)) + 1;
  int64_t n = 0;
  for (size_t at = s.find(sub); at != std::string_view::npos; at = s.find(sub, at + sub.size())) ++n;
  return n;
}

std::string py_upper(std::string_view s) {
  // Python's full mapping turns ß into "SS"; utf8proc's one-to-one mapping would give U+1E9E.
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : utf8_decode(s)) {
    if (cp == U'ß') out += "SS";
    else utf8_append(out, to_upper(cp));
  }
  return out;
}
std::string py_lower(std::string_view s) { return map_code_points(s, to_lower); }

std::string py_title(std::string_view s) {
  bool previous_is_cased = false;
  return map_code_points(s, [&](char32_t cp) {
    char32_t r = previous_is_cased ? to_lower(cp) : to_title(cp);
    previous_is_cased = is_cased(cp);
    return r;
  });
}

std::string py_capitalize(std::string_view s) {
  bool first = true;
  return map_code_points(s, [&](char32_t cp) {
    char32_t r = first ? to_title(cp) : to_lower(cp);
    first = false;
    return r;
  });
}

namespace {
// 0 = no cased characters, 1 = only lower-case ones, 2 = only upper/title-case ones, 3 = both.
int case_profile(std::string_view s) {
  int p = 0;
  for (char32_t cp : utf8_decode(s)) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    if (cat == UTF8PROC_CATEGORY_LL) p |= 1;
    if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT) p |= 2;
  }
  return p;
}
}  // namespace

bool py_islower(std::string_view s) { return case_profile(s) == 1; }
bool py_isupper(std::string_view s) { return case_profile(s) == 2; }

std::string jinja_title(std::string_view s) {
  // Jinja2: "".join(w[0].upper() + w[1:].lower() for w in re.split(r"([-\s({\[<]+)", s) if w)
  auto is_boundary = [](char32_t cp) {
    return py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
  };
  bool word_start = true;
  return map_code_points(s, [&](char32_t cp) {
    if (is_boundary(cp)) {
      word_start = true;
      return cp;
    }
    char32_t r = word_start ? to_upper(cp) : to_lower(cp);
    word_start = false;
    return r;
  });
}

std::string py_repr_string(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  char buf[16];
  for (char32_t cp : utf8_decode(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp < 0x7F || py_isprintable(cp)) {
      utf8_append(out, cp);
    } else {
      const char* fmt = cp <= 0xFF ? "\\x%02x" : cp <= 0xFFFF ? "\\u%04x" : "\\U%08x";
      std::snprintf(buf, sizeof buf, fmt, static_cast<unsigned>(cp));
      out += buf;
    }
  }
  out.push_back(quote);
  return out;
}

}  // namespace prefer::text::jinja
