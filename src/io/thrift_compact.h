// Thrift's compact protocol (github.com/apache/thrift, doc/specs/thrift-compact-protocol.md), decoded
// without a schema into a tree of field ids and values: enough for Parquet's FileMetaData and
// PageHeader, read by field id as parquet.thrift numbers them. Untrusted input: every length is
// checked, nesting is bounded, and counts can never exceed the bytes left.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace prefer::io {

struct ThriftValue;
using ThriftStruct = std::map<int16_t, ThriftValue>;

struct ThriftValue {
  enum class Kind { Bool, Int, Double, Binary, List, Struct, Other } kind = Kind::Other;
  int64_t i = 0;  // Bool (0/1) and the integer types
  double d = 0;
  std::string bytes;
  std::vector<ThriftValue> list;
  std::shared_ptr<ThriftStruct> fields;  // Struct
};

// Reads one struct starting at `pos`; `pos` moves past it. Errors name `ctx`.
ThriftStruct read_thrift_struct(std::string_view buf, size_t& pos, const ErrorContext& ctx);

// Typed access: a missing field gives `fallback` (or an empty value); a field of another kind is an Error.
int64_t thrift_int(const ThriftStruct& s, int16_t id, int64_t fallback, const ErrorContext& ctx);
bool thrift_has(const ThriftStruct& s, int16_t id);
std::string thrift_string(const ThriftStruct& s, int16_t id, const ErrorContext& ctx);
const ThriftStruct* thrift_struct(const ThriftStruct& s, int16_t id, const ErrorContext& ctx);
const std::vector<ThriftValue>& thrift_list(const ThriftStruct& s, int16_t id, const ErrorContext& ctx);

}  // namespace prefer::io
