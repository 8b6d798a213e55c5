// A dataset's records, whatever holds them: JSONL, a JSON array (.json), Arrow IPC (`datasets`'
// save_to_disk folder or one .arrow file) or Parquet (a .parquet file or a folder of them, as the Hub
// serves them). Every command's --data goes through here, so column mapping and "file:row: field"
// errors are the same for every format.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/json.h"

namespace prefer::io {

enum class RecordFormat { Jsonl, JsonArray, Arrow, Parquet };
const char* record_format_name(RecordFormat f);

struct RecordFile {
  std::filesystem::path path;
  RecordFormat format;
};

// The files `data` stands for, in order. A save_to_disk folder is read through its state.json
// (`_data_files`); a DatasetDict folder is an error that lists its splits; another folder reads its
// *.arrow or *.parquet files in name order.
std::vector<RecordFile> record_files(const std::filesystem::path& data);

struct RecordOptions {
  size_t max_line_bytes = SIZE_MAX;  // JSONL: a longer line is a bad record
};

// Calls `row` for each record in order, with where it is (file; line for JSONL, row or array index,
// 1-based, otherwise). A JSONL line that does not parse goes to `bad` when given (reading goes on),
// and is thrown otherwise; a malformed Arrow or Parquet file always throws.
using RecordVisitor = std::function<void(OrderedJson&& record, const ErrorContext& where)>;
void for_each_record(const std::filesystem::path& data, const RecordVisitor& row,
                     const std::function<void(const Error&)>& bad = {}, const RecordOptions& options = {});

// A content hash of every file `data` stands for (names and bytes, in order): the token cache's key.
uint64_t hash_records(const std::filesystem::path& data);

// Every record with its place, in order.
struct Record {
  ErrorContext where;
  OrderedJson value;
};
std::vector<Record> read_records(const std::filesystem::path& data);

}  // namespace prefer::io
