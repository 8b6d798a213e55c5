#include "train/sft_checks.h"

#include <fmt/format.h>

namespace prefer::train {

std::vector<MonitorRule> sft_monitor_rules(int64_t total_steps) {
  MonitorRule falling{MonitorRule::kTrain | MonitorRule::kFinish, [total_steps](const MetricHistory& h, bool final_check)
                      -> std::optional<TrainingWarning> {
    if (!run_reached(h, total_steps, 0.2, final_check)) return std::nullopt;
    auto s = metric_series(h.train, "loss");
    if (s.size() < 2) return std::nullopt;
    const double first = s.front().value, recent = recent_mean(s, 3);
    if (!(first - recent < 0.02 * std::abs(first))) return std::nullopt;
    return TrainingWarning{.id = "sft_loss_not_falling", .step = s.back().step,
                           .message = fmt::format("At step {} the training loss is {} (mean of the last logs), against {} at the "
                                                  "first log: it has not fallen. The model is not learning the data: raise "
                                                  "learning_rate (TRL's SFT default is 2e-5; LoRA runs use about 1e-4), check "
                                                  "that the completions are what you mean to train on (prefer tokenize shows "
                                                  "the tokens), or train longer.",
                                                  s.back().step, warning_number(recent), warning_number(first)),
                           .evidence = {{"first_loss", first}, {"recent_loss", recent}}};
  }};
  MonitorRule memorising{MonitorRule::kEval | MonitorRule::kFinish, [](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto ev = metric_series(h.eval, "eval_loss");
    auto tr = metric_series(h.train, "loss");
    if (ev.size() < 2 || tr.empty()) return std::nullopt;
    double best = ev.front().value;
    for (const auto& p : ev) best = std::min(best, p.value);
    const double eval = ev.back().value, train = tr.back().value, gap = eval - train;
    if (!(eval > best + 0.02 && gap > 0.3 && gap > 0.25 * eval)) return std::nullopt;
    return TrainingWarning{.id = "sft_memorising", .step = ev.back().step,
                           .message = fmt::format("At step {} the eval loss is {} and rising (its best was {}), while the "
                                                  "training loss is {}: the model is memorising the training examples "
                                                  "rather than learning what generalises. Stop earlier (the checkpoint "
                                                  "nearest the best eval loss), train fewer epochs, or add data.",
                                                  ev.back().step, warning_number(eval), warning_number(best), warning_number(train)),
                           .evidence = {{"eval_loss", eval}, {"best_eval_loss", best}, {"loss", train}}};
  }};
  return {falling, memorising};
}

std::vector<TrainingWarning> sft_data_checks(const SftDataFacts& f) {
  std::vector<TrainingWarning> out;
  if (f.examples > 0 && static_cast<double>(f.truncated) > 0.05 * static_cast<double>(f.examples))
    out.push_back({.id = "sft_completions_truncated", .step = 0,
                   .message = fmt::format("{} of {} training examples ({}%) lost completion tokens to max_length. The model "
                                          "learns answers that stop mid-way and never sees their end (nor the EOS "
                                          "token). Raise max_length, or shorten those examples.",
                                          f.truncated, f.examples, warning_number(100.0 * static_cast<double>(f.truncated) / static_cast<double>(f.examples))),
                   .evidence = {{"truncated", f.truncated}, {"examples", f.examples}}});
  if (f.conversational && !f.template_has_generation && !f.assistant_only_loss)
    out.push_back({.id = "sft_template_without_assistant_markers", .step = 0,
                   .message = "The data holds conversations, and the model's chat template has no {% generation %} "
                              "blocks marking the assistant's turns, so every token of every turn is trained on, the "
                              "users' and the system prompt's included. For prompt/completion conversations prefer trains "
                              "on the completion only; for whole conversations use a template with generation blocks "
                              "and --assistant_only_loss.",
                   .evidence = {{"conversational", true}, {"template_has_generation", false}}});
  return out;
}

}  // namespace prefer::train
