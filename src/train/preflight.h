// Pre-flight checks before a training run starts (the seed's checklist): settings that commonly waste a run,
// reported as TrainingWarnings at step 0 (written to warnings.jsonl and printed; they do not stop the run).
//   beta_small_for_data_size    beta < 0.1 with fewer than 2,000 pairs
//   learning_rate_out_of_range  learning_rate outside [1e-6, 1e-4]
//   prompt_length_share         max_prompt_length outside [0.25, 0.75] of max_length
//   no_chat_template            the model folder has no chat template (DPO should start from an SFT model)
//   memory_above_available      the estimated peak memory (memory_estimate.h) exceeds what the machine has
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/training_warning.h"

namespace prefer::train {

struct PreflightInputs {
  std::string method = "DPO";        // named in messages ("the usual DPO range")
  bool preference_checks = true;     // beta and chat-template checks (the DPO family's; off for SFT / reward)
  double beta = 0.1;
  int64_t num_pairs = 0;             // training pairs after filtering
  std::string unit = "pairs";        // what num_pairs counts, in messages (KTO: "examples")
  double learning_rate = 1e-6;
  int64_t max_length = 0;            // 0 = unset (the length checks are skipped)
  int64_t max_prompt_length = 0;     // 0 = unset
  bool has_chat_template = true;
  uint64_t estimated_peak_bytes = 0;  // 0 = not estimated
  uint64_t available_bytes = 0;       // 0 = unknown
  std::string memory_kind = "RAM";    // what available_bytes measures: "RAM", "GPU memory"
  std::string memory_breakdown;       // MemoryEstimate::describe(), quoted in the message
};

struct PreflightThresholds {
  double small_beta = 0.1;
  int64_t few_pairs = 2000;
  double min_learning_rate = 1e-6;
  double max_learning_rate = 1e-4;
  double min_prompt_share = 0.25;
  double max_prompt_share = 0.75;
};

// The warnings that apply, in the order listed above.
std::vector<TrainingWarning> preflight_checks(const PreflightInputs& in, const PreflightThresholds& t = {});

}  // namespace prefer::train
