#include "train/online_trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "train/distributed.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/rng_state.h"
#include "train/run_control.h"
#include "train/run_logs.h"
#include "train/tensorboard.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/timer.h"

namespace prefer::train {
namespace fs = std::filesystem;

double distinct_bigram_ratio(const std::vector<std::vector<int64_t>>& responses) {
  std::set<std::pair<int64_t, int64_t>> seen;
  int64_t total = 0;
  for (const auto& r : responses)
    for (size_t i = 1; i < r.size(); ++i, ++total) seen.insert({r[i - 1], r[i]});
  return total == 0 ? 1.0 : static_cast<double>(seen.size()) / static_cast<double>(total);
}

double duplicate_response_ratio(const std::vector<std::vector<int64_t>>& prompts, const std::vector<std::vector<int64_t>>& responses) {
  std::map<std::vector<int64_t>, std::set<std::vector<int64_t>>> prompts_of;  // response -> the distinct prompts it answers
  for (size_t i = 0; i < responses.size(); ++i) prompts_of[responses[i]].insert(prompts[i]);
  int64_t dup = 0;
  for (size_t i = 0; i < responses.size(); ++i) dup += prompts_of[responses[i]].size() > 1 ? 1 : 0;
  return responses.empty() ? 0.0 : static_cast<double>(dup) / static_cast<double>(responses.size());
}

OnlineTrainer::OnlineTrainer(OnlineArgs args, OnlineRoles roles, std::unique_ptr<OnlineMethod> method,
                             std::vector<std::vector<int64_t>> prompts, std::vector<std::string> prompt_texts, Json fingerprint)
    : args_(std::move(args)), roles_(std::move(roles)), method_(std::move(method)), prompts_(std::move(prompts)),
      prompt_texts_(std::move(prompt_texts)), fingerprint_(std::move(fingerprint)) {
  const TrainerArgs& t = args_.trainer;
  t.validate();
  if (args_.passes < 1) throw Error("must be >= 1", {.field = args_.step_is_update ? "num_ppo_epochs" : "num_iterations"});
  if (args_.steps_per_pass < 1) throw Error("must be >= 1", {.field = args_.step_is_update ? "num_mini_batches" : "steps_per_generation"});
  const int64_t G = method_->group_size();
  rows_ = t.per_device_train_batch_size * t.gradient_accumulation_steps * args_.steps_per_pass;
  if (rows_ % G != 0)
    throw Error(fmt::format("must divide the generation batch of {} completions (per_device_train_batch_size {} x gradient_accumulation_steps {} "
                            "x {} optimizer steps per generation)",
                            rows_, t.per_device_train_batch_size, t.gradient_accumulation_steps, args_.steps_per_pass),
                {.field = "num_generations", .hint = "choose num_generations dividing it, or change the batch sizes"});
  prompts_per_update_ = rows_ / G;  // per worker: data parallel, every rank rolls out its own share
  const int64_t world = Distributed::get().world();
  updates_per_epoch_ = static_cast<int64_t>(prompts_.size()) / (prompts_per_update_ * world);
  if (updates_per_epoch_ == 0)
    throw Error(fmt::format("{} prompts are fewer than one rollout batch of {} prompts ({} completions: per_device_train_batch_size {} x "
                            "gradient_accumulation_steps {} x {}{}{})",
                            prompts_.size(), prompts_per_update_ * world, rows_ * world, t.per_device_train_batch_size,
                            t.gradient_accumulation_steps, args_.steps_per_pass, G > 1 ? fmt::format(", {} per prompt", G) : std::string(),
                            world > 1 ? fmt::format(", x {} workers", world) : std::string()),
                {.field = "data", .hint = "add prompts or lower the batch sizes"});
  step_unit_ = args_.step_is_update ? 1 : args_.passes * args_.steps_per_pass;
  const int64_t episodes = args_.total_episodes > 0
                               ? args_.total_episodes
                               : static_cast<int64_t>(std::llround(t.num_train_epochs * static_cast<double>(prompts_.size() * G)));
  // TRL's PPO: ceil(total_episodes / batch_size), the batch over every worker.
  total_updates_ = std::max<int64_t>(1, (episodes + rows_ * world - 1) / (rows_ * world));
  if (t.max_steps > 0) total_updates_ = (t.max_steps + step_unit_ - 1) / step_unit_;
}

namespace {
// Means of per-update metrics over a logging window.
struct UpdateWindow {
  std::map<std::string, double> sums;
  std::vector<std::string> order;
  int64_t updates = 0;
  void add(const std::string& k, double v) {
    if (!sums.count(k)) order.push_back(k);
    sums[k] += v;
  }
  Json to_json() const { return {{"sums", sums}, {"order", order}, {"updates", updates}}; }
  static UpdateWindow from_json(const Json& j) {
    UpdateWindow w;
    w.sums = j.at("sums").get<std::map<std::string, double>>();
    w.order = j.at("order").get<std::vector<std::string>>();
    w.updates = j.at("updates").get<int64_t>();
    return w;
  }
};


}  // namespace

at::Tensor chunked_rows(const Rollout& r, int64_t chunk, const std::function<at::Tensor(const Rollout&)>& f) {
  std::vector<at::Tensor> parts;
  for (int64_t s = 0; s < r.rows(); s += chunk) {
    std::vector<int64_t> rows;
    for (int64_t i = s; i < std::min(r.rows(), s + chunk); ++i) rows.push_back(i);
    parts.push_back(f(rows.size() == static_cast<size_t>(r.rows()) ? r : r.select(rows)).to(at::kCPU));
  }
  return at::cat(parts, 0);
}

double group_duplicate_ratio(const std::vector<std::vector<int64_t>>& responses, int64_t G) {
  int64_t dup = 0;
  for (size_t g = 0; g + static_cast<size_t>(G) <= responses.size(); g += static_cast<size_t>(G))
    for (size_t i = g; i < g + static_cast<size_t>(G); ++i)
      for (size_t j = g; j < g + static_cast<size_t>(G); ++j)
        if (i != j && responses[i] == responses[j]) {
          ++dup;
          break;
        }
  return responses.empty() ? 0.0 : static_cast<double>(dup) / static_cast<double>(responses.size());
}

TrainResult OnlineTrainer::train() {
  const TrainerArgs& ta = args_.trainer;
  const fs::path out_dir = ta.output_dir;
  // Data parallel as Accelerate runs TRL's online trainers: each rank rolls out and scores its own share
  // of the prompts and prepares its own rows (advantages, whitening), gradients are averaged across
  // ranks before clipping, the KL coefficient and the metrics are averaged, rank 0 writes.
  Distributed& dist = Distributed::get();
  const bool main = dist.main_process();
  const int64_t world = dist.world();
  if (main) fs::create_directories(out_dir);
  dist.check_same("options, model or prompts", {{"fingerprint", fingerprint_}, {"total_updates", total_updates_}, {"rows", rows_},
                                                {"resume", ta.resume_from_checkpoint}});
  const int64_t total_steps = total_updates_ * step_unit_;
  // ---- resume ---------------------------------------------------------------------------------------
  fs::path ck;
  Json st;
  if (!ta.resume_from_checkpoint.empty()) {
    ck = ta.resume_from_checkpoint == "latest" ? latest_checkpoint(out_dir) : fs::path(ta.resume_from_checkpoint);
    if (ck.empty() || !fs::exists(ck / "trainer_state.json"))
      throw Error("no checkpoint to resume from", {.file = (ck.empty() ? out_dir : ck).string(), .field = "resume_from_checkpoint",
                  .hint = "checkpoints are written every save_steps steps as checkpoint-N/"});
    st = read_json_file(ck / "trainer_state.json");
    ErrorContext c{.file = (ck / "trainer_state.json").string()};
    if (require_int(st, "total_steps", c) != total_steps || require_int(st, "rows_per_update", c) != rows_ ||
        st.value("world_size", int64_t{1}) != world)
      throw Error("this checkpoint was made with other training settings (steps, batch sizes or number of workers)",
                  {.file = ck.string(), .hint = "resume with the run's config.yaml: " + ta.command + " --config " + (out_dir / "config.yaml").string()});
    check_resume_fingerprint(st.value("fingerprint", Json::object()), fingerprint_, ta.ignore_resume_mismatch, ck, ta.command, out_dir);
    roles_.load_checkpoint(ck);
  }
  std::vector<NamedParam> params = roles_.trainable();
  if (params.empty()) throw Error("nothing to train: no parameter requires a gradient");
  std::vector<at::Tensor> tensors;
  for (const auto& p : params) tensors.push_back(p.param);
  dist.broadcast_parameters(tensors);  // one starting point for every rank
  AdamW optimizer(weight_decay_groups(params, ta.weight_decay), {.beta1 = ta.adam_beta1, .beta2 = ta.adam_beta2, .eps = ta.adam_epsilon});
  start_masters(optimizer, params);
  // PPO steps the schedule once per update (TRL's PPOTrainer), GRPO and RLOO once per optimizer step.
  const int64_t opt_steps_per_update = args_.passes * args_.steps_per_pass;
  const int64_t schedule_steps = args_.step_is_update ? total_updates_ : total_updates_ * opt_steps_per_update;
  ScheduleOptions so;
  so.type = parse_schedule_type(ta.lr_scheduler_type);
  so.total_steps = schedule_steps;
  so.warmup_steps = resolve_warmup_steps(schedule_steps, static_cast<double>(ta.warmup_steps), ta.warmup_ratio);
  LrSchedule schedule(so, ta.learning_rate);
  double kl_coef = method_->initial_kl_coef();

  int64_t update = 0, tokens = 0;  // tokens: of the optimisation's micro-batches, cumulative (num_tokens)
  double elapsed_before = 0;
  UpdateWindow window;
  at::manual_seed(ta.seed);
  std::optional<int64_t> resume_step;
  if (!ck.empty()) {
    ErrorContext c{.file = (ck / "trainer_state.json").string()};
    optimizer.load(ck / "optimizer.safetensors");
    update = require_int(st, "update", c);
    kl_coef = require_field(st, "kl_coef", c).get<double>();
    tokens = require_int(st, "num_tokens", c);
    elapsed_before = st.value("seconds", 0.0);
    window = UpdateWindow::from_json(require_field(st, "window", c));
    restore_rng_state(ck / "rng_state.json");
    resume_step = update * step_unit_;
    if (main) std::cerr << fmt::format("resuming from {} at step {} of {}\n", ck.string(), *resume_step, total_steps);
  }

  // ---- logs ------------------------------------------------------------------------------------------
  TrainResult result;
  RunLogs logs(out_dir, resume_step, total_steps, rules_, preflight_, result, main);
  std::optional<JsonlLog> completions;
  if (main) completions.emplace(out_dir / "completions.jsonl", resume_step);

  const int64_t chunk = std::max<int64_t>(1, args_.forward_batch_size);
  const int64_t micro = ta.per_device_train_batch_size, G = method_->group_size();
  // The prompts of update u: epoch u / updates_per_epoch, shuffled by (seed, epoch), the last incomplete
  // batch dropped (TRL); each prompt group_size times in a row (TRL's RepeatSampler).
  auto batch_prompts = [&](int64_t u) {
    const int64_t epoch = u / updates_per_epoch_, pos = u % updates_per_epoch_;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(ta.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    at::Tensor perm = at::randperm(static_cast<int64_t>(prompts_.size()), gen, at::kLong);
    std::vector<int64_t> which;
    const int64_t first = (pos * world + dist.rank()) * prompts_per_update_;  // this rank's slice of the update's prompts
    for (int64_t i = 0; i < prompts_per_update_; ++i)
      for (int64_t g = 0; g < G; ++g) which.push_back(perm[first + i].item<int64_t>());
    return which;
  };
  // The ranks' windows averaged (each rank's metrics are means over its own rows).
  auto averaged_window = [&]() {
    if (!dist.active()) return window;
    UpdateWindow out = window;
    for (auto& [k, v] : out.sums) v = 0;
    for (const Json& j : dist.all_gather_json("online_window", window.to_json())) {
      UpdateWindow w = UpdateWindow::from_json(j);
      for (const std::string& k : w.order)
        if (!out.sums.count(k)) out.order.push_back(k);
      for (const auto& [k, v] : w.sums) out.sums[k] += v / static_cast<double>(world);
    }
    return out;
  };
  auto save_checkpoint = [&](int64_t at, double seconds) {
    const UpdateWindow averaged = averaged_window();  // every rank takes part; rank 0 writes
    if (!main) return;
    const int64_t step = at * step_unit_;
    AtomicDirectory dir(out_dir / ("checkpoint-" + std::to_string(step)));
    roles_.save_checkpoint(dir.staging());
    optimizer.save(dir.staging() / "optimizer.safetensors");
    save_rng_state(dir.staging() / "rng_state.json", {.seed = ta.seed, .epoch = static_cast<uint64_t>(at / updates_per_epoch_),
                                                       .position = static_cast<uint64_t>(at)});
    write_json_file(dir.staging() / "trainer_state.json",
                    {{"global_step", step}, {"update", at}, {"episode", at * rows_ * world}, {"kl_coef", kl_coef}, {"total_steps", total_steps},
                     {"rows_per_update", rows_}, {"world_size", world}, {"num_tokens", tokens}, {"seconds", seconds}, {"window", averaged.to_json()},
                     {"fingerprint", fingerprint_}});
    dir.commit();
    prune_checkpoints(out_dir, ta.save_total_limit);
  };
  // Whether a cadence of `every` logged steps falls within the update that ended at `step`.
  auto crosses = [&](int64_t step, int64_t every) { return every > 0 && step / every != (step - step_unit_) / every; };

  std::ostream quiet(nullptr);
  ProgressBar bar(total_steps, {.label = args_.label, .unit = args_.step_is_update ? "updates" : "steps",
                                .tty = main && ta.show_progress && stdout_is_terminal(), .plain_interval_s = 30},
                  main ? std::cout : quiet);
  Stopwatch clock;
  StopSignals signals;
  std::string status;
  int64_t opt_step = update * opt_steps_per_update;
  while (update < total_updates_) {
    // Each rank samples its own completions (one worker: the seed as before).
    const uint64_t useed = ta.seed * 1000003ULL + 7919ULL * static_cast<uint64_t>(update + 1) + 104729ULL * static_cast<uint64_t>(dist.rank());
    // ---- rollout and the method's preparation (no gradient, dropout off) ----------------------------
    std::vector<int64_t> which = batch_prompts(update);
    std::vector<std::vector<int64_t>> prompts;
    for (int64_t i : which) prompts.push_back(prompts_[static_cast<size_t>(i)]);
    roles_.set_training(false);
    OnlineUpdate u;
    at::Tensor second;
    {
      at::NoGradGuard ng;
      u.rollout = roles_.sample(prompts, useed);
      method_->prepare(u, roles_, chunk, kl_coef);
      for (int64_t b = 0; b < u.scores.size(0); ++b)
        if (!std::isfinite(u.scores[b].item<double>()))
          throw Error(fmt::format("the reward for a completion of update {} is not a number (row {}: {})", update + 1, b,
                                  u.scores[b].item<double>()),
                      {.field = "reward_model", .hint = "check the reward model or reward command on this prompt: " +
                                                        prompt_texts_[static_cast<size_t>(which[static_cast<size_t>(b)])].substr(0, 200)});
      if (roles_.second_scores) second = chunked_rows(u.rollout, chunk, roles_.second_scores).mean();
    }
    const Rollout& ro = u.rollout;
    // ---- passes x steps_per_pass optimizer steps of GA micro-batches ----------------------------------
    roles_.set_training(true);
    std::map<std::string, std::vector<double>> stats;  // per micro-batch
    double step_tokens = 0;
    double grad_norm_sum = 0, lr = schedule.lr(args_.step_is_update ? update : opt_step);
    int64_t steps_done = 0;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(useed ^ 0x9e3779b97f4a7c15ULL);
    for (int64_t e = 0; e < args_.passes; ++e) {
      at::Tensor perm = at::randperm(rows_, gen, at::kLong);
      for (int64_t s = 0; s < args_.steps_per_pass; ++s) {
        lr = schedule.lr(args_.step_is_update ? update : opt_step);
        for (int64_t k = 0; k < ta.gradient_accumulation_steps; ++k) {
          const int64_t m0 = (s * ta.gradient_accumulation_steps + k) * micro;
          std::vector<int64_t> rows;
          for (int64_t i = m0; i < m0 + micro; ++i) rows.push_back(perm[i].item<int64_t>());
          Rollout sub = ro.select(rows);
          std::map<std::string, double> m;
          at::Tensor loss = method_->micro_loss(u, sub, at::tensor(rows, at::kLong), roles_, m);
          const double l = scalar_value(loss);
          if (!std::isfinite(l))
            throw Error(fmt::format("the {} loss became {} at update {}", args_.label, std::isnan(l) ? "NaN" : "infinite", update + 1),
                        {.hint = "lower learning_rate, raise the KL coefficient, or resume from the last checkpoint"});
          loss.backward();
          for (const auto& [key, v] : m) stats[key].push_back(v);
          step_tokens += sub.mask.sum().item<double>();
        }
        dist.reduce_gradients(tensors, static_cast<double>(world));  // DistributedDataParallel's average
        const double gn = ta.max_grad_norm > 0 ? scalar_value(clip_grad_norm(tensors, ta.max_grad_norm)) : scalar_value(grad_global_norm(tensors));
        optimizer.step(lr);
        optimizer.zero_grad();
        grad_norm_sum += gn;
        ++steps_done;
        ++opt_step;
      }
    }
    kl_coef = method_->next_kl_coef(u, kl_coef);
    // The KL coefficient (each rank adapted it to its own rollouts), the token count and a stop request
    // are summed across ranks; the coefficient is then their mean, the same on every rank.
    const int own_signal = signals.received();
    std::vector<double> shared = {kl_coef, step_tokens, own_signal != 0 ? 1.0 : 0.0, static_cast<double>(own_signal)};
    dist.allreduce_sum(shared);
    kl_coef = shared[0] / static_cast<double>(world);
    tokens += static_cast<int64_t>(std::llround(shared[1]));
    const int stop_signal = agreed_signal(own_signal, shared[2], shared[3]);
    ++update;

    // ---- metrics of this update, folded into the logging window ---------------------------------------
    auto mean = [](const std::vector<double>& v) {
      double s = 0;
      for (double x : v) s += x;
      return v.empty() ? 0.0 : s / static_cast<double>(v.size());
    };
    for (const auto& [k, v] : u.metrics) window.add(k, v);
    if (second.defined()) window.add("objective/second_scores", scalar_value(second));
    std::set<std::string> named;
    for (const auto& [name, key] : method_->micro_metric_names()) {
      named.insert(key);
      if (key == "val/ratio_var") {
        const std::vector<double>& r = stats["val/ratio"];
        double var = 0;
        for (double x : r) var += (x - mean(r)) * (x - mean(r));
        window.add(name, r.size() > 1 ? var / static_cast<double>(r.size() - 1) : 0.0);
      } else if (stats.count(key)) {
        window.add(name, mean(stats[key]));
      }
    }
    for (const auto& [key, v] : stats)
      if (!named.count(key)) window.add(key, mean(v));
    int64_t eos_tokens = 0, clipped = 0;
    double len_sum = 0, len_min = 1e18, len_max = 0;
    for (const auto& r : ro.responses) {
      for (int64_t t : r)
        eos_tokens += std::find(args_.eos_token_ids.begin(), args_.eos_token_ids.end(), t) != args_.eos_token_ids.end() ? 1 : 0;
      const double n = static_cast<double>(r.size());
      len_sum += n, len_min = std::min(len_min, n), len_max = std::max(len_max, n);
      clipped += static_cast<int64_t>(r.size()) >= args_.response_length && !ro.contains_eos[&r - ro.responses.data()].item<bool>() ? 1 : 0;
    }
    if (args_.step_is_update) window.add("val/num_eos_tokens", static_cast<double>(eos_tokens));
    window.add("completions/mean_length", len_sum / static_cast<double>(ro.rows()));
    window.add("completions/min_length", len_min);
    window.add("completions/max_length", len_max);
    window.add("completions/clipped_ratio", static_cast<double>(clipped) / static_cast<double>(ro.rows()));
    window.add("completions/distinct_2", distinct_bigram_ratio(ro.responses));
    window.add("completions/duplicate_ratio", duplicate_response_ratio(ro.prompts, ro.responses));
    if (G > 1) window.add("completions/group_duplicate_ratio", group_duplicate_ratio(ro.responses, G));
    window.add("grad_norm", steps_done ? grad_norm_sum / static_cast<double>(steps_done) : 0.0);
    if (args_.step_is_update) window.add("kl_coef", kl_coef);
    ++window.updates;

    // ---- log, samples, monitor, checkpoint ---------------------------------------------------------------
    const int64_t step = update * step_unit_;
    const bool last = update == total_updates_;
    const double seconds = elapsed_before + clock.seconds();
    if (crosses(step, ta.logging_steps) || last) {
      window = averaged_window();
      std::vector<std::pair<std::string, double>> values;
      std::map<std::string, double> means;
      for (const std::string& k : window.order) {
        const double v = window.sums[k] / static_cast<double>(window.updates);
        values.push_back({k, v});
        means[k] = v;
      }
      if (args_.step_is_update) {
        values.push_back({"lr", lr});
        values.push_back({"episode", static_cast<double>(update * rows_ * world)});
      } else {
        values.push_back({"learning_rate", schedule.lr(opt_step)});
        values.push_back({"num_tokens", static_cast<double>(tokens)});
      }
      logs.log(make_log_row(step, static_cast<double>(update) / static_cast<double>(updates_per_epoch_), values));
      status = method_->status(means);
      window = UpdateWindow{};
      // A few completions a person reads: what the policy is learning.
      const int64_t n = main ? std::min<int64_t>(args_.samples_per_log, ro.rows()) : 0;  // rank 0's rollouts
      for (int64_t b = 0; b < n; ++b) {
        OrderedJson c;
        c["step"] = step;
        c["prompt"] = prompt_texts_[static_cast<size_t>(which[static_cast<size_t>(b)])];
        c["completion"] = roles_.decode ? roles_.decode(ro.responses[static_cast<size_t>(b)]) : std::string();
        c["score"] = u.scores[b].item<double>();
        if (u.kl.defined()) c["kl"] = u.kl[b].item<double>();
        completions->append(c);
      }
    }
    if (logs.fatal())
      throw Error("training stopped at step " + std::to_string(step) + ": " + result.warnings.back().message,
                  {.file = logs.warnings_path().string()});
    const bool saved = crosses(step, ta.save_steps) && !last;
    if (saved) save_checkpoint(update, seconds);
    bar.update(step, status);
    if (int sig = stop_signal; sig != 0 && !last) {
      if (!saved) save_checkpoint(update, seconds);
      bar.finish(status);
      throw Interrupted{sig, 128 + sig,
                        main ? interrupted_message(sig, step, total_steps, out_dir / ("checkpoint-" + std::to_string(step)),
                                                   dist.active() ? "prefer launch ... -- " + ta.command : ta.command, out_dir)
                             : std::string()};
    }
  }
  bar.finish(status);
  logs.finish();
  result.steps = update * step_unit_;
  result.seconds = elapsed_before + clock.seconds();
  result.final_dir = out_dir / "final";
  result.main = main;
  if (!main) return result;
  AtomicDirectory final_dir(result.final_dir);
  roles_.save_final(final_dir.staging());
  if (model_card_) write_file_atomic(final_dir.staging() / "README.md", model_card_(result));
  final_dir.commit();
  return result;
}

}  // namespace prefer::train
