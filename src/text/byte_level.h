// GPT-2's byte <-> printable-character table: byte-level BPE vocabularies spell every byte as one
// visible code point (printable Latin-1 bytes as themselves, the rest as U+0100 + n).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace prefer::text {

// The UTF-8 spelling of the code point that stands for `byte`.
const std::string& byte_to_unicode(unsigned char byte);
// The byte a code point stands for, if it is one of the 256.
std::optional<unsigned char> unicode_to_byte(char32_t cp);
// Maps every byte of `bytes` to its stand-in character.
std::string bytes_to_unicode_string(std::string_view bytes);

}  // namespace prefer::text
