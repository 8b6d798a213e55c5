#include "data/text_key.h"

#include <cctype>

#include "util/json.h"

namespace prefer::data {

std::string near_key(const std::string& s) {
  std::string out;
  bool space = false;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch >= 0x80) {
      if (space && !out.empty()) out += ' ';
      space = false;
      out += static_cast<char>(std::tolower(ch));
    } else {
      space = true;
    }
  }
  return out;
}

std::string plain_text(const Content& c) {
  switch (c.kind) {
    case Content::Kind::Text: return c.text;
    case Content::Kind::Messages: {
      std::string out;
      for (const auto& m : c.messages) {
        if (!m.is_object() || !m.contains("content")) continue;
        const auto& v = m["content"];
        out += (out.empty() ? "" : "\n") + (v.is_string() ? v.get<std::string>() : v.dump());
      }
      return out;
    }
    case Content::Kind::Ids: return prefer::Json(c.ids).dump();
    default: return {};
  }
}

}  // namespace prefer::data
