// Element types of safetensors files, with their on-disk names and sizes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace prefer::io {

enum class DType { Bool, U8, I8, I16, I32, I64, F16, BF16, F32, F64 };

// "F32", "BF16", ... (the safetensors spelling).
std::string_view dtype_name(DType d);
// Bytes per element.
size_t dtype_size(DType d);
// Parses the safetensors spelling; nullopt for names we do not support (F8_*, U16, U32, U64, C64 ...).
std::optional<DType> parse_dtype(std::string_view name);
// The supported names, for error messages.
std::string supported_dtype_names();

}  // namespace prefer::io
