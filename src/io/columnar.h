// Rows of columnar files, Arrow IPC and Parquet, as JSON objects: what `datasets`' save_to_disk writes
// and what the Hub serves. Both readers are written from the formats' specifications and read only
// what preference data holds: strings, integers, booleans, floats, nulls, lists (of structs, for
// chat messages) and structs, dictionary-encoded or not. Anything else is an error naming the column.
//
// Every row is one JSON object with the columns in schema order; `row` is 1-based within the file, so
// errors read "file:row: field ...". Files are untrusted: every offset and length is checked, nesting
// is bounded (kMaxColumnarDepth), and a malformed file is an Error naming it, never a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "util/json.h"

namespace prefer::io {

inline constexpr int kMaxColumnarDepth = 64;

using RowVisitor = std::function<void(OrderedJson&& record, int64_t row)>;

// An Arrow IPC file in the stream format (`datasets`' data-*.arrow) or the file format (ARROW1 magic).
// Record-batch bodies may be ZSTD-compressed; LZ4 is an error.
void read_arrow_rows(const std::filesystem::path& file, const RowVisitor& visit);
// The same from bytes in memory; `name` is the file errors name (the fuzz targets use these).
void read_arrow_rows(std::string_view bytes, const std::string& name, const RowVisitor& visit);

// A Parquet file: PLAIN, dictionary (RLE_DICTIONARY/PLAIN_DICTIONARY), RLE, DELTA_BINARY_PACKED,
// DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT encodings, data pages v1 and v2, uncompressed, SNAPPY, GZIP or ZSTD column chunks.
void read_parquet_rows(const std::filesystem::path& file, const RowVisitor& visit);
void read_parquet_rows(std::string_view bytes, const std::string& name, const RowVisitor& visit);

}  // namespace prefer::io
