// Text normalised for near-duplicate checks (the validator's, the bias report's).
#pragma once

#include <string>

#include "data/example.h"

namespace prefer::data {

// Lowercase ASCII letters and digits only (bytes >= 0x80 kept), single spaces: two texts that differ only
// in case, punctuation or spacing get the same key.
std::string near_key(const std::string& s);

// What a reader sees of a content: the text, or the messages' contents joined by newlines; ids as JSON.
std::string plain_text(const Content& c);

}  // namespace prefer::data
