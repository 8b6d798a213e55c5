#include "train/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/file.h"

namespace prefer::train {
namespace fs = std::filesystem;

namespace {

struct Line {
  int64_t number = 0;  // 1-based
  std::string text;
  Json value;
};

// The parsed non-blank lines of a JSONL file. A last line without its newline that does not parse is a
// torn write and is skipped; any other malformed line throws naming file and line.
std::vector<Line> read_lines(const fs::path& path) {
  std::vector<Line> lines;
  std::error_code ec;
  if (!fs::exists(path, ec)) return lines;
  const std::string content = read_file(path);
  size_t pos = 0;
  int64_t number = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    const bool complete = end != std::string::npos;
    if (!complete) end = content.size();
    std::string text = content.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      Json v = parse_json(text, {.file = path.string()}, number);
      lines.push_back({number, std::move(text), std::move(v)});
    } catch (const Error&) {
      if (complete) throw;
    }
  }
  return lines;
}

int64_t row_step(const Json& j, const ErrorContext& ctx) {
  if (!j.is_object()) throw Error("expected a JSON object, found " + json_type_name(j), ctx);
  return require_int(j, "step", ctx);
}

std::string dump_line(const OrderedJson& row) {
  // Invalid UTF-8 in a message must not lose the row: replace it (U+FFFD) rather than throw.
  return row.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

}  // namespace

std::string warning_number(double v) { return fmt::format("{:.4g}", v); }

OrderedJson TrainingWarning::to_json() const {
  OrderedJson j = {{"step", step}, {"warning", id}, {"message", message}, {"evidence", evidence}};
  if (fatal) j["fatal"] = true;
  return j;
}

TrainingWarning TrainingWarning::from_json(const Json& j, const ErrorContext& ctx) {
  TrainingWarning w;
  w.step = require_int(j, "step", ctx);
  w.id = require_string(j, "warning", ctx);
  w.message = opt_string(j, "message", ctx).value_or("");
  if (j.contains("evidence")) w.evidence = OrderedJson::parse(j["evidence"].dump());
  w.fatal = opt_bool(j, "fatal", ctx).value_or(false);
  return w;
}

JsonlLog::JsonlLog(fs::path path, std::optional<int64_t> resume_step) : path_(std::move(path)) {
  if (!path_.parent_path().empty()) {
    std::error_code ec;
    fs::create_directories(path_.parent_path(), ec);
    if (ec) throw Error("cannot create folder: " + ec.message(), {.file = path_.parent_path().string()});
  }
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (resume_step) {
    std::string kept;
    for (const Line& line : read_lines(path_)) {
      const ErrorContext ctx{.file = path_.string(), .line = line.number};
      if (row_step(line.value, ctx) <= *resume_step) kept += line.text + "\n";
    }
    write_file_atomic(path_, kept);
  } else {
    flags |= O_TRUNC;
  }
  fd_ = ::open(path_.c_str(), flags, 0644);
  if (fd_ < 0) throw Error(std::string("cannot open for appending: ") + std::strerror(errno), {.file = path_.string()});
}

JsonlLog::~JsonlLog() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlLog::append(const OrderedJson& row) {
  if (!row.is_object() || !row.contains("step") || !row["step"].is_number_integer())
    throw Error("a log row needs an integer \"step\"", {.file = path_.string(), .field = "step"});
  const std::string line = dump_line(row);
  const char* p = line.data();
  size_t n = line.size();
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("write failed: ") + std::strerror(errno), {.file = path_.string()});
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

bool MetricRow::is_eval() const {
  for (const auto& [k, v] : values)
    if (k.rfind("eval_", 0) == 0) return true;
  return false;
}

MetricRow metric_row_from_json(const Json& j, const ErrorContext& ctx) {
  MetricRow row;
  row.step = row_step(j, ctx);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "step") continue;
    const Json& v = it.value();
    if (v.is_null())
      row.values[it.key()] = std::numeric_limits<double>::quiet_NaN();
    else if (v.is_number())
      row.values[it.key()] = v.get<double>();
  }
  return row;
}

OrderedJson make_log_row(int64_t step, double epoch, const std::vector<std::pair<std::string, double>>& values) {
  OrderedJson row = OrderedJson::object();
  for (const auto& [k, v] : values) row[k] = v;
  row["epoch"] = epoch;
  row["step"] = step;
  return row;
}

std::vector<MetricRow> read_metrics(const fs::path& path) {
  std::vector<MetricRow> rows;
  for (const Line& line : read_lines(path))
    rows.push_back(metric_row_from_json(line.value, {.file = path.string(), .line = line.number}));
  return rows;
}

std::vector<TrainingWarning> read_warnings(const fs::path& path) {
  std::vector<TrainingWarning> out;
  for (const Line& line : read_lines(path))
    out.push_back(TrainingWarning::from_json(line.value, {.file = path.string(), .line = line.number}));
  return out;
}

}  // namespace prefer::train
