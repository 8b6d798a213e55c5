// Reading datasets into Examples, from any container io/records reads (JSONL, a JSON array, Arrow IPC,
// Parquet), with the dataset's kind and style detected from its columns as TRL does.
//
// In strict mode (training) the first bad record is an error. In collecting mode (`prefer data
// validate`) every bad record is reported (up to a limit) with file, line and field, and reading goes on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/example.h"
#include "util/error.h"

namespace prefer::data {

// Column names in the user's file (flags --prompt_column etc. change them).
struct ColumnMap {
  std::string prompt = "prompt";
  std::string chosen = "chosen";
  std::string rejected = "rejected";
  std::string completion = "completion";
  std::string label = "label";
  std::string text = "text";
  std::string messages = "messages";
  std::string margin = "margin";
};

struct ReadOptions {
  ColumnMap columns;
  bool collect_errors = false;               // keep going and report every bad record
  size_t max_errors = 100;                   // stop collecting after this many
  size_t max_line_bytes = 8u << 20;          // a longer line is an error (8 MiB)
  std::optional<DatasetKind> expect;         // the command's kind; another kind is an error
};

struct Dataset {
  std::filesystem::path file;
  DatasetKind kind = DatasetKind::Preference;
  bool conversational = false;  // messages rather than text
  bool pretokenized = false;    // *_ids columns
  bool implicit_prompt = false; // preference data without a prompt column
  std::vector<Example> examples;
  std::vector<Error> errors;    // collecting mode only
  int64_t records = 0;          // records seen, bad ones included
};

Dataset read_dataset(const std::filesystem::path& file, const ReadOptions& options = {});

}  // namespace prefer::data
