#include "train/rollout.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "model/causal_lm.h"
#include "model/generation.h"
#include "model/scorer.h"
#include "util/error.h"

namespace prefer::train {

double tempered(double temperature) { return temperature + 1e-7; }

Rollout make_rollout(std::vector<std::vector<int64_t>> prompts, std::vector<std::vector<int64_t>> responses, int64_t pad,
                     const std::vector<int64_t>& eos) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  if (B == 0 || static_cast<int64_t>(responses.size()) != B) throw Error("a rollout needs one response per prompt, and at least one prompt");
  int64_t P = 0, T = 0;
  for (int64_t b = 0; b < B; ++b) {
    if (prompts[b].empty() || responses[b].empty()) throw Error("a rollout row has an empty prompt or response");
    P = std::max<int64_t>(P, static_cast<int64_t>(prompts[b].size()));
    T = std::max<int64_t>(T, static_cast<int64_t>(responses[b].size()));
  }
  at::Tensor ids = at::full({B, P + T}, pad, at::kLong);
  at::Tensor mask = at::zeros({B, P + T}, at::kBool);
  at::Tensor rmask = at::zeros({B, T}, at::kBool);
  at::Tensor has_eos = at::zeros({B}, at::kBool);
  auto I = ids.accessor<int64_t, 2>();
  auto M = mask.accessor<bool, 2>();
  auto R = rmask.accessor<bool, 2>();
  auto E = has_eos.accessor<bool, 1>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    const auto& q = responses[b];
    const int64_t off = P - static_cast<int64_t>(p.size());
    for (size_t i = 0; i < p.size(); ++i) I[b][off + static_cast<int64_t>(i)] = p[i], M[b][off + static_cast<int64_t>(i)] = true;
    for (size_t t = 0; t < q.size(); ++t) {
      I[b][P + static_cast<int64_t>(t)] = q[t];
      M[b][P + static_cast<int64_t>(t)] = true;
      R[b][static_cast<int64_t>(t)] = true;
      if (std::find(eos.begin(), eos.end(), q[t]) != eos.end()) E[b] = true;
    }
  }
  Rollout r;
  r.prompts = std::move(prompts);
  r.responses = std::move(responses);
  r.context_length = P;
  r.ids = ids;
  r.mask = mask;
  r.positions = model::position_ids_from_mask(mask.to(at::kLong));
  r.response_mask = rmask;
  r.contains_eos = has_eos;
  return r;
}

Rollout Rollout::select(const std::vector<int64_t>& which) const {
  at::Tensor idx = at::tensor(which, at::kLong);
  Rollout r;
  for (int64_t i : which) {
    r.prompts.push_back(prompts.at(static_cast<size_t>(i)));
    r.responses.push_back(responses.at(static_cast<size_t>(i)));
  }
  r.context_length = context_length;
  r.ids = ids.index_select(0, idx);
  r.mask = mask.index_select(0, idx);
  r.positions = positions.index_select(0, idx);
  r.response_mask = response_mask.index_select(0, idx);
  r.contains_eos = contains_eos.index_select(0, idx);
  if (sample_logprobs.defined()) r.sample_logprobs = sample_logprobs.index_select(0, idx);
  return r;
}

Rollout sample_rollout(const model::CausalLM& policy, const std::vector<std::vector<int64_t>>& prompts, const RolloutOptions& o) {
  if (o.response_length < 1) throw Error("must be >= 1", {.field = "response_length"});
  if (!(o.temperature > 0)) throw Error("must be > 0", {.field = "temperature"});
  at::NoGradGuard ng;
  model::GenerationOptions go;
  go.do_sample = true;
  go.temperature = tempered(o.temperature);
  go.top_k = 0;
  go.top_p = o.top_p;
  go.eos_token_ids = o.eos_token_ids;
  if (o.stop_token_id) go.eos_token_ids.push_back(*o.stop_token_id);
  go.pad_token_id = o.pad_token_id;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const size_t B = prompts.size();
  std::vector<std::vector<int64_t>> responses(B);
  std::vector<std::vector<double>> logps(B);
  const size_t chunk = static_cast<size_t>(std::max<int64_t>(1, o.forward_batch_size));
  for (size_t start = 0; start < B; start += chunk) {
    const size_t n = std::min(chunk, B - start);
    std::vector<std::vector<int64_t>> part(prompts.begin() + static_cast<int64_t>(start), prompts.begin() + static_cast<int64_t>(start + n));
    model::DecodeHooks hooks;
    hooks.next = [&](const at::Tensor& logits, const std::vector<int64_t>& rows) {
      at::Tensor tok = model::next_tokens(logits, go, gen);
      at::Tensor lp = (logits.to(at::kFloat) / go.temperature).log_softmax(-1).gather(1, tok.unsqueeze(1)).squeeze(1).to(at::kCPU);
      auto L = lp.accessor<float, 1>();
      for (size_t i = 0; i < rows.size(); ++i) logps[start + static_cast<size_t>(rows[i])].push_back(L[static_cast<int64_t>(i)]);
      return tok;
    };
    hooks.on_token = [&](int64_t row, int64_t t) {
      responses[start + static_cast<size_t>(row)].push_back(t);
      return true;
    };
    model::decode(policy, part, std::vector<int64_t>(n, o.response_length), go, hooks);
  }
  Rollout r = make_rollout(prompts, responses, o.pad_token_id, o.eos_token_ids);
  r.sample_logprobs = at::zeros(r.response_mask.sizes(), at::kFloat);
  auto S = r.sample_logprobs.accessor<float, 2>();
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < logps[b].size(); ++t) S[static_cast<int64_t>(b)][static_cast<int64_t>(t)] = static_cast<float>(logps[b][t]);
  return r;
}

at::Tensor rollout_hidden(const model::CausalLM& model, const Rollout& r) {
  const at::Device d = model.device();
  return model.forward(r.ids.to(d), r.positions.to(d), {.key_mask = r.mask.to(d)});
}

namespace {
// The [B, P + T] mask of response slots.
at::Tensor full_response_mask(const Rollout& r) {
  return at::cat({at::zeros({r.rows(), r.context_length}, at::kBool), r.response_mask}, 1);
}
}  // namespace

at::Tensor response_logprobs(const model::CausalLM& model, const at::Tensor& hidden, const Rollout& r, double temperature,
                             at::Tensor* entropy) {
  const int64_t P = r.context_length;
  // Dividing the hidden state divides every logit (the head is linear): the scorer then sees logits / τ.
  model::SequenceScores s = model::score(hidden / tempered(temperature), model.lm_head_weight(), r.ids.to(hidden.device()),
                                         full_response_mask(r).to(hidden.device()), {.per_token = true, .stats = entropy != nullptr});
  if (entropy) *entropy = s.entropy.to(at::kFloat);
  return s.token_logps.slice(1, P).to(at::kFloat);
}

at::Tensor response_values(const at::Tensor& hidden, const at::Tensor& head, const Rollout& r) {
  const int64_t P = r.context_length;
  at::Tensor h = hidden.slice(1, P - 1, hidden.size(1) - 1);  // [B, T, H]: the state before each response token
  at::Tensor v = at::matmul(h, head.to(h.scalar_type()).t()).squeeze(-1).to(at::kFloat);
  return v * r.response_mask.to(v.device()).to(at::kFloat);
}

at::Tensor score_slots(const Rollout& r, ScoreRead read, int64_t pad) {
  const int64_t B = r.rows(), P = r.context_length, T = r.response_slots();
  std::vector<int64_t> slots(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const auto& q = r.responses[static_cast<size_t>(b)];
    int64_t last = P + static_cast<int64_t>(q.size()) - 1;
    if (read == ScoreRead::kFirstPad) {
      // TRL: first_true_indices(response == pad) - 1 + P over the padded response (T slots).
      int64_t first = T;
      for (int64_t t = 0; t < T; ++t)
        if ((t < static_cast<int64_t>(q.size()) ? q[static_cast<size_t>(t)] : pad) == pad) {
          first = t;
          break;
        }
      last = P + first - 1;
    }
    slots[static_cast<size_t>(b)] = last;
  }
  return at::tensor(slots, at::kLong);
}

at::Tensor read_scores(const at::Tensor& hidden, const at::Tensor& head, const Rollout& r, ScoreRead read, int64_t pad) {
  at::Tensor idx = score_slots(r, read, pad).to(hidden.device());
  at::Tensor h = hidden.index({at::arange(hidden.size(0), idx.options()), idx});  // [B, H]
  return at::matmul(h, head.to(h.scalar_type()).t()).select(1, 0).to(at::kFloat);
}

}  // namespace prefer::train
