// JSON and JSONL reading with positions, and typed field access with errors that name the field.
//
// nlohmann::json is the in-memory form. Parse errors report file, line and column; field accessors
// report the field name and what was expected ("expected an integer, found a string").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/mmap.h"

namespace prefer {

using Json = nlohmann::json;
// Keys in file order: for values that are rendered back (chat messages, tool definitions).
using OrderedJson = nlohmann::ordered_json;

// The deepest nesting of arrays and objects parse_json accepts (deeper text is an error naming the line).
inline constexpr size_t kMaxJsonDepth = 512;

// Parses `text`. On a syntax error throws prefer::Error with ctx.file, the line (first_line + lines
// before the error) and the column in the message.
Json parse_json(std::string_view text, const ErrorContext& ctx = {}, int64_t first_line = 1);
OrderedJson parse_ordered_json(std::string_view text, const ErrorContext& ctx = {}, int64_t first_line = 1);

// Reads and parses a JSON file (UTF-8 checked first, so the error says which byte is bad).
Json read_json_file(const std::filesystem::path& path);

// Serialises with a trailing newline and writes atomically.
void write_json_file(const std::filesystem::path& path, const Json& value, int indent = 2);

// "string", "integer", "number", "boolean", "null", "array", "object".
std::string json_type_name(const Json& v);
std::string json_type_name(const OrderedJson& v);

// Typed access to `obj[key]`. `ctx` is the error context (file, line); the field is set to `key`.
// require_*: missing or wrong type is an error. opt_*: missing or null gives nullopt, wrong type is an
// error. Integers accept integral JSON numbers only (1.0 is accepted, 1.5 is not).
const Json& require_field(const Json& obj, std::string_view key, const ErrorContext& ctx);
std::string require_string(const Json& obj, std::string_view key, const ErrorContext& ctx);
int64_t require_int(const Json& obj, std::string_view key, const ErrorContext& ctx);
double require_number(const Json& obj, std::string_view key, const ErrorContext& ctx);
bool require_bool(const Json& obj, std::string_view key, const ErrorContext& ctx);
std::optional<std::string> opt_string(const Json& obj, std::string_view key, const ErrorContext& ctx);
std::optional<int64_t> opt_int(const Json& obj, std::string_view key, const ErrorContext& ctx);
std::optional<double> opt_number(const Json& obj, std::string_view key, const ErrorContext& ctx);
std::optional<bool> opt_bool(const Json& obj, std::string_view key, const ErrorContext& ctx);
// An integer or a list of integers (HF writes eos_token_id both ways); empty when missing or null.
std::vector<int64_t> opt_int_list(const Json& obj, std::string_view key, const ErrorContext& ctx);

// Value conversions used by the accessors, with `ctx.field` naming the value.
int64_t json_to_int(const Json& v, const ErrorContext& ctx);
double json_to_number(const Json& v, const ErrorContext& ctx);

// JSONL: one JSON value per line; blank lines are skipped but counted, so line numbers match an editor.
// A line that fails to parse throws with file and line. Memory-mapped: the file is never copied whole.
class JsonlReader {
 public:
  // A line longer than `max_line_bytes` is an error (it is skipped, so reading can go on after it).
  explicit JsonlReader(const std::filesystem::path& path, size_t max_line_bytes = SIZE_MAX);

  struct Record {
    int64_t line = 0;  // 1-based
    Json value;
  };
  // Next non-blank line; false at end of file. A bad line throws, and the next call continues after it.
  bool next(Record& out);
  // The same without parsing: the line's text (valid until the reader is destroyed) and number.
  bool next_raw(int64_t& line, std::string_view& text);
  const std::filesystem::path& path() const { return map_.path(); }

 private:
  MappedFile map_;
  size_t max_line_bytes_;
  size_t pos_ = 0;
  int64_t line_ = 0;
};

// Reads every record of a JSONL file.
std::vector<JsonlReader::Record> read_jsonl_file(const std::filesystem::path& path);

}  // namespace prefer
