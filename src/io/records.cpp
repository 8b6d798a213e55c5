#include "io/records.h"

#include <algorithm>

#include "io/columnar.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/mmap.h"
#include "util/strings.h"

namespace prefer::io {
namespace fs = std::filesystem;

const char* record_format_name(RecordFormat f) {
  switch (f) {
    case RecordFormat::Jsonl: return "JSONL";
    case RecordFormat::JsonArray: return "JSON";
    case RecordFormat::Arrow: return "Arrow IPC";
    case RecordFormat::Parquet: return "Parquet";
  }
  return "?";
}

namespace {

// A file's format from its first bytes (and .json for arrays): extensions lie more often than magic.
RecordFormat sniff(const fs::path& file) {
  MappedFile m(file);
  std::string_view v = m.view();
  if (v.substr(0, 4) == "PAR1") return RecordFormat::Parquet;
  if (v.substr(0, 6) == "ARROW1" || v.substr(0, 4) == "\xFF\xFF\xFF\xFF") return RecordFormat::Arrow;
  size_t p = v.find_first_not_of(" \t\r\n");
  if (v.substr(0, 3) == "\xEF\xBB\xBF") p = v.find_first_not_of(" \t\r\n", 3);
  if (file.extension() == ".json" && p != std::string_view::npos && v[p] == '[') return RecordFormat::JsonArray;
  return RecordFormat::Jsonl;
}

std::vector<fs::path> with_extension(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<RecordFile> saved_dataset(const fs::path& dir) {
  const fs::path state = dir / "state.json";
  Json s = read_json_file(state);
  ErrorContext ctx{.file = state.string(), .field = "_data_files"};
  if (!s.contains("_data_files") || !s["_data_files"].is_array() || s["_data_files"].empty())
    throw Error("lists no data files", ctx);
  std::vector<RecordFile> out;
  for (const auto& f : s["_data_files"]) {
    std::string name = f.is_object() && f.contains("filename") && f["filename"].is_string() ? f["filename"].get<std::string>() : "";
    if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == "..")
      throw Error("holds an entry without a plain file name: " + f.dump(), ctx);
    fs::path p = dir / name;
    if (!fs::is_regular_file(p)) throw Error("names " + name + ", which is not in the folder", ctx);
    out.push_back({p, RecordFormat::Arrow});
  }
  return out;
}

}  // namespace

std::vector<RecordFile> record_files(const fs::path& data) {
  require_exists(data, "data file");
  if (!fs::is_directory(data)) return {{data, sniff(data)}};
  if (fs::exists(data / "dataset_dict.json")) {
    std::vector<std::string> splits;
    for (const auto& e : fs::directory_iterator(data))
      if (e.is_directory()) splits.push_back(e.path().filename().string());
    std::sort(splits.begin(), splits.end());
    throw Error("is a DatasetDict (several splits), not one dataset",
                {.file = data.string(), .hint = "pick a split: --data " + (data / (splits.empty() ? "train" : splits.front())).string() +
                                                 (splits.empty() ? "" : " (splits: " + join(splits, ", ") + ")")});
  }
  if (fs::exists(data / "state.json")) return saved_dataset(data);
  std::vector<RecordFile> out;
  for (const auto& p : with_extension(data, ".arrow")) out.push_back({p, RecordFormat::Arrow});
  if (out.empty())
    for (const auto& p : with_extension(data, ".parquet")) out.push_back({p, RecordFormat::Parquet});
  if (out.empty())
    throw Error("is a folder without a dataset in it",
                {.file = data.string(), .hint = "give a .jsonl/.json/.parquet file, a folder of .parquet or .arrow files, or a save_to_disk folder"});
  return out;
}

void for_each_record(const fs::path& data, const RecordVisitor& row, const std::function<void(const Error&)>& bad,
                     const RecordOptions& options) {
  for (const RecordFile& f : record_files(data)) {
    const std::string name = f.path.string();
    switch (f.format) {
      case RecordFormat::Arrow:
      case RecordFormat::Parquet: {
        auto visit = [&](OrderedJson&& r, int64_t n) { row(std::move(r), {.file = name, .line = n}); };
        if (f.format == RecordFormat::Arrow) read_arrow_rows(f.path, visit);
        else read_parquet_rows(f.path, visit);
        break;
      }
      case RecordFormat::JsonArray: {
        OrderedJson all = parse_ordered_json(read_file(f.path), {.file = name});
        for (size_t i = 0; i < all.size(); ++i) row(std::move(all[i]), {.file = name, .line = static_cast<int64_t>(i + 1)});
        break;
      }
      case RecordFormat::Jsonl: {
        JsonlReader reader(f.path, options.max_line_bytes);
        int64_t line = 0;
        std::string_view text;
        while (true) {
          OrderedJson rec;
          try {
            if (!reader.next_raw(line, text)) break;
            rec = parse_ordered_json(text, {.file = name}, line);
          } catch (const Error& e) {
            if (!bad) throw;
            bad(e);
            continue;
          }
          row(std::move(rec), {.file = name, .line = line});
        }
        break;
      }
    }
  }
}

uint64_t hash_records(const fs::path& data) {
  uint64_t h = 0;
  for (const RecordFile& f : record_files(data))
    h = h * 1099511628211ull ^ hash_bytes(f.path.filename().string()) ^ (hash_file(f.path) * 31);
  return h;
}

std::vector<Record> read_records(const fs::path& data) {
  std::vector<Record> out;
  for_each_record(data, [&](OrderedJson&& r, const ErrorContext& where) { out.push_back({where, std::move(r)}); });
  return out;
}

}  // namespace prefer::io
