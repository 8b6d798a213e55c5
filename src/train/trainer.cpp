#include "train/trainer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <regex>

#include "data/sampler.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/tensorboard.h"
#include "train/optimizer.h"
#include "train/rng_state.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/timer.h"

namespace prefer::train {
namespace fs = std::filesystem;

void TrainerArgs::validate() const {
  auto fail = [](const char* field, const std::string& msg) { throw Error(msg, {.field = field}); };
  if (output_dir.empty()) fail("output_dir", "is required");
  if (!(learning_rate >= 0)) fail("learning_rate", "must be >= 0 (0 runs without changing the model)");
  if (!(learning_rate <= 10)) fail("learning_rate", "must be at most 10 (DPO uses about 1e-6 to 1e-4)");
  if (num_train_epochs <= 0 && max_steps <= 0) fail("num_train_epochs", "must be > 0 (or set max_steps)");
  if (max_steps == 0 || max_steps < -1) fail("max_steps", "must be a positive number of steps, or -1 to use num_train_epochs");
  if (per_device_train_batch_size < 1) fail("per_device_train_batch_size", "must be >= 1");
  if (per_device_eval_batch_size < 1) fail("per_device_eval_batch_size", "must be >= 1");
  if (gradient_accumulation_steps < 1) fail("gradient_accumulation_steps", "must be >= 1");
  if (max_grad_norm < 0) fail("max_grad_norm", "must be >= 0 (0 disables clipping)");
  if (weight_decay < 0) fail("weight_decay", "must be >= 0");
  if (logging_steps < 1) fail("logging_steps", "must be >= 1");
  if (eval_steps < 0) fail("eval_steps", "must be >= 1 (or 0 for logging_steps)");
  if (save_steps < 1) fail("save_steps", "must be >= 1");
  if (save_total_limit < 0) fail("save_total_limit", "must be >= 0 (0 keeps every checkpoint)");
  if (warmup_ratio < 0 || warmup_ratio > 1) fail("warmup_ratio", "must be in [0, 1]");
  if (warmup_steps < 0) fail("warmup_steps", "must be >= 0");
  parse_schedule_type(lr_scheduler_type);  // throws with the valid names
}

fs::path latest_checkpoint(const fs::path& output_dir) {
  fs::path best;
  int64_t best_step = -1;
  std::error_code ec;
  if (!fs::exists(output_dir, ec)) return best;
  static const std::regex re("checkpoint-([0-9]+)");
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (e.is_directory() && std::regex_match(name, m, re) && fs::exists(e.path() / "trainer_state.json")) {
      int64_t s = std::stoll(m[1]);
      if (s > best_step) best_step = s, best = e.path();
    }
  }
  return best;
}

Trainer::Trainer(TrainerArgs args, TrainingTask task, const data::TokenizedDataset& train, const data::TokenizedDataset* eval)
    : args_(std::move(args)), task_(std::move(task)), train_(train), eval_(eval) {
  args_.validate();
  if (train_.size() == 0) throw Error("the training set is empty", {.hint = "check the data file and max_length (examples may all be dropped)"});
  const int64_t n = static_cast<int64_t>(train_.size());
  batches_per_epoch_ = (n + args_.per_device_train_batch_size - 1) / args_.per_device_train_batch_size;
  steps_per_epoch_ = std::max<int64_t>(1, batches_per_epoch_ / args_.gradient_accumulation_steps);
  total_steps_ = args_.max_steps > 0 ? args_.max_steps
                                     : static_cast<int64_t>(std::ceil(args_.num_train_epochs * static_cast<double>(steps_per_epoch_)));
}

namespace {

// Means over a window of optimizer steps, weighted by examples (as TRL averages its metrics).
struct Window {
  std::map<std::string, double> sums;
  double examples = 0;
  double loss_sum = 0;
  int64_t steps = 0;
  Json to_json() const { return {{"sums", sums}, {"examples", examples}, {"loss_sum", loss_sum}, {"steps", steps}}; }
  static Window from_json(const Json& j) {
    Window w;
    w.sums = j.at("sums").get<std::map<std::string, double>>();
    w.examples = j.at("examples").get<double>();
    w.loss_sum = j.at("loss_sum").get<double>();
    w.steps = j.at("steps").get<int64_t>();
    return w;
  }
};

}  // namespace

Json Trainer::evaluate() {
  Json out = Json::object();
  if (eval_ == nullptr || eval_->size() == 0) return out;
  at::NoGradGuard no_grad;
  data::SamplerOptions so{.batch_size = args_.per_device_eval_batch_size, .shuffle = false, .group_by_length = false};
  std::map<std::string, double> sums;
  double examples = 0, loss = 0;
  for (const auto& batch : data::epoch_batches(*eval_, so, 0)) {
    MicroStep s = task_.step(*eval_, batch, false);
    double w = static_cast<double>(s.examples);
    loss += s.loss.item<double>() * w;
    for (const auto& [k, v] : s.metrics) sums[k] += v.item<double>() * w;
    examples += w;
  }
  out["eval_loss"] = loss / examples;
  for (const auto& [k, v] : sums) out["eval_" + k] = v / examples;
  return out;
}

TrainResult Trainer::train() {
  const fs::path out_dir = args_.output_dir;
  fs::create_directories(out_dir);
  // ---- resume: the trainable state first (an adapter is rebuilt), then everything that refers to it --
  fs::path ck;
  Json st;
  if (!args_.resume_from_checkpoint.empty()) {
    ck = args_.resume_from_checkpoint == "latest" ? latest_checkpoint(out_dir) : fs::path(args_.resume_from_checkpoint);
    if (ck.empty() || !fs::exists(ck / "trainer_state.json"))
      throw Error("no checkpoint to resume from", {.file = (ck.empty() ? out_dir : ck).string(), .field = "resume_from_checkpoint",
                  .hint = "checkpoints are written every save_steps steps as checkpoint-N/"});
    st = read_json_file(ck / "trainer_state.json");
    ErrorContext c{.file = (ck / "trainer_state.json").string()};
    if (require_int(st, "total_steps", c) != total_steps_ || require_int(st, "per_device_train_batch_size", c) != args_.per_device_train_batch_size ||
        require_int(st, "gradient_accumulation_steps", c) != args_.gradient_accumulation_steps)
      throw Error("this checkpoint was made with other training settings (steps, batch size or accumulation)",
                  {.file = ck.string(), .hint = "resume with the run's config.yaml: prefer dpo --config " + (out_dir / "config.yaml").string()});
    task_.load_checkpoint(ck);
  }
  std::vector<NamedParam> params = task_.trainable();
  if (params.empty()) throw Error("nothing to train: no parameter requires a gradient");
  std::vector<at::Tensor> tensors;
  for (const auto& p : params) tensors.push_back(p.param);
  AdamW optimizer(weight_decay_groups(params, args_.weight_decay),
                  {.beta1 = args_.adam_beta1, .beta2 = args_.adam_beta2, .eps = args_.adam_epsilon});
  ScheduleOptions so;
  so.type = parse_schedule_type(args_.lr_scheduler_type);
  so.total_steps = total_steps_;
  so.warmup_steps = resolve_warmup_steps(total_steps_, static_cast<double>(args_.warmup_steps), args_.warmup_ratio);
  LrSchedule schedule(so, args_.learning_rate);
  data::SamplerOptions sampler{.batch_size = args_.per_device_train_batch_size, .shuffle = true,
                               .group_by_length = args_.group_by_length, .seed = args_.seed};

  int64_t step = 0, epoch = 0, cursor = 0, tokens = 0;
  Window window;
  double elapsed_before = 0;
  at::manual_seed(static_cast<uint64_t>(args_.seed));
  std::optional<int64_t> resume_step;
  if (!ck.empty()) {
    ErrorContext c{.file = (ck / "trainer_state.json").string()};
    optimizer.load(ck / "optimizer.safetensors");
    step = require_int(st, "global_step", c);
    epoch = require_int(st, "epoch_index", c);
    cursor = require_int(st, "batch_cursor", c);
    tokens = require_int(st, "num_tokens", c);
    elapsed_before = st.value("seconds", 0.0);
    window = Window::from_json(require_field(st, "window", c));
    restore_rng_state(ck / "rng_state.json");
    resume_step = step;
    std::cerr << fmt::format("resuming from {} at step {} of {}\n", ck.string(), step, total_steps_);
  }

  // ---- logs: metrics.jsonl, warnings.jsonl, TensorBoard (a resumed run drops what came after its step) --
  MetricsLog metrics(out_dir, resume_step);
  WarningsLog warnings_log(out_dir, resume_step);
  TensorBoardLog tensorboard(out_dir, resume_step);
  TrainResult result;
  std::optional<TrainingMonitor> monitor;
  if (monitor_) {
    MonitorOptions mo = *monitor_;
    mo.total_steps = total_steps_;
    monitor.emplace(mo);
    if (resume_step) monitor->restore(read_metrics(metrics.path()), read_warnings(warnings_log.path()));
  }
  auto warn = [&](const TrainingWarning& w) {
    warnings_log.log(w);
    result.warnings.push_back(w);
    std::cerr << "warning: " << w.message << "\n";
  };
  if (!resume_step)
    for (const auto& w : preflight_) {
      warn(w);
      if (monitor) monitor->mark_fired(w.id);
    }
  bool stop = false;
  auto emit = [&](const OrderedJson& row) {
    metrics.log(row);
    tensorboard.log(row);
    Json plain = Json::parse(row.dump());
    result.log.push_back(plain);
    for (auto& cb : callbacks_) cb(plain);
    if (monitor)
      for (const auto& w : monitor->observe(plain)) {
        warn(w);
        stop = stop || w.fatal;
      }
  };

  std::vector<std::vector<size_t>> batches = data::epoch_batches(train_, sampler, epoch);
  auto next_batch = [&]() -> const std::vector<size_t>& {
    if (cursor >= static_cast<int64_t>(batches.size())) {
      ++epoch;
      cursor = 0;
      batches = data::epoch_batches(train_, sampler, epoch);
    }
    return batches[static_cast<size_t>(cursor++)];
  };

  ProgressBar bar(total_steps_, {.label = "train", .unit = "steps", .tty = args_.show_progress && stdout_is_terminal(),
                                 .plain_interval_s = 30}, std::cout);
  Stopwatch clock;
  const int64_t eval_every = args_.eval_steps > 0 ? args_.eval_steps : args_.logging_steps;
  std::string status;
  while (step < total_steps_) {
    // ---- accumulate gradients over the micro-batches of this step ----------------------------------
    std::vector<std::vector<size_t>> micro;
    int64_t step_examples = 0;
    for (int64_t k = 0; k < args_.gradient_accumulation_steps; ++k) {
      micro.push_back(next_batch());
      step_examples += static_cast<int64_t>(micro.back().size());
    }
    for (const auto& mb : micro) {
      MicroStep s = task_.step(train_, mb, true);
      double l = s.loss.item<double>();
      if (!std::isfinite(l)) {
        Json bad = {{"step", step + 1}, {"loss", std::isnan(l) ? "nan" : "inf"}, {"lines", s.lines}};
        write_json_file(out_dir / "nonfinite_batch.json", bad);
        throw Error("the loss became " + std::string(std::isnan(l) ? "NaN" : "infinite") + " at step " + std::to_string(step + 1),
                    {.file = (out_dir / "nonfinite_batch.json").string(),
                     .hint = "the offending examples' lines are in that file; lower learning_rate, check those examples, or "
                             "resume from the last checkpoint"});
      }
      double w = static_cast<double>(s.examples) / static_cast<double>(step_examples);
      (s.loss * w).backward();
      window.loss_sum += l * static_cast<double>(s.examples);
      for (const auto& [k, v] : s.metrics) window.sums[k] += v.item<double>() * static_cast<double>(s.examples);
      window.examples += static_cast<double>(s.examples);
      tokens += s.tokens;
    }
    // ---- clip, step, schedule ------------------------------------------------------------------------
    double grad_norm = args_.max_grad_norm > 0 ? clip_grad_norm(tensors, args_.max_grad_norm).item<double>()
                                               : grad_global_norm(tensors).item<double>();
    optimizer.step(schedule.lr(step));
    optimizer.zero_grad();
    ++step;
    const double lr = schedule.lr(step);  // transformers logs the rate the next step will use
    ++window.steps;
    window.sums["grad_norm"] += grad_norm;

    // ---- log, eval, checkpoint ------------------------------------------------------------------------
    const bool last = step == total_steps_;
    const double seconds = elapsed_before + clock.seconds();
    if (step % args_.logging_steps == 0 || last) {
      std::vector<std::pair<std::string, double>> values = {
          {"loss", window.loss_sum / window.examples},
          {"grad_norm", window.sums["grad_norm"] / static_cast<double>(window.steps)},
          {"learning_rate", lr}, {"num_tokens", static_cast<double>(tokens)},
          {"tokens_per_second", seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0}};
      for (const auto& [k, v] : window.sums)
        if (k != "grad_norm") values.push_back({k, v / window.examples});
      OrderedJson row = make_log_row(step, static_cast<double>(step) / static_cast<double>(steps_per_epoch_), values);
      status = fmt::format("loss {:.4f}", values[0].second);
      if (window.sums.count("rewards/margins"))
        status += fmt::format(" margin {:.3f} acc {:.2f}", window.sums["rewards/margins"] / window.examples,
                              window.sums["rewards/accuracies"] / window.examples);
      emit(row);
      window = Window{};
    }
    if (eval_ != nullptr && eval_->size() > 0 && (step % eval_every == 0 || last)) {
      Json e = evaluate();
      std::vector<std::pair<std::string, double>> values;
      for (auto it = e.begin(); it != e.end(); ++it) values.push_back({it.key(), it.value().get<double>()});
      emit(make_log_row(step, static_cast<double>(step) / static_cast<double>(steps_per_epoch_), values));
    }
    if (stop)
      throw Error("training stopped at step " + std::to_string(step) + ": " + result.warnings.back().message,
                  {.file = warnings_log.path().string()});
    if (step % args_.save_steps == 0 && !last) {
      AtomicDirectory ck(out_dir / ("checkpoint-" + std::to_string(step)));
      task_.save_checkpoint(ck.staging());
      optimizer.save(ck.staging() / "optimizer.safetensors");
      save_rng_state(ck.staging() / "rng_state.json");
      write_json_file(ck.staging() / "trainer_state.json",
                      {{"global_step", step}, {"epoch_index", epoch}, {"batch_cursor", cursor}, {"num_tokens", tokens},
                       {"total_steps", total_steps_}, {"per_device_train_batch_size", args_.per_device_train_batch_size},
                       {"gradient_accumulation_steps", args_.gradient_accumulation_steps}, {"seconds", seconds},
                       {"window", window.to_json()}});
      ck.commit();
      if (args_.save_total_limit > 0) {
        std::vector<std::pair<int64_t, fs::path>> all;
        static const std::regex re("checkpoint-([0-9]+)");
        for (const auto& e : fs::directory_iterator(out_dir)) {
          std::smatch m;
          std::string name = e.path().filename().string();
          if (e.is_directory() && std::regex_match(name, m, re)) all.push_back({std::stoll(m[1]), e.path()});
        }
        std::sort(all.begin(), all.end());
        for (size_t i = 0; i + static_cast<size_t>(args_.save_total_limit) < all.size(); ++i) fs::remove_all(all[i].second);
      }
    }
    bar.update(step, status);
  }
  bar.finish(status);
  if (monitor)
    for (const auto& w : monitor->finish()) warn(w);

  // ---- final/: only now, atomically --------------------------------------------------------------------
  AtomicDirectory final_dir(out_dir / "final");
  task_.save_final(final_dir.staging());
  final_dir.commit();
  result.steps = step;
  result.seconds = elapsed_before + clock.seconds();
  result.final_dir = out_dir / "final";
  return result;
}

}  // namespace prefer::train
