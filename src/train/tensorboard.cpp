#include "train/tensorboard.h"

#include <vector>

#include "util/error.h"

namespace prefer::train {

std::string tensorboard_tag(std::string_view key) {
  if (key.rfind("eval_", 0) == 0) return "eval/" + std::string(key.substr(5));
  if (key.rfind("test_", 0) == 0) return "test/" + std::string(key.substr(5));
  return "train/" + std::string(key);
}

TensorBoardLog::TensorBoardLog(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step,
                               std::function<double()> clock)
    : writer_(run_dir, {.purge_step = resume_step ? std::optional<int64_t>(*resume_step + 1) : std::nullopt,
                        .clock = std::move(clock)}) {}

template <class J>
void TensorBoardLog::log_row(const J& row) {
  if (!row.is_object() || !row.contains("step") || !row["step"].is_number_integer())
    throw Error("a log row needs an integer \"step\"", {.file = writer_.path().string(), .field = "step"});
  const int64_t step = row["step"].template get<int64_t>();
  std::vector<io::TfScalar> scalars;
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (it.key() == "step" || !it.value().is_number()) continue;
    scalars.push_back({tensorboard_tag(it.key()), it.value().template get<float>()});
  }
  if (!scalars.empty()) writer_.add_scalars(step, scalars);
}

void TensorBoardLog::log(const OrderedJson& row) { log_row(row); }
void TensorBoardLog::log(const Json& row) { log_row(row); }

}  // namespace prefer::train
