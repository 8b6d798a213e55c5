#include "io/dtype.h"

namespace prefer::io {

namespace {
struct Row {
  DType dtype;
  std::string_view name;
  size_t size;
};
constexpr Row kRows[] = {{DType::Bool, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
                         {DType::I16, "I16", 2},   {DType::I32, "I32", 4},   {DType::I64, "I64", 8},
                         {DType::F16, "F16", 2},   {DType::BF16, "BF16", 2}, {DType::F32, "F32", 4},
                         {DType::F64, "F64", 8}};
}  // namespace

std::string_view dtype_name(DType d) { return kRows[static_cast<int>(d)].name; }
size_t dtype_size(DType d) { return kRows[static_cast<int>(d)].size; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const Row& r : kRows)
    if (r.name == name) return r.dtype;
  return std::nullopt;
}

std::string supported_dtype_names() {
  std::string out;
  for (const Row& r : kRows) {
    if (!out.empty()) out += ", ";
    out += r.name;
  }
  return out;
}

}  // namespace prefer::io
