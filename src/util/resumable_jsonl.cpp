#include "util/resumable_jsonl.h"

#include <unistd.h>

#include "util/atomic_file.h"
#include "util/error.h"

namespace prefer {

namespace fs = std::filesystem;

ResumableJsonl::ResumableJsonl(fs::path final_path, Json fingerprint)
    : final_(std::move(final_path)), fingerprint_(std::move(fingerprint)) {
  partial_ = final_.string() + ".partial";
  progress_ = final_.string() + ".progress.json";
  if (!final_.parent_path().empty()) fs::create_directories(final_.parent_path());
  if (fs::exists(progress_) && fs::exists(partial_)) {
    Json p = read_json_file(progress_);
    if (p.value("fingerprint", Json()) != fingerprint_)
      throw Error("holds an unfinished run with other options or inputs", {.file = progress_.string(),
                  .hint = "re-run with that run's options to continue it, or delete " + partial_.string() + " and " +
                          progress_.string() + " to start over"});
    units_ = p.at("units_done").get<int64_t>();
    bytes_ = p.at("bytes").get<uint64_t>();
    counters_ = p.value("counters", Json::object());
    if (fs::file_size(partial_) < bytes_)
      throw Error("is shorter than its progress file records", {.file = partial_.string(), .hint = "delete it and " + progress_.string() + " to start over"});
    fs::resize_file(partial_, bytes_);  // drops what was written after the last recorded unit
    resumed_ = true;
  } else {
    std::error_code ec;
    fs::remove(progress_, ec);
    if (std::FILE* f = std::fopen(partial_.c_str(), "wb")) std::fclose(f);
  }
  f_ = std::fopen(partial_.c_str(), "ab");
  if (!f_) throw Error("cannot open for writing", {.file = partial_.string()});
}

ResumableJsonl::~ResumableJsonl() {
  if (f_) std::fclose(f_);
}

void ResumableJsonl::commit_unit(const std::string& lines, int64_t units_done, const Json& counters) {
  if (!f_) throw Error("already finished", {.file = final_.string()});
  if (!lines.empty() && std::fwrite(lines.data(), 1, lines.size(), f_) != lines.size())
    throw Error("write failed (disk full?)", {.file = partial_.string()});
  if (std::fflush(f_) != 0 || ::fsync(fileno(f_)) != 0) throw Error("write failed (disk full?)", {.file = partial_.string()});
  bytes_ += lines.size();
  units_ = units_done;
  counters_ = counters;
  write_file_atomic(progress_, Json{{"fingerprint", fingerprint_}, {"units_done", units_}, {"bytes", bytes_}, {"counters", counters_}}.dump());
}

void ResumableJsonl::finish() {
  if (f_) std::fclose(f_);
  f_ = nullptr;
  fs::rename(partial_, final_);
  fsync_directory(final_.parent_path().empty() ? fs::path(".") : final_.parent_path());
  std::error_code ec;
  fs::remove(progress_, ec);
}

}  // namespace prefer
