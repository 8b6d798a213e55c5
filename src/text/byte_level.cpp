#include "text/byte_level.h"

#include "text/unicode.h"

namespace prefer::text {

namespace {
struct Tables {
  std::array<std::string, 256> to_unicode;
  std::array<int, 512> to_byte;  // code points used are all < 0x144
  Tables() {
    to_byte.fill(-1);
    std::array<char32_t, 256> cp{};
    std::array<bool, 256> printable{};
    for (int b = '!'; b <= '~'; ++b) printable[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) cp[b] = printable[b] ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
    for (int b = 0; b < 256; ++b) {
      append_utf8(to_unicode[b], cp[b]);
      to_byte[cp[b]] = b;
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

const std::string& byte_to_unicode(unsigned char byte) { return tables().to_unicode[byte]; }

std::optional<unsigned char> unicode_to_byte(char32_t cp) {
  if (cp >= 512) return std::nullopt;
  int b = tables().to_byte[cp];
  if (b < 0) return std::nullopt;
  return static_cast<unsigned char>(b);
}

std::string bytes_to_unicode_string(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  const auto& t = tables().to_unicode;
  for (char c : bytes) out += t[static_cast<unsigned char>(c)];
  return out;
}

}  // namespace prefer::text
