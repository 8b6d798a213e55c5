// The memory plan of a training run, from its options and the model's config.json alone (nothing is
// loaded): `prefer plan <trainer> <options>` prints it, and every trainer checks it before loading.
//   - the predicted peak, broken down as the seed's table is (weights, adapters, optimizer, gradients,
//     activations, logits, reference, dequantised layer, KV cache of rollouts, runtime);
//   - --max_memory (default: this machine's RAM): a run predicted not to fit turns gradient
//     checkpointing on when that makes it fit, and otherwise stops with the plan and what to change;
//   - --auto_batch_size: the largest micro-batch that fits (at most the effective batch), with gradient
//     accumulation raised to keep the effective batch exactly when the micro-batch divides it, else the
//     nearest effective batch below it; the run says which.
// The micro-batch is planned at its worst: every row max_length tokens (DPO's prefix_shared layout:
// the prompt once, max_prompt_length tokens).
#pragma once

#include <ostream>
#include <string>

#include "train/memory_estimate.h"
#include "util/json.h"

namespace prefer::cli {

// The estimate's inputs for `trainer` ("dpo", "sft", ...) with resolved options `o`.
train::MemoryInputs planned_inputs(const std::string& trainer, const Json& o);

// Parses "12GB", "12 GiB", "800MB", "1e9" (bytes); errors name max_memory.
uint64_t parse_memory_size(const std::string& text);

// Applies the plan to the options before a run: returns them with per_device_train_batch_size,
// gradient_accumulation_steps and gradient_checkpointing changed where the plan decided (and says so on
// `out`); throws when the run cannot fit.
Json apply_memory_plan(const std::string& trainer, Json o, std::ostream& out);

// `prefer plan <trainer>`: the plan as a table on `out` (and the decisions apply_memory_plan would take).
void print_memory_plan(const std::string& trainer, const Json& o, std::ostream& out);

}  // namespace prefer::cli
