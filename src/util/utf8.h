// UTF-8 validation. Text that reaches a tokenizer must be valid UTF-8 (HF tokenizers take Python str,
// which cannot hold invalid bytes), so we reject it up front and say where it breaks.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "util/error.h"

namespace prefer {

// Byte offset of the first byte that does not start a valid UTF-8 sequence (overlong forms, surrogates
// and code points past U+10FFFF are invalid), or nullopt when the whole string is valid.
std::optional<size_t> find_invalid_utf8(std::string_view s);

bool is_valid_utf8(std::string_view s);

// Throws prefer::Error "invalid UTF-8 at byte N" with `ctx` when `s` is not valid.
void check_utf8(std::string_view s, const ErrorContext& ctx);

}  // namespace prefer
