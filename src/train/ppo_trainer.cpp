#include "train/ppo_trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/rng_state.h"
#include "train/run_control.h"
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

PpoTrainer::PpoTrainer(PpoArgs args, PpoRoles roles, std::vector<std::vector<int64_t>> prompts, std::vector<std::string> prompt_texts,
                       Json fingerprint)
    : args_(std::move(args)), roles_(std::move(roles)), prompts_(std::move(prompts)), prompt_texts_(std::move(prompt_texts)),
      fingerprint_(std::move(fingerprint)) {
  const TrainerArgs& t = args_.trainer;
  t.validate();
  args_.ppo.validate();
  if (args_.num_ppo_epochs < 1) throw Error("must be >= 1", {.field = "num_ppo_epochs"});
  if (args_.num_mini_batches < 1) throw Error("must be >= 1", {.field = "num_mini_batches"});
  mini_batch_ = t.per_device_train_batch_size * t.gradient_accumulation_steps;
  local_batch_ = mini_batch_ * args_.num_mini_batches;
  if (args_.ppo.whiten_rewards && mini_batch_ < 8)
    throw Error("whiten_rewards needs mini-batches of at least 8 responses (per_device_train_batch_size x gradient_accumulation_steps = " +
                    std::to_string(mini_batch_) + ")",
                {.field = "whiten_rewards", .hint = "raise per_device_train_batch_size or gradient_accumulation_steps, or turn whiten_rewards off"});
  batches_per_epoch_ = static_cast<int64_t>(prompts_.size()) / local_batch_;
  if (batches_per_epoch_ == 0)
    throw Error(fmt::format("{} prompts are fewer than one rollout batch of {} (per_device_train_batch_size {} x gradient_accumulation_steps {} x "
                            "num_mini_batches {})",
                            prompts_.size(), local_batch_, t.per_device_train_batch_size, t.gradient_accumulation_steps, args_.num_mini_batches),
                {.field = "data", .hint = "add prompts or lower the batch sizes"});
  int64_t episodes = args_.total_episodes > 0 ? args_.total_episodes
                                              : static_cast<int64_t>(std::llround(t.num_train_epochs * static_cast<double>(prompts_.size())));
  total_updates_ = std::max<int64_t>(1, (episodes + local_batch_ - 1) / local_batch_);  // TRL: ceil(total_episodes / batch_size)
  if (t.max_steps > 0) total_updates_ = t.max_steps;
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

double item(const at::Tensor& t) { return t.to(at::kDouble).item<double>(); }

// Rows [start, start + n) of a rollout in chunks of `chunk`, each through `f`, concatenated along dim 0.
at::Tensor chunked(const Rollout& r, int64_t chunk, const std::function<at::Tensor(const Rollout&)>& f) {
  std::vector<at::Tensor> parts;
  for (int64_t s = 0; s < r.rows(); s += chunk) {
    std::vector<int64_t> rows;
    for (int64_t i = s; i < std::min(r.rows(), s + chunk); ++i) rows.push_back(i);
    parts.push_back(f(rows.size() == static_cast<size_t>(r.rows()) ? r : r.select(rows)).to(at::kCPU));
  }
  return at::cat(parts, 0);
}
}  // namespace

TrainResult PpoTrainer::train() {
  const TrainerArgs& ta = args_.trainer;
  const fs::path out_dir = ta.output_dir;
  fs::create_directories(out_dir);
  // ---- resume ---------------------------------------------------------------------------------------
  fs::path ck;
  Json st;
  if (!ta.resume_from_checkpoint.empty()) {
    ck = ta.resume_from_checkpoint == "latest" ? latest_checkpoint(out_dir) : fs::path(ta.resume_from_checkpoint);
    if (ck.empty() || !fs::exists(ck / "trainer_state.json"))
      throw Error("no checkpoint to resume from", {.file = (ck.empty() ? out_dir : ck).string(), .field = "resume_from_checkpoint",
                  .hint = "checkpoints are written every save_steps updates as checkpoint-N/"});
    st = read_json_file(ck / "trainer_state.json");
    ErrorContext c{.file = (ck / "trainer_state.json").string()};
    if (require_int(st, "total_steps", c) != total_updates_ || require_int(st, "local_batch_size", c) != local_batch_)
      throw Error("this checkpoint was made with other training settings (updates or batch sizes)",
                  {.file = ck.string(), .hint = "resume with the run's config.yaml: " + ta.command + " --config " + (out_dir / "config.yaml").string()});
    check_resume_fingerprint(st.value("fingerprint", Json::object()), fingerprint_, ta.ignore_resume_mismatch, ck, ta.command, out_dir);
    roles_.load_checkpoint(ck);
  }
  std::vector<NamedParam> params = roles_.trainable();
  if (params.empty()) throw Error("nothing to train: no parameter requires a gradient");
  std::vector<at::Tensor> tensors;
  for (const auto& p : params) tensors.push_back(p.param);
  AdamW optimizer(weight_decay_groups(params, ta.weight_decay), {.beta1 = ta.adam_beta1, .beta2 = ta.adam_beta2, .eps = ta.adam_epsilon});
  ScheduleOptions so;
  so.type = parse_schedule_type(ta.lr_scheduler_type);
  so.total_steps = total_updates_;  // TRL steps the schedule once per rollout batch
  so.warmup_steps = resolve_warmup_steps(total_updates_, static_cast<double>(ta.warmup_steps), ta.warmup_ratio);
  LrSchedule schedule(so, ta.learning_rate);
  objectives::AdaptiveKlController kl_ctl = args_.ppo.make_kl_controller();

  int64_t update = 0;
  double elapsed_before = 0;
  UpdateWindow window;
  at::manual_seed(ta.seed);
  std::optional<int64_t> resume_step;
  if (!ck.empty()) {
    ErrorContext c{.file = (ck / "trainer_state.json").string()};
    optimizer.load(ck / "optimizer.safetensors");
    update = require_int(st, "global_step", c);
    kl_ctl.value = require_field(st, "kl_coef", c).get<double>();
    elapsed_before = st.value("seconds", 0.0);
    window = UpdateWindow::from_json(require_field(st, "window", c));
    restore_rng_state(ck / "rng_state.json");
    resume_step = update;
    std::cerr << fmt::format("resuming from {} at update {} of {}\n", ck.string(), update, total_updates_);
  }

  // ---- logs ------------------------------------------------------------------------------------------
  MetricsLog metrics(out_dir, resume_step);
  WarningsLog warnings_log(out_dir, resume_step);
  JsonlLog completions(out_dir / "completions.jsonl", resume_step);
  TensorBoardLog tensorboard(out_dir, resume_step);
  TrainResult result;
  std::optional<TrainingMonitor> monitor;
  if (rules_) {
    monitor.emplace(total_updates_, rules_(total_updates_));
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

  const int64_t chunk = std::max<int64_t>(1, args_.forward_batch_size);
  const int64_t micro = ta.per_device_train_batch_size;
  // The prompts of update u: epoch u / batches_per_epoch, shuffled by (seed, epoch), drop_last as TRL.
  auto batch_prompts = [&](int64_t u) {
    const int64_t epoch = u / batches_per_epoch_, pos = u % batches_per_epoch_;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(ta.seed * 1000003ULL + static_cast<uint64_t>(epoch));
    at::Tensor perm = at::randperm(static_cast<int64_t>(prompts_.size()), gen, at::kLong);
    std::vector<int64_t> which;
    for (int64_t i = 0; i < local_batch_; ++i) which.push_back(perm[pos * local_batch_ + i].item<int64_t>());
    return which;
  };
  auto save_checkpoint = [&](int64_t at, double seconds) {
    AtomicDirectory dir(out_dir / ("checkpoint-" + std::to_string(at)));
    roles_.save_checkpoint(dir.staging());
    optimizer.save(dir.staging() / "optimizer.safetensors");
    save_rng_state(dir.staging() / "rng_state.json", {.seed = ta.seed, .epoch = static_cast<uint64_t>(at / batches_per_epoch_),
                                                       .position = static_cast<uint64_t>(at)});
    write_json_file(dir.staging() / "trainer_state.json",
                    {{"global_step", at}, {"episode", at * local_batch_}, {"kl_coef", kl_ctl.value}, {"total_steps", total_updates_},
                     {"local_batch_size", local_batch_}, {"seconds", seconds}, {"window", window.to_json()}, {"fingerprint", fingerprint_}});
    dir.commit();
    prune_checkpoints(out_dir, ta.save_total_limit);
  };

  ProgressBar bar(total_updates_, {.label = "ppo", .unit = "updates", .tty = ta.show_progress && stdout_is_terminal(), .plain_interval_s = 30},
                  std::cout);
  Stopwatch clock;
  StopSignals signals;
  std::string status;
  bool stop = false;
  while (update < total_updates_) {
    const uint64_t useed = ta.seed * 1000003ULL + 7919ULL * static_cast<uint64_t>(update + 1);
    const double kl_coef = args_.ppo.adap_kl_ctrl ? kl_ctl.value : args_.ppo.kl_coef;
    const double lr = schedule.lr(update);
    // ---- rollout (no gradient, dropout off) ------------------------------------------------------------
    std::vector<int64_t> which = batch_prompts(update);
    std::vector<std::vector<int64_t>> prompts;
    for (int64_t i : which) prompts.push_back(prompts_[static_cast<size_t>(i)]);
    roles_.set_training(false);
    Rollout ro;
    objectives::PpoRollout pr;
    at::Tensor second;
    {
      at::NoGradGuard ng;
      ro = roles_.sample(prompts, useed);
      at::Tensor ref = chunked(ro, chunk, roles_.ref_logprobs);
      at::Tensor values = chunked(ro, chunk, roles_.values);
      at::Tensor scores = chunked(ro, chunk, roles_.scores);
      for (int64_t b = 0; b < scores.size(0); ++b)
        if (!std::isfinite(scores[b].item<double>()))
          throw Error(fmt::format("the reward for a response of update {} is not a number (row {}: {})", update + 1, b,
                                  scores[b].item<double>()),
                      {.field = "reward_model", .hint = "check the reward model or reward command on this prompt: " +
                                                        prompt_texts_[static_cast<size_t>(which[static_cast<size_t>(b)])].substr(0, 200)});
      if (roles_.second_scores) second = chunked(ro, chunk, roles_.second_scores).mean();
      pr = objectives::ppo_rollout({.logprobs = ro.sample_logprobs, .ref_logprobs = ref, .values = values, .scores = scores,
                                    .response_mask = ro.response_mask, .contains_eos = ro.contains_eos},
                                   args_.ppo, kl_coef);
    }
    // ---- num_ppo_epochs x num_mini_batches optimizer steps --------------------------------------------
    roles_.set_training(true);
    std::map<std::string, std::vector<double>> stats;  // per micro-batch, TRL's *_avg
    double grad_norm_sum = 0;
    int64_t opt_steps = 0;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(useed ^ 0x9e3779b97f4a7c15ULL);
    for (int64_t e = 0; e < args_.num_ppo_epochs; ++e) {
      at::Tensor perm = at::randperm(local_batch_, gen, at::kLong);
      for (int64_t mb = 0; mb < local_batch_; mb += mini_batch_) {
        for (int64_t m0 = mb; m0 < mb + mini_batch_; m0 += micro) {
          std::vector<int64_t> rows;
          for (int64_t i = m0; i < m0 + micro; ++i) rows.push_back(perm[i].item<int64_t>());
          Rollout sub = ro.select(rows);
          at::Tensor idx = at::tensor(rows, at::kLong);
          at::Tensor entropy;
          at::Tensor new_lp = roles_.policy_logprobs(sub, &entropy);
          at::Tensor new_v = roles_.values(sub);
          const at::Device d = new_lp.device();
          auto pick = [&](const at::Tensor& t) { return t.index_select(0, idx).to(d); };
          objectives::PpoLossOutput lo = objectives::ppo_loss(
              {.logprobs = new_lp, .old_logprobs = pick(ro.sample_logprobs), .advantages = pick(pr.advantages), .values = new_v,
               .old_values = pick(pr.values), .returns = pick(pr.returns), .response_mask = pick(ro.response_mask),
               .value_mask = pick(pr.value_mask)},
              args_.ppo);
          const double l = item(lo.loss);
          if (!std::isfinite(l))
            throw Error(fmt::format("the PPO loss became {} at update {}", std::isnan(l) ? "NaN" : "infinite", update + 1),
                        {.hint = "lower learning_rate, raise kl_coef, or resume from the last checkpoint"});
          (lo.loss / static_cast<double>(ta.gradient_accumulation_steps)).backward();
          for (const auto& [k, v] : lo.metrics) stats[k].push_back(item(v));
          stats["policy/entropy"].push_back(item(entropy.mean()));
        }
        const double gn = ta.max_grad_norm > 0 ? item(clip_grad_norm(tensors, ta.max_grad_norm)) : item(grad_global_norm(tensors));
        optimizer.step(lr);
        optimizer.zero_grad();
        grad_norm_sum += gn;
        ++opt_steps;
      }
    }
    if (args_.ppo.adap_kl_ctrl) kl_ctl.update(item(pr.metrics.at("objective/kl")), local_batch_);
    ++update;

    // ---- metrics of this update (TRL's names), folded into the logging window ------------------------
    auto mean = [](const std::vector<double>& v) {
      double s = 0;
      for (double x : v) s += x;
      return v.empty() ? 0.0 : s / static_cast<double>(v.size());
    };
    int64_t eos_tokens = 0, clipped = 0;
    double len_sum = 0;
    for (const auto& r : ro.responses) {
      for (int64_t t : r)
        eos_tokens += std::find(args_.eos_token_ids.begin(), args_.eos_token_ids.end(), t) != args_.eos_token_ids.end() ? 1 : 0;
      len_sum += static_cast<double>(r.size());
      clipped += static_cast<int64_t>(r.size()) >= args_.response_length ? 1 : 0;
    }
    for (const char* k : {"objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores"})
      window.add(k, item(pr.metrics.at(k)));
    if (second.defined()) window.add("objective/second_scores", item(second));
    const std::vector<double>& ratios = stats["val/ratio"];
    double var = 0;
    for (double x : ratios) var += (x - mean(ratios)) * (x - mean(ratios));
    window.add("policy/approxkl_avg", mean(stats["policy/approxkl"]));
    window.add("policy/clipfrac_avg", mean(stats["policy/clipfrac"]));
    window.add("loss/policy_avg", mean(stats["loss/policy"]));
    window.add("loss/value_avg", mean(stats["loss/value"]));
    window.add("val/clipfrac_avg", mean(stats["val/clipfrac"]));
    window.add("policy/entropy_avg", mean(stats["policy/entropy"]));
    window.add("val/ratio", mean(ratios));
    window.add("val/ratio_var", ratios.size() > 1 ? var / static_cast<double>(ratios.size() - 1) : 0.0);
    window.add("val/num_eos_tokens", static_cast<double>(eos_tokens));
    window.add("completions/mean_length", len_sum / static_cast<double>(ro.rows()));
    window.add("completions/clipped_ratio", static_cast<double>(clipped) / static_cast<double>(ro.rows()));
    window.add("completions/distinct_2", distinct_bigram_ratio(ro.responses));
    window.add("completions/duplicate_ratio", duplicate_response_ratio(ro.prompts, ro.responses));
    window.add("grad_norm", opt_steps ? grad_norm_sum / static_cast<double>(opt_steps) : 0.0);
    window.add("kl_coef", kl_coef);
    ++window.updates;

    // ---- log, samples, monitor, checkpoint ---------------------------------------------------------------
    const bool last = update == total_updates_;
    const double seconds = elapsed_before + clock.seconds();
    if (update % ta.logging_steps == 0 || last) {
      std::vector<std::pair<std::string, double>> values;
      for (const std::string& k : window.order) values.push_back({k, window.sums[k] / static_cast<double>(window.updates)});
      values.push_back({"lr", lr});
      values.push_back({"episode", static_cast<double>(update * local_batch_)});
      OrderedJson row = make_log_row(update, static_cast<double>(update) / static_cast<double>(batches_per_epoch_), values);
      metrics.log(row);
      tensorboard.log(row);
      Json plain = Json::parse(row.dump());
      result.log.push_back(plain);
      if (monitor)
        for (const auto& w : monitor->observe(plain)) {
          warn(w);
          stop = stop || w.fatal;
        }
      status = fmt::format("score {:.3f} kl {:.3f}", window.sums["objective/scores"] / static_cast<double>(window.updates),
                           window.sums["objective/kl"] / static_cast<double>(window.updates));
      window = UpdateWindow{};
      // A few responses a person reads: what the policy is learning.
      const int64_t n = std::min<int64_t>(args_.samples_per_log, ro.rows());
      at::Tensor kl_rows = pr.kl.sum(1);
      for (int64_t b = 0; b < n; ++b) {
        OrderedJson c;
        c["step"] = update;
        c["prompt"] = prompt_texts_[static_cast<size_t>(which[static_cast<size_t>(b)])];
        c["completion"] = roles_.decode ? roles_.decode(ro.responses[static_cast<size_t>(b)]) : std::string();
        c["score"] = pr.scores[b].item<double>();
        c["kl"] = kl_rows[b].item<double>();
        completions.append(c);
      }
    }
    if (stop)
      throw Error("training stopped at update " + std::to_string(update) + ": " + result.warnings.back().message,
                  {.file = warnings_log.path().string()});
    const bool saved = update % ta.save_steps == 0 && !last;
    if (saved) save_checkpoint(update, seconds);
    bar.update(update, status);
    if (int sig = signals.received(); sig != 0 && !last) {
      if (!saved) save_checkpoint(update, seconds);
      bar.finish(status);
      throw Interrupted{sig, 128 + sig, interrupted_message(sig, update, total_updates_, out_dir / ("checkpoint-" + std::to_string(update)),
                                                           ta.command, out_dir)};
    }
  }
  bar.finish(status);
  if (monitor)
    for (const auto& w : monitor->finish()) warn(w);
  result.steps = update;
  result.seconds = elapsed_before + clock.seconds();
  result.final_dir = out_dir / "final";
  AtomicDirectory final_dir(result.final_dir);
  roles_.save_final(final_dir.staging());
  if (model_card_) write_file_atomic(final_dir.staging() / "README.md", model_card_(result));
  final_dir.commit();
  return result;
}

}  // namespace prefer::train
