#include "train/preflight.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace prefer::train {

std::vector<TrainingWarning> preflight_checks(const PreflightInputs& in, const PreflightThresholds& t) {
  std::vector<TrainingWarning> out;
  auto add = [&](const char* id, std::string message, OrderedJson evidence) {
    out.push_back({.id = id, .step = 0, .message = std::move(message), .evidence = std::move(evidence)});
  };

  if (in.preference_checks && in.beta < t.small_beta && in.num_pairs < t.few_pairs)
    add("beta_small_for_data_size",
        fmt::format("beta is {} with only {} training {}. A small beta lets the policy move far from the "
                    "reference model, and with little data it will mostly memorise it (training accuracy near "
                    "1, rejected log-probabilities collapsing). Use beta >= {} with fewer than {} {}, or "
                    "collect more data.",
                    warning_number(in.beta), in.num_pairs, in.unit, warning_number(t.small_beta), t.few_pairs, in.unit),
        {{"beta", in.beta}, {"num_pairs", in.num_pairs}});

  if (in.learning_rate < t.min_learning_rate || in.learning_rate > t.max_learning_rate) {
    const bool low = in.learning_rate < t.min_learning_rate;
    add("learning_rate_out_of_range",
        fmt::format("learning_rate is {}, {} the usual {} range [{}, {}]. {}", warning_number(in.learning_rate),
                    low ? "below" : "above", in.method, warning_number(t.min_learning_rate), warning_number(t.max_learning_rate),
                    !in.preference_checks
                        ? (low ? "The model may barely change within the run (the loss flat)."
                               : "Updates this large usually make the loss unstable within a few hundred steps.")
                    : low ? "The policy may barely move within the run (rewards/margins flat); full fine-tunes "
                          "sometimes use 5e-7, but with LoRA this is almost always too small."
                        : "Updates this large usually make the loss unstable or collapse the log-probabilities "
                          "within a few hundred steps; TRL's default is 1e-6 for full fine-tuning, and LoRA "
                          "runs commonly use 5e-6 to 5e-5."),
        {{"learning_rate", in.learning_rate},
         {"range", OrderedJson::array({t.min_learning_rate, t.max_learning_rate})}});
  }

  if (in.max_length > 0 && in.max_prompt_length > 0) {
    const double share = static_cast<double>(in.max_prompt_length) / static_cast<double>(in.max_length);
    if (share < t.min_prompt_share || share > t.max_prompt_share)
      add("prompt_length_share",
          fmt::format("max_prompt_length is {} of max_length {} ({}%). {} A split near half (TRL's defaults are "
                      "512 of 1024) suits most data; check the token lengths with prefer data validate.",
                      in.max_prompt_length, in.max_length, warning_number(100 * share),
                      share < t.min_prompt_share
                          ? "Prompts longer than that are cut from the left, so multi-turn context is lost."
                          : "Little room is left for the responses: long chosen and rejected responses are "
                            "truncated, often at the part where they differ."),
          {{"max_prompt_length", in.max_prompt_length}, {"max_length", in.max_length}, {"share", share}});
  }

  if (in.preference_checks && !in.has_chat_template)
    add("no_chat_template",
        fmt::format("The model folder has no chat template, which usually means a base model rather than an instruction-"
                    "tuned one. {0} works best starting from a supervised fine-tuned (SFT) checkpoint of the same model: a "
                    "base model has not learned to answer in the format of the chosen responses, and {0} alone teaches it "
                    "poorly. Run prefer sft first, or point --model at an instruct/SFT checkpoint (prefer orpo trains a "
                    "base model in one stage).",
                    in.method),
        {{"has_chat_template", false}});

  if (in.estimated_peak_bytes > 0 && in.available_bytes > 0 && in.estimated_peak_bytes > in.available_bytes)
    add("memory_above_available",
        fmt::format("The estimated peak memory of this run is {} but the machine has {} of {}{}. The run will "
                    "likely fail or swap. Lower per_device_train_batch_size (raising "
                    "gradient_accumulation_steps keeps the effective batch), lower max_length, use LoRA "
                    "(--use_peft), or precompute the reference log-probs (precompute_ref_log_probs).",
                    format_bytes(static_cast<double>(in.estimated_peak_bytes)),
                    format_bytes(static_cast<double>(in.available_bytes)), in.memory_kind,
                    in.memory_breakdown.empty() ? "" : " (estimate: " + in.memory_breakdown + ")"),
        {{"estimated_peak_bytes", in.estimated_peak_bytes}, {"available_bytes", in.available_bytes}});

  return out;
}

}  // namespace prefer::train
