// Unicode helpers for the tokenizer: code point iteration, normalization forms, case mapping, and the
// whitespace and UTF-8 decoding rules of the JavaScript reference (@huggingface/tokenizers), which is
// what our token ids are checked against.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prefer::text {

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
char32_t next_code_point(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t cp);
// Byte length of the UTF-8 sequence that starts with `lead`.
size_t utf8_length(unsigned char lead);
// The code points of `s`, each as its own UTF-8 string (what `Array.from(str)` gives in JS).
std::vector<std::string> split_code_points(std::string_view s);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view s, NormalForm form);
// Full lowercase mapping (String.prototype.toLowerCase / Rust to_lowercase): simple case mapping per
// code point, plus the two context-free specials that change length or depend on position:
// U+0130 -> "i̇" and final sigma.
std::string to_lower(std::string_view s);

// JavaScript's whitespace set (String.prototype.trim): White_Space plus U+FEFF, minus U+0085.
bool is_js_whitespace(char32_t cp);
std::string_view trim_start_js(std::string_view s);
std::string_view trim_end_js(std::string_view s);

// Decodes bytes as UTF-8 the way the WHATWG TextDecoder does with fatal = false: each maximal
// ill-formed subsequence becomes one U+FFFD.
std::string decode_utf8_lossy(std::string_view bytes);

}  // namespace prefer::text
