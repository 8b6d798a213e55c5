#include "train/trainer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <fstream>
#include <iostream>
#include <regex>

#include "data/sampler.h"
#include "train/distributed.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/tensorboard.h"
#include "train/optimizer.h"
#include "train/rng_state.h"
#include "train/run_control.h"
#include "train/run_logs.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/strings.h"
#include "util/timer.h"

namespace prefer::train {
namespace fs = std::filesystem;

void TrainerArgs::validate() const {
  auto fail = [](const char* field, const std::string& msg) { throw Error(msg, {.field = field}); };
  if (output_dir.empty()) fail("output_dir", "is required");
  if (!(learning_rate >= 0)) fail("learning_rate", "must be >= 0 (0 runs without changing the model)");
  if (!(learning_rate <= 10)) fail("learning_rate", "must be at most 10 (fine-tuning uses about 1e-6 to 1e-3)");
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

void add_means(MetricSums& out, const objectives::Metrics& means, double weight) {
  for (const auto& [k, v] : means) {
    MetricSum& m = out[k];
    at::Tensor add = v.detach().to(at::kDouble) * weight;
    m.sum = m.sum.defined() ? m.sum + add : add;
    m.weight += weight;
  }
}

Trainer::Trainer(TrainerArgs args, TrainingTask task, const data::TokenizedDataset& train, const data::TokenizedDataset* eval)
    : args_(std::move(args)), task_(std::move(task)), train_(train), eval_(eval) {
  args_.validate();
  if (train_.size() == 0) throw Error("the training set is empty", {.hint = "check the data file and max_length (examples may all be dropped)"});
  if (args_.ddp_timeout < 1) throw Error("must be at least 1 second", {.field = "ddp_timeout"});
  if (args_.zero_stage != 0 && args_.zero_stage != 1)
    throw Error("must be 0 or 1 (ZeRO stages 2 and 3 are not implemented)", {.field = "zero_stage"});
  batches_per_epoch_ = static_cast<int64_t>(global_batches(train_, 0).size());
  steps_per_epoch_ = std::max<int64_t>(1, batches_per_epoch_ / args_.gradient_accumulation_steps);
  total_steps_ = args_.max_steps > 0 ? args_.max_steps
                                     : static_cast<int64_t>(std::ceil(args_.num_train_epochs * static_cast<double>(steps_per_epoch_)));
}

BatchList Trainer::epoch_batches(const data::TokenizedDataset& d, const data::SamplerOptions& so, int64_t epoch) const {
  return task_.batches ? task_.batches(d, so, epoch) : data::epoch_batches(d, so, epoch);
}

std::vector<BatchList> Trainer::global_batches(const data::TokenizedDataset& d, int64_t epoch) const {
  const int64_t world = Distributed::get().world(), per = args_.per_device_train_batch_size;
  std::vector<BatchList> out;
  if (task_.batches) {
    data::SamplerOptions so{.batch_size = per, .shuffle = true, .group_by_length = args_.group_by_length, .seed = args_.seed};
    BatchList all = task_.batches(d, so, epoch);
    for (size_t i = 0; i < all.size(); i += static_cast<size_t>(world)) {
      BatchList parts(static_cast<size_t>(world));
      for (int64_t r = 0; r < world && i + static_cast<size_t>(r) < all.size(); ++r) parts[static_cast<size_t>(r)] = std::move(all[i + static_cast<size_t>(r)]);
      out.push_back(std::move(parts));
    }
    return out;
  }
  data::SamplerOptions so{.batch_size = per * world, .shuffle = true, .group_by_length = args_.group_by_length, .seed = args_.seed};
  for (auto& b : data::epoch_batches(d, so, epoch)) {
    BatchList parts(static_cast<size_t>(world));
    for (size_t k = 0; k < b.size(); ++k) parts[std::min(k / static_cast<size_t>(per), static_cast<size_t>(world - 1))].push_back(b[k]);
    out.push_back(std::move(parts));
  }
  return out;
}

namespace {

// Means over a window of optimizer steps: the loss is the mean of the steps' losses (as transformers logs
// it); every other metric is Σ sum / Σ weight over the window's micro-batches.
struct Window {
  std::map<std::string, double> sums, weights;
  std::map<std::string, at::Tensor> pending;  // device sums not yet read back
  double loss_sum = 0;
  int64_t steps = 0;
  void add(const MetricSums& m) {
    for (const auto& [k, v] : m) {
      at::Tensor& p = pending[k];
      p = p.defined() ? p + v.sum : v.sum.clone();
      weights[k] += v.weight;
    }
  }
  void flush() {
    for (auto& [k, t] : pending) sums[k] += t.item<double>();
    pending.clear();
  }
  double mean(const std::string& k) const {
    auto w = weights.find(k);
    return w == weights.end() || w->second == 0 ? 0.0 : sums.at(k) / w->second;
  }
  Json to_json() {
    flush();
    return {{"sums", sums}, {"weights", weights}, {"loss_sum", loss_sum}, {"steps", steps}};
  }
  // Rank windows summed: metric sums and weights add; the loss and grad_norm are already global (taken
  // from rank 0). `gathered` are {"window", "loss", "weight"} objects; loss and weight are summed into
  // the out-parameters.
  static Window merge(const std::vector<Json>& gathered, double& loss, double& weight) {
    Window out = from_json(gathered[0].at("window"));
    loss = gathered[0].value("loss", 0.0);
    weight = gathered[0].value("weight", 0.0);
    for (size_t r = 1; r < gathered.size(); ++r) {
      Window w = from_json(gathered[r].at("window"));
      for (const auto& [k, v] : w.sums)
        if (k != "grad_norm") out.sums[k] += v;
      for (const auto& [k, v] : w.weights)
        if (k != "grad_norm") out.weights[k] += v;
      loss += gathered[r].value("loss", 0.0);
      weight += gathered[r].value("weight", 0.0);
    }
    return out;
  }
  static Window from_json(const Json& j) {
    Window w;
    w.sums = j.at("sums").get<std::map<std::string, double>>();
    w.weights = j.at("weights").get<std::map<std::string, double>>();
    w.loss_sum = j.at("loss_sum").get<double>();
    w.steps = j.at("steps").get<int64_t>();
    return w;
  }
};

// ZeRO stage 1: which rank owns each optimizer slot. Contiguous runs of parameters (in the optimizer's
// order) of about total/world elements each, so every rank keeps about 1/world of the moments.
struct Shards {
  std::vector<int> owner;                   // per optimizer slot
  std::vector<std::vector<size_t>> owned;   // per rank, its slots
  static Shards of(const AdamW& opt, int world) {
    Shards s;
    s.owned.resize(static_cast<size_t>(world));
    int64_t total = 0;
    for (size_t i = 0; i < opt.num_params(); ++i) total += opt.param(i).numel();
    int64_t seen = 0;
    for (size_t i = 0; i < opt.num_params(); ++i) {
      // The rank whose share the middle of this parameter falls in.
      const int64_t mid = seen + opt.param(i).numel() / 2;
      int r = total > 0 ? static_cast<int>(std::min<int64_t>(world - 1, mid * world / total)) : 0;
      s.owner.push_back(r);
      s.owned[static_cast<size_t>(r)].push_back(i);
      seen += opt.param(i).numel();
    }
    return s;
  }
  // Every rank's moments copied to every rank (for rank 0 to write a checkpoint), as tensors in the
  // optimizer's state layout; `steps` are the owners' per-parameter counts.
  static void gather_into(AdamW& opt, const Shards& s, Distributed& dist) {
    Json mine = Json::object();
    for (size_t i : s.owned[static_cast<size_t>(dist.rank())]) mine[std::to_string(i)] = opt.state(i).step;
    std::vector<Json> steps = dist.all_gather_json("zero_steps", mine);
    for (int r = 0; r < dist.world(); ++r) {
      std::vector<AdamW::ParamState> st;
      std::vector<at::Tensor> bufs;
      for (size_t i : s.owned[static_cast<size_t>(r)]) {
        const at::Tensor& p = opt.param(i);
        const int64_t step = steps[static_cast<size_t>(r)].value(std::to_string(i), int64_t{0});
        AdamW::ParamState x = r == dist.rank() ? opt.state(i) : AdamW::ParamState{};
        x.step = step;
        if (step > 0 && r != dist.rank()) {
          const auto o = p.options().dtype(p.scalar_type() == at::kDouble ? at::kDouble : at::kFloat).requires_grad(false);
          x.exp_avg = at::zeros(p.sizes(), o);
          x.exp_avg_sq = at::zeros(p.sizes(), o);
          if (p.scalar_type() == at::kBFloat16 || p.scalar_type() == at::kHalf) x.master = at::zeros(p.sizes(), o.dtype(at::kFloat));
        }
        for (at::Tensor* t : {&x.exp_avg, &x.exp_avg_sq, &x.master})
          if (t->defined()) bufs.push_back(*t);
        st.push_back(std::move(x));
      }
      dist.broadcast(bufs, r);
      size_t k = 0;
      for (size_t i : s.owned[static_cast<size_t>(r)]) opt.set_state(i, std::move(st[k++]));
    }
  }
  void drop_others(AdamW& opt, int rank) const {
    for (size_t i = 0; i < owner.size(); ++i)
      if (owner[i] != rank) opt.clear_state(i);
  }
};

}  // namespace

Json Trainer::evaluate() {
  Distributed& dist = Distributed::get();
  Json out = Json::object();
  // A command's own evaluation (a judged win rate) runs on rank 0; the others take its result.
  if (task_.extra_eval) out = dist.all_gather_json("extra_eval", dist.main_process() ? task_.extra_eval() : Json())[0];
  if (eval_ == nullptr || eval_->size() == 0) return out;
  at::NoGradGuard no_grad;
  data::SamplerOptions so{.batch_size = args_.per_device_eval_batch_size, .shuffle = false, .group_by_length = false};
  Window w;
  double loss = 0, weight = 0;
  size_t i = 0;
  for (const auto& batch : epoch_batches(*eval_, so, 0)) {
    if (static_cast<int>(i++ % static_cast<size_t>(dist.world())) != dist.rank()) continue;  // round-robin over ranks
    MicroStep s = task_.step(*eval_, batch, false);
    loss += s.loss_sum.item<double>();
    weight += s.weight;
    w.add(s.metrics);
  }
  if (dist.active()) {
    w = Window::merge(dist.all_gather_json("eval", {{"window", w.to_json()}, {"loss", loss}, {"weight", weight}}), loss, weight);
  }
  w.flush();
  out["eval_loss"] = weight > 0 ? loss / weight : 0.0;
  for (const auto& [k, v] : w.sums) out["eval_" + k] = w.mean(k);
  return out;
}

TrainResult Trainer::train() {
  const fs::path out_dir = args_.output_dir;
  Distributed& dist = Distributed::get();
  const bool main = dist.main_process();  // rank 0 alone writes the run folder
  if (main) fs::create_directories(out_dir);
  // Workers started differently would train different models and hang at the first mismatch.
  dist.check_same("options, model or data", {{"fingerprint", task_.fingerprint}, {"total_steps", total_steps_},
                                             {"per_device_train_batch_size", args_.per_device_train_batch_size},
                                             {"gradient_accumulation_steps", args_.gradient_accumulation_steps},
                                             {"learning_rate", args_.learning_rate}, {"seed", args_.seed}, {"resume", args_.resume_from_checkpoint}});
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
    const std::string again = args_.command + " --config " + (out_dir / "config.yaml").string();
    // The data order depends on the global batch (per device x workers), not on how it is split.
    const int64_t ck_world = st.value("world_size", int64_t{1});
    const int64_t ck_global = require_int(st, "per_device_train_batch_size", c) * ck_world;
    if (require_int(st, "total_steps", c) != total_steps_ || ck_global != args_.per_device_train_batch_size * dist.world() ||
        require_int(st, "gradient_accumulation_steps", c) != args_.gradient_accumulation_steps)
      throw Error("this checkpoint was made with other training settings (steps, global batch or accumulation)",
                  {.file = ck.string(), .hint = fmt::format("resume with the run's config.yaml ({}) and a global batch of {} "
                                                            "(per_device_train_batch_size x workers: it had {} x {})",
                                                            again, ck_global, ck_global / ck_world, ck_world)});
    if (ck_world != dist.world() && main)
      std::cerr << fmt::format("note: the checkpoint was written by {} worker(s), this run has {}; the global batch ({}) is the same, "
                               "so the data order and the updates continue unchanged\n", ck_world, dist.world(), ck_global);
    check_resume_fingerprint(st.value("fingerprint", Json::object()), task_.fingerprint, args_.ignore_resume_mismatch, ck, args_.command, out_dir);
    task_.load_checkpoint(ck);
  }
  std::vector<NamedParam> params = task_.trainable();
  if (params.empty()) throw Error("nothing to train: no parameter requires a gradient");
  std::vector<at::Tensor> tensors;
  for (const auto& p : params) tensors.push_back(p.param);
  dist.broadcast_parameters(tensors);  // one starting point for every rank (rank 0's, loaded or initialised)
  AdamW optimizer(weight_decay_groups(params, args_.weight_decay),
                  {.beta1 = args_.adam_beta1, .beta2 = args_.adam_beta2, .eps = args_.adam_epsilon});
  start_masters(optimizer, params);
  ScheduleOptions so;
  so.type = parse_schedule_type(args_.lr_scheduler_type);
  so.total_steps = total_steps_;
  so.warmup_steps = resolve_warmup_steps(total_steps_, static_cast<double>(args_.warmup_steps), args_.warmup_ratio);
  LrSchedule schedule(so, args_.learning_rate);

  int64_t step = 0, epoch = 0, cursor = 0, tokens = 0;
  Window window;
  double elapsed_before = 0;
  at::manual_seed(static_cast<uint64_t>(args_.seed));
  std::optional<int64_t> resume_step;
  if (!ck.empty()) {
    ErrorContext c{.file = (ck / "trainer_state.json").string()};
    optimizer.load(ck / "optimizer.safetensors");  // all of it; ZeRO-1 drops the other shards below
    step = require_int(st, "global_step", c);
    epoch = require_int(st, "epoch_index", c);
    cursor = require_int(st, "batch_cursor", c);
    tokens = require_int(st, "num_tokens", c);
    elapsed_before = st.value("seconds", 0.0);
    // The window is the reduced one (rank 0 wrote it); the other ranks start theirs empty.
    if (main) window = Window::from_json(require_field(st, "window", c));
    restore_rng_state(ck / "rng_state.json");
    resume_step = step;
    if (main) std::cerr << fmt::format("resuming from {} at step {} of {}\n", ck.string(), step, total_steps_);
  }

  const bool zero = args_.zero_stage == 1 && dist.active();
  Shards shards;
  if (zero) {
    shards = Shards::of(optimizer, dist.world());
    shards.drop_others(optimizer, dist.rank());
    int64_t numel = 0, mine = 0;
    for (size_t i = 0; i < optimizer.num_params(); ++i) {
      numel += optimizer.param(i).numel();
      if (shards.owner[i] == dist.rank()) mine += optimizer.param(i).numel();
    }
    if (main)
      std::cerr << fmt::format("ZeRO-1: rank 0 keeps the optimizer state of {} of {} parameters ({:.1f}%)\n", mine, numel,
                               100.0 * static_cast<double>(mine) / static_cast<double>(std::max<int64_t>(1, numel)));
  }

  // ---- logs: metrics.jsonl, warnings.jsonl, TensorBoard (a resumed run drops what came after its step) --
  TrainResult result;
  RunLogs logs(out_dir, resume_step, total_steps_, rules_, preflight_, result, main);
  auto emit = [&](const OrderedJson& row) {
    Json plain = logs.log(row);
    for (auto& cb : callbacks_) cb(plain);
  };

  std::vector<BatchList> batches = global_batches(train_, epoch);
  auto next_batch = [&]() -> const BatchList& {
    if (cursor >= static_cast<int64_t>(batches.size())) {
      ++epoch;
      cursor = 0;
      batches = global_batches(train_, epoch);
    }
    return batches[static_cast<size_t>(cursor++)];
  };
  // The window of every rank summed (metrics are per-rank sums; loss and grad_norm are already global).
  auto reduced_window = [&]() {
    if (!dist.active()) return window;
    double l = 0, w = 0;
    return Window::merge(dist.all_gather_json("window", {{"window", window.to_json()}}), l, w);
  };

  // ---- the best model so far (metric_for_best_model), in best_model/ with its step and value ----------
  const std::string& metric = args_.metric_for_best_model;
  const bool can_eval = (eval_ != nullptr && eval_->size() > 0) || task_.extra_eval;
  if (!metric.empty() && !can_eval)
    throw Error("needs an evaluation to rank models by: eval data (--eval_data or --eval_split) or --eval_prompts with a judge",
                {.field = "metric_for_best_model"});
  const bool greater = args_.greater_is_better.value_or(!(metric.size() >= 4 && metric.compare(metric.size() - 4, 4, "loss") == 0));
  const fs::path best_dir = out_dir / "best_model";
  std::optional<double> best_value;
  if (ck.empty()) {
    if (main) fs::remove_all(best_dir);  // a fresh run: an earlier attempt's best model is not this run's
  } else if (!metric.empty() && fs::exists(best_dir / "best_state.json")) {
    best_value = read_json_file(best_dir / "best_state.json").at("value").get<double>();
  }
  auto consider_best = [&](const Json& e, int64_t at_step) {
    if (metric.empty()) return;
    const std::string key = e.contains(metric) ? metric : "eval_" + metric;
    if (!e.contains(key)) {
      std::vector<std::string> names;
      for (auto it = e.begin(); it != e.end(); ++it) names.push_back(it.key());
      throw Error("'" + metric + "' is not an eval metric of this run; it has " + join(names, ", "), {.field = "metric_for_best_model"});
    }
    const double v = e[key].get<double>();
    if (best_value && !(greater ? v > *best_value : v < *best_value)) return;
    best_value = v;
    if (!main) return;
    AtomicDirectory d(best_dir);
    task_.save_final(d.staging());
    write_json_file(d.staging() / "best_state.json", {{"step", at_step}, {"metric", key}, {"value", v}, {"greater_is_better", greater}});
    d.commit();
  };

  std::ostream quiet(nullptr);  // ranks other than 0 show no progress
  ProgressBar bar(total_steps_, {.label = "train", .unit = "steps", .tty = main && args_.show_progress && stdout_is_terminal(),
                                 .plain_interval_s = 30}, main ? std::cout : quiet);
  Stopwatch clock;
  const int64_t eval_every = args_.eval_steps > 0 ? args_.eval_steps : args_.logging_steps;
  auto save_checkpoint = [&](int64_t at_step, double seconds) {
    Window reduced = reduced_window();  // every rank takes part; rank 0 writes
    if (zero) Shards::gather_into(optimizer, shards, dist);  // the whole optimizer state, for the file
    if (!main) {
      if (zero) shards.drop_others(optimizer, dist.rank());
      return;
    }
    AtomicDirectory dir(out_dir / ("checkpoint-" + std::to_string(at_step)));
    task_.save_checkpoint(dir.staging());
    optimizer.save(dir.staging() / "optimizer.safetensors");
    if (zero) shards.drop_others(optimizer, dist.rank());
    save_rng_state(dir.staging() / "rng_state.json");
    write_json_file(dir.staging() / "trainer_state.json",
                    {{"global_step", at_step}, {"epoch_index", epoch}, {"batch_cursor", cursor}, {"num_tokens", tokens},
                     {"total_steps", total_steps_}, {"per_device_train_batch_size", args_.per_device_train_batch_size},
                     {"gradient_accumulation_steps", args_.gradient_accumulation_steps}, {"seconds", seconds},
                     {"world_size", dist.world()}, {"window", reduced.to_json()}, {"fingerprint", task_.fingerprint}});
    dir.commit();
    prune_checkpoints(out_dir, args_.save_total_limit);
  };
  StopSignals signals;
  std::string status;
  while (step < total_steps_) {
    // ---- the step's micro-batches and their total weight, then accumulate gradients ---------------------
    // The step's global weight comes from the data alone, so every rank divides by the same number.
    std::vector<BatchList> micro;
    double step_weight = 0;
    for (int64_t k = 0; k < args_.gradient_accumulation_steps; ++k) {
      micro.push_back(next_batch());
      for (const auto& part : micro.back())
        if (!part.empty()) step_weight += task_.weight ? task_.weight(train_, part) : static_cast<double>(part.size());
    }
    double step_loss = 0, step_tokens = 0;
    std::optional<double> bad_loss;
    std::vector<int64_t> bad_lines;
    for (const auto& parts : micro) {
      const std::vector<size_t>& mb = parts[static_cast<size_t>(dist.rank())];
      if (mb.empty()) continue;  // the end of an epoch can leave a rank without examples
      MicroStep s = task_.step(train_, mb, true);
      double l = s.loss_sum.item<double>();
      if (!std::isfinite(l)) {
        bad_loss = l;
        bad_lines = s.lines;
        break;
      }
      if (step_weight > 0) (s.loss_sum / step_weight).backward();
      step_loss += step_weight > 0 ? l / step_weight : 0.0;
      window.add(s.metrics);
      step_tokens += static_cast<double>(s.tokens);
    }
    // ---- sum gradients and the step's numbers across ranks (one all-reduce per dtype) ----------------
    const int own_signal = signals.received();
    std::vector<double> stats = {step_loss, step_tokens, bad_loss ? 1.0 : 0.0, own_signal != 0 ? 1.0 : 0.0, static_cast<double>(own_signal)};
    dist.reduce_gradients(tensors, 1.0);  // each rank already divided by the global weight
    dist.allreduce_sum(stats);
    if (stats[2] > 0) {
      std::vector<Json> seen = dist.all_gather_json("nonfinite", {{"lines", bad_lines}, {"nan", bad_loss && std::isnan(*bad_loss)}});
      Json lines = Json::array();
      bool nan = false;
      for (const auto& r : seen) {
        for (const auto& l : r["lines"]) lines.push_back(l);
        nan = nan || r["nan"].get<bool>();
      }
      if (main) write_json_file(out_dir / "nonfinite_batch.json", {{"step", step + 1}, {"loss", nan ? "nan" : "inf"}, {"lines", lines}});
      throw Error("the loss became " + std::string(nan ? "NaN" : "infinite") + " at step " + std::to_string(step + 1),
                  {.file = (out_dir / "nonfinite_batch.json").string(),
                   .hint = "the offending examples' lines are in that file; lower learning_rate, check those examples, or "
                           "resume from the last checkpoint"});
    }
    step_loss = stats[0];
    tokens += static_cast<int64_t>(std::llround(stats[1]));
    const int stop_signal = agreed_signal(own_signal, stats[3], stats[4]);
    // ---- clip, step, schedule ------------------------------------------------------------------------
    double grad_norm = args_.max_grad_norm > 0 ? clip_grad_norm(tensors, args_.max_grad_norm).item<double>()
                                               : grad_global_norm(tensors).item<double>();
    if (zero) {
      // Each rank updates its shard only (no gradient: AdamW leaves a parameter untouched), then every
      // shard's new values go from its owner to the others.
      for (size_t i = 0; i < optimizer.num_params(); ++i)
        if (shards.owner[i] != dist.rank()) const_cast<at::Tensor&>(optimizer.param(i)).mutable_grad() = at::Tensor();
      optimizer.step(schedule.lr(step));
      at::NoGradGuard no_grad;
      for (int r = 0; r < dist.world(); ++r) {
        std::vector<at::Tensor> values;
        for (size_t i : shards.owned[static_cast<size_t>(r)]) values.push_back(optimizer.param(i).detach());
        dist.broadcast(values, r);
      }
    } else {
      optimizer.step(schedule.lr(step));
    }
    optimizer.zero_grad();
    ++step;
    const double lr = schedule.lr(step);  // transformers logs the rate the next step will use
    ++window.steps;
    window.loss_sum += step_loss;
    window.sums["grad_norm"] += grad_norm;
    window.weights["grad_norm"] += 1;

    // ---- log, eval, checkpoint ------------------------------------------------------------------------
    const bool last = step == total_steps_;
    const double seconds = elapsed_before + clock.seconds();
    if (step % args_.logging_steps == 0 || last) {
      window = reduced_window();
      window.flush();
      std::vector<std::pair<std::string, double>> values = {
          {"loss", window.loss_sum / static_cast<double>(window.steps)},
          {"grad_norm", window.mean("grad_norm")},
          {"learning_rate", lr}, {"num_tokens", static_cast<double>(tokens)},
          {"tokens_per_second", seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0}};
      for (const auto& [k, v] : window.sums)
        if (k != "grad_norm") values.push_back({k, window.mean(k)});
      OrderedJson row = make_log_row(step, static_cast<double>(step) / static_cast<double>(steps_per_epoch_), values);
      status = fmt::format("loss {:.4f}", values[0].second);
      for (const std::string& k : status_metrics_)
        if (window.sums.count(k)) status += fmt::format(" {} {:.3f}", k.substr(k.find('/') + 1), window.mean(k));
      emit(row);
      window = Window{};
    }
    if (can_eval && (step % eval_every == 0 || last)) {
      Json e = evaluate();
      std::vector<std::pair<std::string, double>> values;
      for (auto it = e.begin(); it != e.end(); ++it) values.push_back({it.key(), it.value().get<double>()});
      emit(make_log_row(step, static_cast<double>(step) / static_cast<double>(steps_per_epoch_), values));
      consider_best(e, step);
    }
    if (logs.fatal())
      throw Error("training stopped at step " + std::to_string(step) + ": " + result.warnings.back().message,
                  {.file = logs.warnings_path().string()});
    const bool saved = step % args_.save_steps == 0 && !last;
    if (saved) save_checkpoint(step, seconds);
    bar.update(step, status);
    if (int sig = stop_signal; sig != 0 && !last) {
      if (!saved) save_checkpoint(step, seconds);
      bar.finish(status);
      // Rank 0 says it once (the launcher forwards every worker's stderr).
      throw Interrupted{sig, 128 + sig,
                        main ? interrupted_message(sig, step, total_steps_, out_dir / ("checkpoint-" + std::to_string(step)),
                                                   dist.active() ? "prefer launch ... -- " + args_.command : args_.command, out_dir)
                             : std::string()};
    }
  }
  bar.finish(status);
  logs.finish();

  // ---- final/: only now, atomically --------------------------------------------------------------------
  result.steps = step;
  result.seconds = elapsed_before + clock.seconds();
  result.final_dir = out_dir / "final";
  result.main = main;
  if (!main) return result;
  AtomicDirectory final_dir(out_dir / "final");
  if (!metric.empty() && fs::exists(best_dir / "best_state.json")) {
    // As transformers' load_best_model_at_end: final/ is the best evaluated model, not the last.
    for (const auto& e : fs::directory_iterator(best_dir)) fs::copy(e.path(), final_dir.staging() / e.path().filename(), fs::copy_options::recursive);
    const Json b = read_json_file(best_dir / "best_state.json");
    std::cout << fmt::format("final/ holds the best model by {}: step {} ({:.4f})\n", b["metric"].get<std::string>(), b["step"].get<int64_t>(),
                             b["value"].get<double>());
  } else {
    task_.save_final(final_dir.staging());
  }
  if (model_card_) write_file_atomic(final_dir.staging() / "README.md", model_card_(result));
  final_dir.commit();
  return result;
}

}  // namespace prefer::train
