#include "text/jinja_lexer.h"

#include <algorithm>
#include <functional>

#include "text/jinja_strings.h"
#include "util/utf8.h"

namespace prefer::text::jinja {

namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_tag_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Jinja2's line handling: every \r\n and \r becomes \n, and one trailing newline is dropped
// (keep_trailing_newline is off).
std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Python string-literal escapes (Jinja2 decodes literals with Python's unicode-escape codec): unknown
// escapes keep their backslash, "\<newline>" is a line continuation.
std::string decode_escapes(std::string_view raw, const std::function<void(size_t, const std::string&)>& fail) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 >= raw.size()) {
      out.push_back(raw[i]);
      continue;
    }
    char c = raw[++i];
    auto hex = [&](size_t digits) {
      uint32_t v = 0;
      for (size_t k = 1; k <= digits; ++k) {
        if (i + k >= raw.size()) fail(i, "truncated \\" + std::string(1, c) + " escape");
        char h = raw[i + k];
        int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (d < 0) fail(i, "invalid \\" + std::string(1, c) + " escape");
        v = v * 16 + static_cast<uint32_t>(d);
      }
      i += digits;
      if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) fail(i, "escape gives an invalid code point");
      utf8_append(out, static_cast<char32_t>(v));
    };
    switch (c) {
      case '\n': break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x': hex(2); break;
      case 'u': hex(4); break;
      case 'U': hex(8); break;
      default:
        if (c >= '0' && c <= '7') {
          uint32_t v = static_cast<uint32_t>(c - '0');
          for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<uint32_t>(raw[++i] - '0');
          utf8_append(out, static_cast<char32_t>(v));
        } else {
          out.push_back('\\');
          out.push_back(c);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view source, const std::string& origin, const LexerOptions& options)
      : src_(normalize_newlines(source)), origin_(origin), opt_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    if (auto bad = find_invalid_utf8(src_)) fail(*bad, "invalid UTF-8");
    size_t n = src_.size();
    while (pos_ < n) {
      size_t tag = find_tag(pos_);
      std::string_view text(src_.data() + pos_, tag - pos_);
      if (tag == n) {
        emit_text(text, pos_);
        break;
      }
      char kind = src_[tag + 1];
      char sign = tag + 2 < n ? src_[tag + 2] : '\0';
      bool minus = sign == '-', plus = sign == '+';
      if (minus) {
        text = rstrip_space(text);
      } else if (!plus && opt_.lstrip_blocks && kind != '{') {
        size_t l = text.rfind('\n');
        l = l == std::string_view::npos ? 0 : l + 1;
        bool line_start = l > 0 || pos_ == 0 || src_[pos_ - 1] == '\n';
        if (line_start && l < text.size() && all_space(text.substr(l))) text = text.substr(0, l);
      }
      emit_text(text, pos_);
      size_t after = tag + 2 + ((minus || plus) ? 1 : 0);
      if (kind == '#') {
        comment(tag, after);
      } else if (kind == '%' && raw_block(tag, after)) {
        // handled
      } else {
        tag_contents(tag, after, kind == '%');
      }
    }
    out_.push_back(Token{TokenKind::End, "", at(n)});
    return std::move(out_);
  }

 private:
  std::string src_;
  const std::string& origin_;
  LexerOptions opt_;
  std::vector<size_t> line_starts_;
  std::vector<Token> out_;
  size_t pos_ = 0;

  SourcePos at(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    size_t start = line_starts_[line - 1];
    return {static_cast<int>(line), static_cast<int>(code_point_count(std::string_view(src_).substr(start, offset - start))) + 1};
  }

  [[noreturn]] void fail(size_t offset, const std::string& message) const { throw template_error(origin_, at(offset), message); }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1))
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return src_.size();
  }

  static bool all_space(std::string_view s) {
    for (char32_t cp : utf8_decode(s))
      if (!py_isspace(cp)) return false;
    return true;
  }

  static std::string_view rstrip_space(std::string_view s) {
    std::u32string cps = utf8_decode(s);
    size_t keep = cps.size();
    while (keep > 0 && py_isspace(cps[keep - 1])) --keep;
    size_t bytes = 0;
    for (size_t i = 0; i < keep; ++i) bytes += cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 : cps[i] < 0x10000 ? 3 : 4;
    return s.substr(0, bytes);
  }

  void skip_space_after(size_t& p) const {
    while (p < src_.size()) {
      size_t q = p;
      char32_t cp = utf8_decode(std::string_view(src_).substr(q, std::min<size_t>(4, src_.size() - q)))[0];
      if (!py_isspace(cp)) break;
      p += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }
  }

  // After a block or comment end: `-` strips all whitespace, `+` nothing, else trim_blocks' newline.
  void after_block_end(size_t& p, char sign) const {
    if (sign == '-') skip_space_after(p);
    else if (sign != '+' && opt_.trim_blocks && p < src_.size() && src_[p] == '\n') ++p;
  }

  void emit_text(std::string_view text, size_t offset) {
    if (!text.empty()) out_.push_back(Token{TokenKind::Text, std::string(text), at(offset)});
  }

  void comment(size_t tag, size_t after) {
    size_t end = src_.find("#}", after);
    if (end == std::string::npos) fail(tag, "unclosed comment: expected '#}'");
    char sign = end > after ? src_[end - 1] : '\0';
    pos_ = end + 2;
    after_block_end(pos_, sign == '-' || sign == '+' ? sign : '\0');
  }

  // `{% raw %}...{% endraw %}`: the contents are text. As in Jinja2, the newline after `{% raw %}` is
  // kept; the whitespace control of both tags and lstrip before `{% endraw %}` apply.
  bool raw_block(size_t tag, size_t after) {
    size_t p = after;
    while (p < src_.size() && is_tag_space(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
    p += 3;
    while (p < src_.size() && is_tag_space(src_[p])) ++p;
    bool strip_after = src_.compare(p, 3, "-%}") == 0;
    if (!strip_after && src_.compare(p, 2, "%}") != 0) fail(p, "expected '%}' after 'raw'");
    p += strip_after ? 3 : 2;
    if (strip_after) skip_space_after(p);
    for (size_t q = src_.find("{%", p); q != std::string::npos; q = src_.find("{%", q + 2)) {
      size_t r = q + 2;
      char sign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r++] : '\0';
      while (r < src_.size() && is_tag_space(src_[r])) ++r;
      if (src_.compare(r, 6, "endraw") != 0 || (r + 6 < src_.size() && is_name_char(src_[r + 6]))) continue;
      r += 6;
      while (r < src_.size() && is_tag_space(src_[r])) ++r;
      char end_sign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r++] : '\0';
      if (src_.compare(r, 2, "%}") != 0) fail(r, "expected '%}' after 'endraw'");
      std::string_view text(src_.data() + p, q - p);
      if (sign == '-') {
        text = rstrip_space(text);
      } else if (sign != '+' && opt_.lstrip_blocks) {
        size_t l = text.rfind('\n');
        if (l != std::string_view::npos && all_space(text.substr(l + 1))) text = text.substr(0, l + 1);
      }
      emit_text(text, p);
      pos_ = r + 2;
      after_block_end(pos_, end_sign);
      return true;
    }
    fail(tag, "'raw' block is never closed: expected '{% endraw %}'");
  }

  void tag_contents(size_t tag, size_t after, bool block) {
    out_.push_back(Token{block ? TokenKind::BlockBegin : TokenKind::VariableBegin, block ? "{%" : "{{", at(tag)});
    size_t p = after;
    int depth = 0;
    size_t n = src_.size();
    while (true) {
      while (p < n && is_tag_space(src_[p])) ++p;
      if (p >= n) fail(tag, block ? "unclosed block tag: expected '%}'" : "unclosed expression: expected '}}'");
      if (depth == 0) {
        if (block) {
          for (const char* end : {"-%}", "+%}", "%}"}) {
            size_t len = std::char_traits<char>::length(end);
            if (src_.compare(p, len, end) == 0) {
              out_.push_back(Token{TokenKind::BlockEnd, "%}", at(p)});
              pos_ = p + len;
              after_block_end(pos_, len == 3 ? end[0] : '\0');
              return;
            }
          }
        } else {
          bool minus = src_.compare(p, 3, "-}}") == 0;
          if (minus || src_.compare(p, 2, "}}") == 0) {
            out_.push_back(Token{TokenKind::VariableEnd, "}}", at(p)});
            pos_ = p + (minus ? 3 : 2);
            if (minus) skip_space_after(pos_);
            return;
          }
        }
      }
      p = token(p, depth);
    }
  }

  // Lexes one token inside a tag starting at p; returns the offset after it.
  size_t token(size_t p, int& depth) {
    size_t n = src_.size();
    char c = src_[p];
    if (is_name_start(c)) {
      size_t q = p;
      while (q < n && is_name_char(src_[q])) ++q;
      out_.push_back(Token{TokenKind::Name, src_.substr(p, q - p), at(p)});
      return q;
    }
    if (is_digit(c)) return number(p);
    if (c == '\'' || c == '"') {
      size_t q = p + 1;
      while (q < n && src_[q] != c) q += src_[q] == '\\' ? 2 : 1;
      if (q >= n) fail(p, "unterminated string literal");
      std::string raw = src_.substr(p + 1, q - p - 1);
      auto bad = [&](size_t i, const std::string& m) { fail(p + 1 + i, m); };
      out_.push_back(Token{TokenKind::String, decode_escapes(raw, bad), at(p)});
      return q + 1;
    }
    static const char* const kOperators[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
                                             ">",  "=",  ".",  ",",  ":",  "|",  "(", ")", "[", "]", "{", "}"};
    for (const char* op : kOperators) {
      size_t len = std::char_traits<char>::length(op);
      if (src_.compare(p, len, op) != 0) continue;
      if (len == 1 && (c == '(' || c == '[' || c == '{')) ++depth;
      if (len == 1 && (c == ')' || c == ']' || c == '}')) {
        if (depth == 0) fail(p, std::string("unexpected '") + c + "'");
        --depth;
      }
      out_.push_back(Token{TokenKind::Operator, op, at(p)});
      return p + len;
    }
    std::u32string cp = utf8_decode(std::string_view(src_).substr(p, std::min<size_t>(4, n - p)));
    std::string shown;
    utf8_append(shown, cp.empty() ? U'?' : cp[0]);
    fail(p, "unexpected character '" + shown + "'");
  }

  size_t number(size_t p) {
    size_t n = src_.size();
    auto digits = [&](size_t q, std::string& text) {
      while (q < n && (is_digit(src_[q]) || (src_[q] == '_' && q + 1 < n && is_digit(src_[q + 1])))) {
        if (src_[q] != '_') text.push_back(src_[q]);
        ++q;
      }
      return q;
    };
    std::string text;
    size_t q = digits(p, text);
    // After a dot (`items.0`) a number is an index, never the start of a float.
    bool after_dot = !out_.empty() && out_.back().kind == TokenKind::Operator && out_.back().value == ".";
    bool is_float = false;
    if (!after_dot && q + 1 < n && src_[q] == '.' && is_digit(src_[q + 1])) {
      text.push_back('.');
      q = digits(q + 1, text);
      is_float = true;
    }
    if (!after_dot && q < n && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      if (r < n && (src_[r] == '+' || src_[r] == '-')) ++r;
      if (r < n && is_digit(src_[r])) {
        text += 'e';
        if (src_[q + 1] == '-') text += '-';
        q = digits(r, text);
        is_float = true;
      }
    }
    out_.push_back(Token{is_float ? TokenKind::Float : TokenKind::Integer, text, at(p)});
    return q;
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& origin, const LexerOptions& options) {
  return Lexer(source, origin, options).run();
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::End: return "end of template";
    case TokenKind::Text: return "template text";
    case TokenKind::String: return "string literal";
    default: return "'" + t.value + "'";
  }
}

}  // namespace prefer::text::jinja
