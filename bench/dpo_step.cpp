// prefer's DPO training step against an eager PyTorch step that computes what TRL v1.x's DPOTrainer
// computes (bench/baseline/trl_dpo_step.py), on the same machine, in one invocation, with the same thread
// count, the same model folder and the same tokenized batch.
//
// For every (model, mode, precision) asked for, the baseline runs once (a python3 child process) and each
// prefer variant runs in its own forked child, so each side's peak RSS (VmHWM of the process, from
// /proc/self/status, against the baseline's getrusage ru_maxrss) is its own. Steps 1.. run on the same
// batch: step 1 is the warm-up and the equality check (loss ln 2 with reference = policy), step 2's loss
// and rewards are the non-trivial check (after one identical AdamW step), steps 2..K are timed. Then,
// optionally, one epoch over --epoch_pairs pairs (batches of --pairs), including the precompute pass of
// the precomputed-reference variants.
//
// prefer variants (each adds one option to "naive", which computes what the baseline computes):
//   naive          concatenated rows, live reference, full [R, T, V] logits and a log-sum-exp over every
//                  position (written here with prefer's model), no length grouping
//   precompute     + reference log-probs computed once before training (a table), no reference forward
//   chunked        + LM head on completion positions only, chunk_tokens rows at a time (model/scorer.h)
//   grouped        + length-grouped batches (changes only the epoch: less padding)
//   prefix_shared  + prefix-shared rows (each prompt once; rejected restarts its positions after it)
//   aligned        + rows x length padded to a multiple of 64 (oneDNN bf16 GEMM shapes; data/batch.h)
//   padding_free   + a batch's rows placed one after another, each seeing only itself (data/batch.h)
//   mixed          + bf16 mixed precision: float32 embeddings, norms and residual stream (no-op in fp32)
//   default        prefer dpo's defaults: every option above (precomputed reference, chunked 1024, grouped,
//                  prefix-shared, aligned, padding-free, mixed); "all" is the same set
//   padded         the defaults without padding-free rows (--padding_free false: the sixth round's default)
//   pure           the defaults with every weight in bf16 (--pure_bf16)
//   checkpointed   the defaults with gradient checkpointing of every decoder layer (--gradient_checkpointing:
//                  the memory-saving configuration; each layer's forward runs twice)
//   bf16_reference the defaults with an fp32 run's precompute pass in bf16 mixed precision
//                  (--precompute_ref_dtype bfloat16; the same as default in bf16): the step-2 loss shows
//                  what the bf16 table costs in fidelity, the epoch what it saves
// The prefer step mirrors train::DpoRecipe::step (same calls: data::make_batch, model forward,
// chunked_token_logprobs with stats, objectives::dpo_loss), split so each phase can be timed: reference,
// forward, LM head + loss, LM-head backward, body backward, optimizer (clip_grad_norm + AdamW). The
// first step's loss is also computed through DpoRecipe::step itself (no-grad) and printed as a check.
//
// Usage: bench_dpo_step [--model tiny|135m|360m|1b] [--mode lora|full|both] [--precision fp32|bf16|both]
//          [--variants naive,precompute,chunked,grouped,prefix_shared,aligned,padding_free,mixed,default,padded,
//                      pure,checkpointed,
//                      bf16_reference]
//          [--pairs 4]
//          [--prompt_len 256] [--completion_min 128] [--completion_max 256] [--steps 3]
//          [--epoch_pairs 64] (0: no epoch) [--threads 0] [--chunk_tokens 1024] [--no_baseline]
//          [--python /usr/bin/python3] [--lr_full 1e-5] [--lr_lora 1e-4]
//          [--trace DIR] (created if missing; one more step of each prefer variant after its timed ones,
//          profiled by ATen op and input shapes:
//          self time per op, DIR/<mode>-<precision>-<variant>.txt; the epoch's precompute pass in
//          DIR/<mode>-<precision>-<variant>-precompute.txt)
//          [--precompute_pairs 8] (pairs per batch of the epoch's precompute pass, as prefer dpo's
//          per_device_eval_batch_size, whose default is 8)
//          [--baseline_huge_pages] (the baseline with the huge-page malloc prefer runs with: util/startup_env.h)
//          [--json FILE] (appends one JSON line per mode and precision: both sides' step times, peaks, losses)
//          [--limit_gb G] (address-space limit of each side's process: past it a side fails "out of memory"
//          instead of the machine swapping or its OOM killer choosing a victim)
//          [--step_limit_s S] (the baseline is stopped after S seconds a step, plus 120 s to load, and
//          recorded as past the limit)
//          [--curve N] (instead of the above, prefer only: N steps from the starting weights over the
//          epoch's batches, cycled, for each variant in fp32 and in bf16, each in its own child; prints the
//          losses every N/10 steps and how far each bf16 curve is from the fp32 one: the bf16 fidelity
//          check of issue 22, which a one-step comparison cannot make)
#include <ATen/ATen.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_models.h"
#include "bench_util.h"
#include "data/batch.h"
#include "data/sampler.h"
#include "data/tokenized_dataset.h"
#include "io/hf_config.h"
#include "model/causal_lm.h"
#include "model/loader.h"
#include "model/lora.h"
#include "model/runtime.h"
#include "model/save.h"
#include "model/scorer.h"
#include "objectives/dpo.h"
#include "train/dpo_recipe.h"
#include "train/grad_clip.h"
#include "train/optimizer.h"
#include "train/reference.h"
#include "train/batch_logps.h"
#include "util/json.h"
#include "util/timer.h"

namespace fs = std::filesystem;
using namespace prefer;

namespace {

struct Args {
  std::string model = "tiny";
  std::string mode = "both";
  std::string precision = "both";
  std::string variants = "naive,precompute,chunked,grouped,prefix_shared,aligned,default";
  int64_t pairs = 4, prompt_len = 256, completion_min = 128, completion_max = 256, steps = 3, epoch_pairs = 64;
  int threads = 0;
  int64_t chunk_tokens = 1024;
  bool baseline = true;
  std::string python;
  std::string trace;
  double lr_full = 1e-5, lr_lora = 1e-4;
  std::string json;
  double limit_gb = 0, step_limit_s = 0;
  int64_t precompute_pairs = 8;  // the precompute pass's batch: prefer dpo's per_device_eval_batch_size default
  bool baseline_huge_pages = false;  // the baseline with glibc.malloc.hugetlb=1 too (bench_startup)
  int64_t curve = 0;                  // --curve N: loss curves fp32 against bf16, prefer only
};

// --limit_gb as bytes for setrlimit(RLIMIT_AS) in prefer's children (0: none).
uint64_t g_limit_bytes = 0;

// Self time (an op's time minus the ops it calls) summed by op name and input shapes, largest first.
void write_op_profile(const torch::autograd::profiler::thread_event_lists& lists, const fs::path& file) {
  using torch::autograd::profiler::EventKind;
  using torch::autograd::profiler::LegacyEvent;
  std::map<std::string, std::pair<double, int>> self;  // key -> (us, calls)
  double all = 0;
  for (const auto& events : lists) {
    struct Open {
      const LegacyEvent* push;
      double child_us;
    };
    std::vector<Open> stack;
    for (const LegacyEvent& e : events) {
      if (e.kind() == EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == EventKind::PopRange && !stack.empty()) {
        Open o = stack.back();
        stack.pop_back();
        const double us = o.push->cpuElapsedUs(e);
        if (!stack.empty()) stack.back().child_us += us;
        std::string key = o.push->name();
        for (const auto& sh : o.push->shapes()) key += " " + c10::str(at::IntArrayRef(sh));
        auto& [t, n] = self[key];
        t += us - o.child_us;
        n += 1;
        all += us - o.child_us;
      }
    }
  }
  std::vector<std::pair<double, std::string>> rows;
  for (const auto& [k, v] : self) rows.emplace_back(v.first, k + "  (" + std::to_string(v.second) + "x)");
  std::sort(rows.rbegin(), rows.rend());
  std::ofstream out(file);
  if (!out) {  // called from the profiler guard's destructor: report, do not throw
    std::fprintf(stderr, "--trace: cannot write %s\n", file.string().c_str());
    return;
  }
  out << "self time by op and input shapes, " << all / 1e6 << " s in all\n";
  for (const auto& [us, k] : rows) out << us / 1e6 << " s  " << 100.0 * us / all << "%  " << k << "\n";
}

// ------------------------------------------------------------------------------------------ results
constexpr int kMaxSteps = 16;
constexpr int64_t kMaxCurve = 400;
struct Result {
  bool ok = false;
  char error[256] = {};
  double loss[kMaxSteps] = {}, rew_c[kMaxSteps] = {}, rew_r[kMaxSteps] = {};
  int steps = 0;
  double recipe_loss = NAN;  // DpoRecipe::step (no grad) on the step batch before training
  double step_s = 0;         // mean of the timed steps (2..K)
  double ph_ref = 0, ph_fwd = 0, ph_head = 0, ph_head_bwd = 0, ph_bwd = 0, ph_opt = 0;  // per timed step
  double epoch_s = NAN, precompute_s = 0;
  int64_t epoch_steps = 0;
  double peak_mb = 0, start_mb = 0;
  int64_t params = 0, trainable = 0;
  double padding = 0;
  double curve[kMaxCurve] = {};  // --curve: the loss of each step
};

template <class F>
Result in_child(F&& f) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Result r;
    {
      std::ofstream clear("/proc/self/clear_refs");
      clear << "5";
    }
    r.start_mb = double(status_kb("VmRSS:")) / 1024.0;
    if (g_limit_bytes > 0) {
      struct rlimit lim {g_limit_bytes, g_limit_bytes};
      setrlimit(RLIMIT_AS, &lim);
    }
    try {
      f(r);
      r.ok = true;
    } catch (const std::exception& e) {
      std::snprintf(r.error, sizeof r.error, "%s", e.what());
    }
    r.peak_mb = double(status_kb("VmHWM:")) / 1024.0;
    if (write(fds[1], &r, sizeof r) != sizeof r) std::_Exit(2);
    std::_Exit(0);
  }
  close(fds[1]);
  Result r;
  ssize_t n = read(fds[0], &r, sizeof r);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (n != sizeof r) {
    r = Result{};
    std::snprintf(r.error, sizeof r.error, "child died (status %d; out of memory?)", status);
  }
  return r;
}

// ------------------------------------------------------------------------------------------ inputs
struct Inputs {
  fs::path model_dir, adapter_dir, batch_file;
  data::TokenizedDataset ds;
  std::vector<size_t> step_batch;
  std::vector<std::vector<size_t>> epoch_plain, epoch_grouped;
  std::vector<std::vector<size_t>> precompute_batches;  // as `prefer dpo` tabulates: length-grouped, in order
  int64_t vocab = 0;
  int64_t step_tokens = 0;  // real tokens of the step batch in the concatenated layout (prompt counted twice)
};

int64_t pair_tokens(const data::TokenizedDataset& ds, size_t i) {
  const auto& r = ds.row(i);
  return 2 * r.prompt_len + r.chosen_len + r.rejected_len;
}

void make_data(Inputs& in, const Args& a) {
  const int64_t n = std::max(a.pairs, a.epoch_pairs);
  RandomPairs made = random_pairs(n, a.prompt_len, a.completion_min, a.completion_max, in.vocab, 1234);
  in.ds = std::move(made.data);
  const Json& pairs = made.json;
  for (int64_t i = 0; i < a.pairs; ++i) in.step_batch.push_back(size_t(i));
  for (size_t i : in.step_batch) in.step_tokens += pair_tokens(in.ds, i);
  Json j;
  j["pairs"] = pairs;
  j["step_batch"] = in.step_batch;
  if (a.epoch_pairs > 0) {
    data::TokenizedDataset sub = in.ds.select([&] {
      std::vector<size_t> v;
      for (int64_t i = 0; i < a.epoch_pairs; ++i) v.push_back(size_t(i));
      return v;
    }());
    data::SamplerOptions so{.batch_size = a.pairs, .shuffle = true, .group_by_length = false, .seed = 42};
    in.epoch_plain = data::epoch_batches(sub, so, 0);
    so.group_by_length = true;
    in.epoch_grouped = data::epoch_batches(sub, so, 0);
    in.precompute_batches = train::Reference::precompute_batches(sub, a.precompute_pairs);  // as prefer dpo tabulates
    j["epoch_batches"] = in.epoch_plain;  // the baseline: transformers' default (group_by_length false)
  }
  std::ofstream(in.batch_file) << j.dump();
}

model::LoraConfig lora_config() {
  model::LoraConfig c;
  c.r = 16;
  c.lora_alpha = 32;
  c.lora_dropout = 0;  // dropout off on both sides, so the two steps are the same computation
  c.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj"};
  return c;
}

// ------------------------------------------------------------------------------------------ variants
struct Variant {
  std::string name;
  bool precompute = false, chunked = false, grouped = false, prefix = false, aligned = false, padding_free = false;
  bool mixed = false;  // bf16: float32 embeddings, norms and residual stream (CausalLM::set_mixed_precision)
  bool checkpoint = false;  // gradient checkpointing of every decoder layer (--gradient_checkpointing)
  bool bf16_ref = false;    // fp32 runs: the precompute pass from a bf16 mixed copy (--precompute_ref_dtype bfloat16)
};

Variant variant(const std::string& n) {
  Variant v{n};
  if (n == "precompute") v.precompute = true;
  else if (n == "chunked") v.chunked = true;
  else if (n == "grouped") v.grouped = true;
  else if (n == "prefix_shared") v.prefix = true;
  else if (n == "aligned") v.aligned = true;
  else if (n == "padding_free") v.padding_free = true;
  else if (n == "mixed") v.mixed = true;
  else if (n == "default" || n == "all" || n == "padded" || n == "pure" || n == "checkpointed" || n == "bf16_reference") {
    v.precompute = v.chunked = v.grouped = v.prefix = v.aligned = v.padding_free = v.mixed = true;
    if (n == "padded") v.padding_free = false;
    if (n == "pure") v.mixed = false;  // the defaults with every weight in bf16
    if (n == "checkpointed") v.checkpoint = true;
    if (n == "bf16_reference") v.bf16_ref = true;
  } else if (n != "naive") {
    throw std::runtime_error("unknown variant " + n);
  }
  return v;
}

// log p(target) for the scored tokens, the naive way: full [R, T, V] logits, a log-sum-exp over every
// position in float32, then the scored entries (what the baseline's selective_log_softmax computes).
at::Tensor naive_token_logps(const model::CausalLM& m, const at::Tensor& hidden, const data::Batch& b, at::Tensor* mean_logit) {
  at::Tensor logits = m.logits(hidden);
  at::Tensor flat = logits.reshape({-1, logits.size(-1)});
  at::Tensor lse = at::logsumexp(flat.to(at::kFloat), -1);
  at::Tensor rows = flat.index_select(0, b.score_source);
  at::Tensor sel = rows.gather(1, b.score_target.unsqueeze(1)).squeeze(1).to(at::kFloat);
  if (mean_logit) {
    at::NoGradGuard g;
    *mean_logit = rows.to(at::kFloat).mean(-1);
  }
  return sel - lse.index_select(0, b.score_source);
}

struct Prefer {
  const Args& a;
  const Inputs& in;
  Variant v;
  bool lora, bf16;
  std::optional<model::CausalLM> policy, reference;
  std::vector<at::Tensor> params;
  std::optional<train::AdamW> adam;
  data::BatchOptions bopt;
  objectives::DpoConfig dpo;
  objectives::DpoState state;
  at::Tensor table_c, table_r;
  double lr = 0;

  Prefer(const Args& a_, const Inputs& in_, Variant v_, bool lora_, bool bf16_) : a(a_), in(in_), v(std::move(v_)), lora(lora_), bf16(bf16_) {
    model::LoadOptions lo;
    lo.dtype = bf16 ? at::kBFloat16 : at::kFloat;
    lo.mixed_precision = v.mixed;
    model::LoadOptions policy_lo = lo;
    policy_lo.keep_full_precision = !lora;  // full fine-tuning: masters from the float32 checkpoint, as prefer dpo
    policy.emplace(model::load_model(in.model_dir, policy_lo));
    policy->set_gradient_checkpointing(v.checkpoint);
    if (lora) {
      policy->set_requires_grad(false);
      model::add_lora(*policy, lora_config(), 0);
      for (auto& [n, t] : model::lora_parameters(*policy, lora_config())) params.push_back(t);
      lr = a.lr_lora;
    } else {
      policy->set_requires_grad(true);
      for (auto& [n, t] : policy->named_parameters()) params.push_back(t);
      if (!v.precompute) {  // a frozen copy of the starting policy, as TRL
        reference.emplace(model::load_model(in.model_dir, lo));
        reference->set_requires_grad(false);
      }
      lr = a.lr_full;
    }
    adam.emplace(params);
    for (const at::Tensor& t : params)
      if (at::Tensor full = policy->take_full_precision(t); full.defined()) adam->start_master_from(t, full);
    bopt.layout = v.prefix ? data::BatchLayout::PrefixShared : data::BatchLayout::Concatenated;
    if (v.aligned) bopt.tokens_multiple_of = 64;
    bopt.padding_free = v.padding_free;
  }
  int64_t chunk() const { return v.chunked ? a.chunk_tokens : int64_t(1) << 40; }

  // Reference sums for a batch, live (adapters off, or the frozen copy; before any step, the policy
  // itself for a full fine-tuning table).
  std::pair<at::Tensor, at::Tensor> live_ref(const data::Batch& b, const model::CausalLM* copy = nullptr) {
    at::NoGradGuard ng;
    const model::CausalLM& m = copy ? *copy : reference ? *reference : *policy;
    std::optional<model::AdaptersDisabled> off;
    if (lora) off.emplace(*policy);
    bool was = policy->mode().training;
    policy->set_training(false);
    at::Tensor sum;
    if (v.chunked) {
      sum = train::batch_logps(m, b, chunk()).sum;
    } else {
      at::Tensor h = m.forward(b.ids, b.positions, b.layout);
      at::Tensor tok = naive_token_logps(m, h, b, nullptr);
      sum = at::zeros({b.sequences}, tok.options()).index_add(0, b.score_sequence, tok);
    }
    policy->set_training(was);
    return {sum.slice(0, 0, b.pairs).to(at::kDouble), sum.slice(0, b.pairs, 2 * b.pairs).to(at::kDouble)};
  }

  // The table, as prefer dpo's precompute pass; bf16_reference in an fp32 run loads a bf16 mixed copy
  // of the starting weights for it (its load counted, as the command's) and frees it after.
  void precompute(const std::vector<std::vector<size_t>>& batches) {
    table_c = at::zeros({int64_t(in.ds.size())}, at::kDouble);
    table_r = at::zeros({int64_t(in.ds.size())}, at::kDouble);
    std::optional<model::CausalLM> copy;
    if (v.bf16_ref && !bf16) {
      copy.emplace(model::load_model(in.model_dir, {.dtype = at::kBFloat16, .mixed_precision = true}));
      copy->set_requires_grad(false);
    }
    for (const auto& ex : batches) {
      auto [c, r] = live_ref(data::make_batch(in.ds, ex, bopt), copy ? &*copy : nullptr);
      for (size_t k = 0; k < ex.size(); ++k) {
        table_c[int64_t(ex[k])] = c[int64_t(k)];
        table_r[int64_t(ex[k])] = r[int64_t(k)];
      }
    }
  }

  // DpoRecipe::step itself, without gradient, for the check.
  double recipe_loss() {
    train::DpoRecipeOptions ro;
    ro.dpo = dpo;
    ro.batch = bopt;
    ro.chunk_tokens = chunk();
    train::DpoRecipe recipe(*policy, reference ? &*reference : nullptr, ro);
    if (v.precompute) recipe.reference().set_table(in.ds, table_c, table_r);
    return recipe.step(in.ds, in.step_batch, false).loss.item<double>();
  }

  struct Out {
    double loss, rc, rr;
  };
  Out step(const std::vector<size_t>& ex, Result* ph) {
    Stopwatch sw;
    auto lap = [&](double* slot) {
      if (ph) *slot += sw.seconds();
      sw.reset();
    };
    data::Batch b = data::make_batch(in.ds, ex, bopt);
    const int64_t B = b.pairs;
    at::Tensor ref_c, ref_r;
    if (v.precompute) {
      std::vector<int64_t> idx(ex.begin(), ex.end());
      at::Tensor i = at::tensor(at::ArrayRef<int64_t>(idx), at::kLong);
      ref_c = table_c.index_select(0, i);
      ref_r = table_r.index_select(0, i);
    } else {
      std::tie(ref_c, ref_r) = live_ref(b);
    }
    lap(ph ? &ph->ph_ref : nullptr);
    policy->set_training(true);
    at::Tensor hidden = policy->forward(b.ids, b.positions, b.layout);
    lap(ph ? &ph->ph_fwd : nullptr);
    at::Tensor hd = hidden.detach().requires_grad_(true);
    at::Tensor tok, entropy, mean_logit;
    if (v.chunked) {
      at::Tensor h = hd.reshape({-1, hd.size(-1)}).index_select(0, b.score_source);
      tok = model::chunked_token_logprobs(h, policy->lm_head_weight(), b.score_target, chunk(), &entropy, &mean_logit);
    } else {
      tok = naive_token_logps(*policy, hd, b, &mean_logit);
    }
    at::Tensor sum = at::zeros({b.sequences}, tok.options()).index_add(0, b.score_sequence, tok).to(at::kDouble);
    at::Tensor count = at::zeros({b.sequences}, at::kLong).index_add(0, b.score_sequence, at::ones_like(b.score_sequence));
    objectives::DpoInputs di;
    di.policy_chosen_logps = sum.slice(0, 0, B);
    di.policy_rejected_logps = sum.slice(0, B, 2 * B);
    di.reference_chosen_logps = ref_c;
    di.reference_rejected_logps = ref_r;
    at::Tensor cnt = count.clamp_min(1).to(at::kDouble);
    di.chosen_lengths = cnt.slice(0, 0, B);
    di.rejected_lengths = cnt.slice(0, B, 2 * B);
    objectives::DpoOutput d = objectives::dpo_loss(di, dpo, &state);
    {  // logits/chosen, logits/rejected as the recipe reports them
      at::Tensor chosen_tok = b.score_sequence.lt(B).to(at::kDouble);
      at::Tensor ml = mean_logit.to(at::kDouble);
      (void)((ml * chosen_tok).sum() / chosen_tok.sum().clamp_min(1)).item<double>();
    }
    Out o{d.loss.item<double>(), objectives::metric_value(d.metrics, "rewards/chosen"),
          objectives::metric_value(d.metrics, "rewards/rejected")};
    lap(ph ? &ph->ph_head : nullptr);
    d.loss.backward();
    lap(ph ? &ph->ph_head_bwd : nullptr);
    hidden.backward(hd.grad());
    lap(ph ? &ph->ph_bwd : nullptr);
    train::clip_grad_norm(params, 1.0).item<double>();
    adam->step(lr);
    adam->zero_grad();
    lap(ph ? &ph->ph_opt : nullptr);
    return o;
  }
};

Result run_prefer(const Args& a, const Inputs& in, const Variant& v, bool lora, bool bf16) {
  return in_child([&](Result& r) {
    model::set_num_threads(a.threads);
    at::manual_seed(0);
    Prefer p(a, in, v, lora, bf16);
    for (auto& [n, t] : p.policy->named_parameters()) r.params += t.numel();
    for (auto& t : p.params) r.trainable += t.numel();
    r.padding = data::make_batch(in.ds, in.step_batch, p.bopt).padding_fraction();
    if (v.precompute) p.precompute({in.step_batch});
    r.recipe_loss = p.recipe_loss();
    const int K = int(std::min<int64_t>(a.steps, kMaxSteps));
    double timed = 0;
    Result ph;
    for (int s = 0; s < K; ++s) {
      Stopwatch sw;
      auto o = p.step(in.step_batch, s > 0 ? &ph : nullptr);
      if (s > 0) timed += sw.seconds();
      r.loss[s] = o.loss;
      r.rew_c[s] = o.rc;
      r.rew_r[s] = o.rr;
    }
    if (!a.trace.empty()) {
      // One more step under the profiler, after the timed ones: its overhead (a third to a half of a step)
      // stays out of the step times. The epoch below starts from its weights; its time does not depend on them.
      fs::path file = fs::path(a.trace) / ((lora ? "lora-" : "full-") + std::string(bf16 ? "bf16-" : "fp32-") + v.name + ".txt");
      torch::autograd::profiler::TLSLegacyProfilerGuard trace(
          torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, true),
          [file](const torch::autograd::profiler::thread_event_lists& l) { write_op_profile(l, file); });
      p.step(in.step_batch, nullptr);
    }
    r.steps = K;
    const double n = std::max(1, K - 1);
    r.step_s = timed / n;
    r.ph_ref = ph.ph_ref / n, r.ph_fwd = ph.ph_fwd / n, r.ph_head = ph.ph_head / n;
    r.ph_head_bwd = ph.ph_head_bwd / n, r.ph_bwd = ph.ph_bwd / n, r.ph_opt = ph.ph_opt / n;
    if (a.epoch_pairs > 0) {
      const auto& batches = v.grouped ? in.epoch_grouped : in.epoch_plain;
      // The precompute pass is part of the epoch. It needs the reference = the starting weights, so a
      // fresh policy is loaded for it, before the clock starts: a run loads its model once, before its
      // precompute pass, and the baseline's epoch does not count its model's load either.
      std::optional<Prefer> fresh;
      if (v.precompute) fresh.emplace(a, in, v, lora, bf16);
      Stopwatch sw;
      if (fresh) {
        std::optional<torch::autograd::profiler::TLSLegacyProfilerGuard> trace;
        if (!a.trace.empty()) {
          fs::path file = fs::path(a.trace) / ((lora ? "lora-" : "full-") + std::string(bf16 ? "bf16-" : "fp32-") + v.name + "-precompute.txt");
          trace.emplace(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, true),
                        [file](const torch::autograd::profiler::thread_event_lists& l) { write_op_profile(l, file); });
        }
        fresh->precompute(in.precompute_batches);
        trace.reset();
        p.table_c = fresh->table_c;
        p.table_r = fresh->table_r;
        r.precompute_s = sw.seconds();
        fresh.reset();
      }
      for (const auto& b : batches) p.step(b, nullptr);
      r.epoch_s = sw.seconds();
      r.epoch_steps = int64_t(batches.size());
    }
  });
}

// --curve: `steps` steps from the starting weights over the epoch's batches (cycled), as a run would
// train: the reference tabulated first, then one optimizer step a batch.
Result run_curve(const Args& a, const Inputs& in, const Variant& v, bool lora, bool bf16) {
  return in_child([&](Result& r) {
    model::set_num_threads(a.threads);
    at::manual_seed(0);
    Prefer p(a, in, v, lora, bf16);
    const auto& batches = v.grouped ? in.epoch_grouped : in.epoch_plain;
    Stopwatch sw;
    if (v.precompute) p.precompute(in.precompute_batches);
    for (int64_t s = 0; s < a.curve; ++s) r.curve[s] = p.step(batches[size_t(s) % batches.size()], nullptr).loss;
    r.steps = int(a.curve);
    r.epoch_s = sw.seconds();
  });
}

// Prints the fp32 default curve next to each variant's bf16 curve, and how far apart they are.
void print_curves(const Args& a, const Inputs& in, bool lora) {
  const double lr = lora ? a.lr_lora : a.lr_full;
  std::printf("\n== curve: %s, %s, %lld steps over %lld pairs (%zu batches of %lld, cycled), lr %g ==\n", a.model.c_str(),
              lora ? "LoRA r=16 (q,k,v,o)" : "full fine-tuning", (long long)a.curve, (long long)a.epoch_pairs,
              in.epoch_grouped.size(), (long long)a.pairs, lr);
  std::fflush(stdout);
  Result ref = run_curve(a, in, variant("default"), lora, false);
  if (!ref.ok) {
    std::printf("fp32 default failed: %s\n", ref.error);
    return;
  }
  std::vector<std::pair<std::string, Result>> bf;
  for (const auto& vn : split_list(a.variants)) {
    Result r = run_curve(a, in, variant(vn), lora, true);
    if (!r.ok) std::printf("bf16 %s failed: %s\n", vn.c_str(), r.error);
    else bf.emplace_back(vn, r);
  }
  std::printf("%6s %12s", "step", "fp32 default");
  for (const auto& [vn, r] : bf) std::printf(" %12s %9s", ("bf16 " + vn).c_str(), "|d|");
  std::printf("\n");
  const int64_t every = std::max<int64_t>(1, a.curve / 10);
  for (int64_t s = 0; s < a.curve; ++s) {
    if (s != 0 && (s + 1) % every != 0 && s + 1 != a.curve) continue;
    std::printf("%6lld %12.6f", (long long)(s + 1), ref.curve[s]);
    for (const auto& [vn, r] : bf) std::printf(" %12.6f %9.2e", r.curve[s], std::fabs(r.curve[s] - ref.curve[s]));
    std::printf("\n");
  }
  // The last tenth of the run, where a precision that loses updates would have fallen behind.
  const int64_t tail = std::max<int64_t>(1, a.curve / 10);
  auto mean = [&](const double* c, bool abs_diff) {
    double m = 0;
    for (int64_t s = a.curve - tail; s < a.curve; ++s) m += abs_diff ? std::fabs(c[s] - ref.curve[s]) : c[s];
    return m / double(tail);
  };
  std::printf("last %lld steps: fp32 mean loss %.6f (%.1f s a step)\n", (long long)tail, mean(ref.curve, false),
              ref.epoch_s / double(a.curve));
  for (const auto& [vn, r] : bf) {
    double worst = 0;
    int64_t at_step = 0;
    for (int64_t s = 0; s < a.curve; ++s)
      if (std::fabs(r.curve[s] - ref.curve[s]) > worst) worst = std::fabs(r.curve[s] - ref.curve[s]), at_step = s + 1;
    std::printf("  bf16 %-12s mean loss %.6f, mean |bf16 - fp32| %.2e; largest |bf16 - fp32| %.2e at step %lld (%.1f s a step)\n",
                vn.c_str(), mean(r.curve, false), mean(r.curve, true), worst, (long long)at_step, r.epoch_s / double(a.curve));
  }
  std::fflush(stdout);
  if (!a.json.empty()) {
    Json line = {{"curve", a.curve}, {"model", a.model}, {"mode", lora ? "lora" : "full"}, {"pairs", a.pairs},
                 {"epoch_pairs", a.epoch_pairs}, {"lr", lr}, {"fp32_default", std::vector<double>(ref.curve, ref.curve + a.curve)}};
    for (const auto& [vn, r] : bf) line["bf16_" + vn] = std::vector<double>(r.curve, r.curve + a.curve);
    std::ofstream(a.json, std::ios::app) << line.dump() << "\n";
  }
}

// ------------------------------------------------------------------------------------------ baseline
struct Baseline {
  bool ok = false;
  std::string error;
  std::vector<double> loss, rew_c, rew_r, step_s;
  double step_mean = 0, epoch_s = NAN, peak_mb = 0, start_mb = 0;
};

Baseline run_baseline(const Args& a, const Inputs& in, bool lora, bool bf16) {
  Baseline b;
  const int threads = a.threads > 0 ? a.threads : int(sysconf(_SC_NPROCESSORS_ONLN));
  std::ostringstream cmd;
  if (a.limit_gb > 0) cmd << "ulimit -v " << int64_t(a.limit_gb * 1024 * 1024) << "; ";
  if (a.step_limit_s > 0) cmd << "timeout " << int64_t(a.step_limit_s * double(a.steps) + 120) << " ";
  cmd << a.python << " " << PREFER_SOURCE_DIR << "/bench/baseline/trl_dpo_step.py --model " << in.model_dir << " --batch "
      << in.batch_file << " --threads " << threads << " --precision " << (bf16 ? "bf16" : "fp32") << " --mode "
      << (lora ? "lora" : "full") << " --steps " << a.steps << " --lora_r 16 --lora_alpha 32 --lr "
      << (lora ? a.lr_lora : a.lr_full) << (lora ? " --adapter " + in.adapter_dir.string() : std::string())
      << (a.epoch_pairs > 0 ? " --epoch" : "") << " 2>&1";
  FILE* p = popen(cmd.str().c_str(), "r");
  std::string out, last;
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  int rc = p ? pclose(p) : -1;
  std::istringstream ls(out);
  for (std::string line; std::getline(ls, line);)
    if (!line.empty() && line[0] == '{') last = line;
  if (rc != 0 || last.empty()) {
    const bool oom = out.find("can't allocate memory") != std::string::npos || out.find("MemoryError") != std::string::npos ||
                     out.find("std::bad_alloc") != std::string::npos;
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 124) b.error = "past the time limit (" + std::to_string(int(a.step_limit_s)) + " s a step)";
    else if (oom) b.error = "out of memory";
    else b.error = "baseline failed (rc " + std::to_string(rc) + "): " + out.substr(out.size() > 600 ? out.size() - 600 : 0);
    return b;
  }
  Json j = Json::parse(last);
  for (const auto& s : j["steps"]) {
    b.loss.push_back(s["loss"].get<double>());
    b.rew_c.push_back(s["rewards_chosen"].get<double>());
    b.rew_r.push_back(s["rewards_rejected"].get<double>());
  }
  for (const auto& s : j["step_seconds"]) b.step_s.push_back(s.get<double>());
  double t = 0;
  for (size_t i = 1; i < b.step_s.size(); ++i) t += b.step_s[i];
  b.step_mean = b.step_s.size() > 1 ? t / double(b.step_s.size() - 1) : b.step_s.at(0);
  if (j.contains("epoch_seconds")) b.epoch_s = j["epoch_seconds"].get<double>();
  b.peak_mb = j["peak_rss_mb"].get<double>();
  b.start_mb = j["rss_start_mb"].get<double>();
  b.ok = true;
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + k);
      return argv[++i];
    };
    if (k == "--model") a.model = val();
    else if (k == "--mode") a.mode = val();
    else if (k == "--precision") a.precision = val();
    else if (k == "--variants") a.variants = val();
    else if (k == "--pairs") a.pairs = std::stoll(val());
    else if (k == "--prompt_len") a.prompt_len = std::stoll(val());
    else if (k == "--completion_min") a.completion_min = std::stoll(val());
    else if (k == "--completion_max") a.completion_max = std::stoll(val());
    else if (k == "--steps") a.steps = std::stoll(val());
    else if (k == "--epoch_pairs") a.epoch_pairs = std::stoll(val());
    else if (k == "--threads") a.threads = std::stoi(val());
    else if (k == "--chunk_tokens") a.chunk_tokens = std::stoll(val());
    else if (k == "--no_baseline") a.baseline = false;
    else if (k == "--baseline_huge_pages") a.baseline_huge_pages = true;
    else if (k == "--precompute_pairs") a.precompute_pairs = std::stoll(val());
    else if (k == "--python") a.python = val();
    else if (k == "--lr_full") a.lr_full = std::stod(val());
    else if (k == "--lr_lora") a.lr_lora = std::stod(val());
    else if (k == "--trace") a.trace = val();
    else if (k == "--json") a.json = val();
    else if (k == "--limit_gb") a.limit_gb = std::stod(val());
    else if (k == "--step_limit_s") a.step_limit_s = std::stod(val());
    else if (k == "--curve") a.curve = std::stoll(val());
    else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of bench/dpo_step.cpp)\n", k.c_str());
      return 2;
    }
  }
  const bool huge_pages = bench_startup(argv, a.baseline_huge_pages);
  if (a.steps < 2) a.steps = 2;
  if (a.curve > 0) {
    if (a.curve > kMaxCurve || a.epoch_pairs <= 0) {
      std::fprintf(stderr, "--curve takes 1 to %lld steps and needs --epoch_pairs > 0 (its batches)\n", (long long)kMaxCurve);
      return 2;
    }
    a.baseline = false;  // prefer against itself
  }
  if (!a.trace.empty()) fs::create_directories(a.trace);
  if (a.python.empty()) a.python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  if (a.baseline && std::system((a.python + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0) {
    std::fprintf(stderr,
                 "the baseline needs PyTorch for %s: install Debian's package with `apt-get install -y python3-torch` "
                 "(or pass --no_baseline)\n", a.python.c_str());
    return 1;
  }
  const int threads = a.threads > 0 ? a.threads : int(sysconf(_SC_NPROCESSORS_ONLN));
  a.threads = threads;
  g_limit_bytes = uint64_t(a.limit_gb * double(1ull << 30));

  Inputs in;
  fs::path tmp = fs::temp_directory_path() / ("prefer_bench_dpo_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  in.batch_file = tmp / "batch.json";
  in.adapter_dir = tmp / "adapter";
  std::string model_name;
  // Model folder (and the initial LoRA adapter, so both sides start from the same A and B = 0).
  in.model_dir = a.model == "tiny" ? fs::path(PREFER_FIXTURE_DIR) / "models/llama-tiny" : tmp / "model";
  Result prep = in_child([&](Result& r) {
    model::set_num_threads(threads);
    if (a.model != "tiny") write_random_model(bench_config(a.model), in.model_dir);
    model::CausalLM m = model::load_model(in.model_dir);
    model::add_lora(m, lora_config(), 0);
    model::save_adapter(m, lora_config(), in.adapter_dir);
    r.params = 0;
    for (auto& [n, t] : m.named_parameters()) r.params += t.numel();
    r.trainable = m.config().vocab_size;
  });
  if (!prep.ok) {
    std::fprintf(stderr, "preparing the model failed: %s\n", prep.error);
    return 1;
  }
  in.vocab = prep.trainable;
  make_data(in, a);

  // GEMM roofline of this machine, this run: 2048^3 products, best of 3 after a warm-up.
  double roof[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    Result g = in_child([&](Result& r) {
      model::set_num_threads(threads);
      const int64_t n = 2048;
      auto dt = k == 0 ? at::kFloat : at::kBFloat16;
      at::Tensor x = at::randn({n, n}).to(dt), y = at::randn({n, n}).to(dt);
      at::matmul(x, y);
      double best = 1e30;
      for (int i = 0; i < 3; ++i) {
        Stopwatch sw;
        at::Tensor z = at::matmul(x, y);
        best = std::min(best, sw.seconds());
      }
      r.step_s = 2.0 * double(n * n * n) / best;
    });
    roof[k] = g.step_s;
  }

  std::printf("DPO step: prefer against an eager PyTorch TRL-style step (bench/baseline/trl_dpo_step.py)\n");
  std::printf("LibTorch %s, %d threads on both sides; model %s (%.1fM parameters), %lld pairs/step, prompt %lld, "
              "completions %lld-%lld tokens, %lld real tokens/step (concatenated count), %lld steps (1 warm-up)\n",
              model::torch_version().c_str(), threads, a.model.c_str(), double(prep.params) / 1e6, (long long)a.pairs,
              (long long)a.prompt_len, (long long)a.completion_min, (long long)a.completion_max, (long long)in.step_tokens,
              (long long)a.steps);
  std::printf("GEMM roofline (2048^3 matmul): fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n", roof[0] / 1e9, roof[1] / 1e9);
  std::printf("malloc: prefer %s, baseline %s (glibc.malloc.hugetlb=1, util/startup_env.h)\n", huge_pages ? "huge pages" : "4 KiB pages",
              huge_pages && a.baseline_huge_pages ? "huge pages" : "4 KiB pages");
  if (a.epoch_pairs > 0)
    std::printf("epoch: %lld pairs in %zu batches (baseline: shuffled; grouped variants: length-grouped)\n",
                (long long)a.epoch_pairs, in.epoch_plain.size());
  std::fflush(stdout);

  std::vector<bool> modes, precs;
  if (a.mode != "full") modes.push_back(true);
  if (a.mode != "lora") modes.push_back(false);
  if (a.curve > 0) {
    for (bool lora : modes) print_curves(a, in, lora);
    std::error_code ec;
    fs::remove_all(tmp, ec);
    return 0;
  }
  if (a.precision != "bf16") precs.push_back(false);
  if (a.precision != "fp32") precs.push_back(true);
  for (bool lora : modes) {
    for (bool bf16 : precs) {
      const double roofline = roof[bf16 ? 1 : 0];
      const double flops_per_token = (lora ? 6.0 : 8.0) * double(prep.params);
      std::printf("\n== %s, %s, %s ==\n", a.model.c_str(), lora ? "LoRA r=16 (q,k,v,o)" : "full fine-tuning",
                  bf16 ? "bf16 (prefer: bf16 weights + fp32 masters; baseline: autocast)" : "fp32");
      std::fflush(stdout);
      Baseline base;
      if (a.baseline) base = run_baseline(a, in, lora, bf16);
      if (a.baseline && !base.ok) std::printf("baseline: %s\n", base.error.c_str());
      std::printf("%-14s %9s %9s %9s %9s %8s %9s %7s %9s %7s %9s %7s %7s\n", "side", "loss1", "loss2", "rew_c2", "rew_r2", "step s",
                  "tok/s", "x base", "peak MiB", "/base", "epoch s", "x base", "%roof");
      auto row = [&](const char* name, double l1, double l2, double rc, double rr, double st, double peak, double ep) {
        double tps = double(in.step_tokens) / st;
        std::printf("%-14s %9.6f %9.6f %9.6f %9.6f %8.3f %9.1f", name, l1, l2, rc, rr, st, tps);
        if (base.ok) std::printf(" %7.2f", base.step_mean / st);
        else std::printf(" %7s", "-");
        std::printf(" %9.0f", peak);
        if (base.ok) std::printf(" %7.2f", peak / base.peak_mb);
        else std::printf(" %7s", "-");
        std::printf(" %9.2f", ep);
        if (base.ok && !std::isnan(ep)) std::printf(" %7.2f", base.epoch_s / ep);
        else std::printf(" %7s", "-");
        std::printf(" %6.1f%%\n", 100.0 * flops_per_token * tps / roofline);
        std::fflush(stdout);
      };
      if (base.ok)
        row("baseline", base.loss[0], base.loss[1], base.rew_c[1], base.rew_r[1], base.step_mean, base.peak_mb, base.epoch_s);
      std::vector<std::pair<std::string, Result>> results;
      std::map<std::string, std::string> failed;
      for (const auto& vn : split_list(a.variants)) {
        Result r = run_prefer(a, in, variant(vn), lora, bf16);
        if (!r.ok) {
          std::printf("%-14s failed: %s\n", vn.c_str(), r.error);
          failed[vn] = r.error;
          continue;
        }
        row(vn.c_str(), r.loss[0], r.loss[1], r.rew_c[1], r.rew_r[1], r.step_s, r.peak_mb, r.epoch_s);
        results.emplace_back(vn, r);
      }
      std::printf("checks (|prefer - baseline|; recipe = DpoRecipe::step before training, = loss1 expected):\n");
      for (const auto& [vn, r] : results) {
        std::printf("  %-14s recipe %.6f (|d| %.1e)", vn.c_str(), r.recipe_loss, std::fabs(r.recipe_loss - r.loss[0]));
        if (base.ok)
          std::printf("  loss1 %.1e  loss2 %.1e  rew_c2 %.1e  rew_r2 %.1e", std::fabs(r.loss[0] - base.loss[0]),
                      std::fabs(r.loss[1] - base.loss[1]), std::fabs(r.rew_c[1] - base.rew_c[1]), std::fabs(r.rew_r[1] - base.rew_r[1]));
        std::printf("  |loss2 - ln2| %.1e  padding %.1f%%\n", std::fabs(r.loss[1] - std::log(2.0)), 100 * r.padding);
      }
      std::printf("profile by phase, seconds per timed step (prefer):\n  %-14s %8s %8s %8s %8s %8s %8s %8s %10s\n", "variant", "ref",
                  "forward", "head", "head bwd", "backward", "optim", "total", "precomp s");
      for (const auto& [vn, r] : results)
        std::printf("  %-14s %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %10.2f\n", vn.c_str(), r.ph_ref, r.ph_fwd, r.ph_head, r.ph_head_bwd,
                    r.ph_bwd, r.ph_opt, r.ph_ref + r.ph_fwd + r.ph_head + r.ph_head_bwd + r.ph_bwd + r.ph_opt, r.precompute_s);
      if (base.ok) std::printf("  baseline RSS at start (python + torch imported): %.0f MiB\n", base.start_mb);
      std::fflush(stdout);
      if (!a.json.empty()) {
        Json line = {{"model", a.model}, {"mode", lora ? "lora" : "full"}, {"precision", bf16 ? "bf16" : "fp32"}, {"pairs", a.pairs},
                     {"prompt_len", a.prompt_len}, {"completion_min", a.completion_min}, {"completion_max", a.completion_max},
                     {"tokens", in.step_tokens}, {"threads", threads}};
        if (a.baseline)
          line["baseline"] = base.ok ? Json{{"ok", true}, {"step_s", base.step_mean}, {"peak_mb", base.peak_mb}, {"loss", base.loss}}
                                     : Json{{"ok", false}, {"error", base.error}};
        for (const auto& vn : split_list(a.variants)) {
          auto it = std::find_if(results.begin(), results.end(), [&](const auto& e) { return e.first == vn; });
          line["prefer"][vn] = it == results.end() ? Json{{"ok", false}, {"error", failed[vn]}}
                                                   : Json{{"ok", true}, {"step_s", it->second.step_s}, {"peak_mb", it->second.peak_mb},
                                                          {"loss", std::vector<double>(it->second.loss, it->second.loss + it->second.steps)}};
        }
        std::ofstream(a.json, std::ios::app) << line.dump() << "\n";
      }
    }
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
