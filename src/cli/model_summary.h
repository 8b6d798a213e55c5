// Human and JSON descriptions of a model folder, shared by `prefer inspect` and `prefer demo`.
#pragma once

#include <filesystem>
#include <ostream>

#include "util/json.h"

namespace prefer::cli {

// Reads config, weights and tokenizer file list; validates every weight file (via io::Checkpoint).
Json summarize_model_folder(const std::filesystem::path& dir, bool with_tensors);
// The same summary as aligned text.
void print_model_summary(const Json& summary, std::ostream& out);

}  // namespace prefer::cli
