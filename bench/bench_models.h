// Model folders the benchmarks train on: SmolLM-135M's shape with random weights (no download), saved as
// an HF folder so that prefer and the eager baselines load the same file.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "data/sampler.h"
#include "data/tokenized_dataset.h"
#include "io/hf_config.h"
#include "model/causal_lm.h"
#include "model/save.h"
#include "util/json.h"

// The shapes the benchmarks train, random weights (no download):
//   135m  SmolLM-135M (HuggingFaceTB/SmolLM-135M config.json)
//   360m  SmolLM-360M (HuggingFaceTB/SmolLM-360M config.json)
//   1b    Llama-3.2-1B (meta-llama/Llama-3.2-1B config.json; plain RoPE, without its llama3 frequency
//         scaling, which the eager baseline does not implement and which costs nothing measurable)
// Anything else is an error listing these.
inline prefer::io::ModelConfig bench_config(const std::string& name) {
  struct Shape {
    int64_t hidden, intermediate, layers, heads, kv_heads, vocab;
    double theta;
  };
  Shape s;
  if (name == "135m") s = {576, 1536, 30, 9, 3, 49152, 10000.0};
  else if (name == "360m") s = {960, 2560, 32, 15, 5, 49152, 10000.0};
  else if (name == "1b") s = {2048, 8192, 16, 32, 8, 128256, 500000.0};
  else throw std::invalid_argument("unknown benchmark model '" + name + "' (tiny, 135m, 360m or 1b)");
  prefer::Json j = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", s.hidden},
                    {"intermediate_size", s.intermediate}, {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
                    {"num_key_value_heads", s.kv_heads}, {"vocab_size", s.vocab}, {"max_position_embeddings", 8192},
                    {"rms_norm_eps", 1e-5}, {"rope_theta", s.theta}, {"tie_word_embeddings", true},
                    {"hidden_act", "silu"}, {"attention_bias", false}, {"mlp_bias", false}, {"bos_token_id", 1},
                    {"eos_token_id", 2}, {"initializer_range", 0.02}, {"torch_dtype", "float32"}};
  return prefer::io::parse_model_config(j);
}
inline prefer::io::ModelConfig config_135m() { return bench_config("135m"); }

// Random weights as transformers initialises them (normal(0, 0.02), norms 1), saved in float32.
inline void write_random_model(const prefer::io::ModelConfig& c, const std::filesystem::path& dir, uint64_t seed = 7) {
  prefer::model::CausalLM m(c);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard g;
  for (auto& [n, t] : m.named_parameters()) {
    if (n.find("norm") != std::string::npos) t.fill_(1.0);
    else t.normal_(0.0, 0.02, gen);
  }
  prefer::model::save_pretrained(m, dir, {.dtype = at::kFloat});
}

// A small Llama-style model in memory for the decoding benchmarks: head size 32, 4 query heads per KV
// head, weights normal(0, 0.05) (larger than the usual 0.02, so greedy paths do not settle on one token).
inline prefer::model::CausalLM random_llama(int64_t vocab, int64_t hidden, int64_t layers) {
  prefer::Json cfg = {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", vocab}, {"hidden_size", hidden},
                      {"intermediate_size", hidden * 8 / 3}, {"num_hidden_layers", layers},
                      {"num_attention_heads", hidden / 32}, {"num_key_value_heads", hidden / 64}};
  prefer::model::CausalLM m(prefer::io::parse_model_config(cfg));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  at::NoGradGuard ng;
  for (auto& [name, t] : m.named_parameters())
    t.copy_(name.find("norm") != std::string::npos ? at::ones(t.sizes()) : at::normal(0.0, 0.05, t.sizes(), gen));
  return m;
}

// Preference pairs of random token ids (3 .. vocab-1), fixed by `seed`: each a prompt of `prompt_len`
// tokens (the first set to BOS id 1 when `bos_first`) and chosen and rejected completions whose lengths
// are drawn uniformly from [completion_min, completion_max]. Returns the dataset prefer trains on and
// the same pairs as JSON ({prompt_ids, chosen_ids, rejected_ids}) for the Python baselines.
struct RandomPairs {
  prefer::data::TokenizedDataset data;
  prefer::Json json = prefer::Json::array();
  int64_t tokens = 0;  // 2 x prompt + chosen + rejected over all pairs: the concatenated layout's count
};
inline RandomPairs random_pairs(int64_t n, int64_t prompt_len, int64_t completion_min, int64_t completion_max, int64_t vocab,
                                uint64_t seed, bool bos_first = false) {
  prefer::data::SplitMix64 rng(seed);
  auto ids = [&](int64_t len) {
    std::vector<int32_t> v(static_cast<size_t>(len));
    for (auto& t : v) t = static_cast<int32_t>(3 + rng.below(static_cast<uint64_t>(vocab - 3)));
    return v;
  };
  auto length = [&] { return completion_min + int64_t(rng.below(uint64_t(completion_max - completion_min + 1))); };
  RandomPairs r;
  for (int64_t i = 0; i < n; ++i) {
    prefer::data::TokenizedExample ex;
    ex.line = i + 1;
    ex.paired = true;
    ex.prompt_ids = ids(prompt_len);
    if (bos_first && !ex.prompt_ids.empty()) ex.prompt_ids[0] = 1;
    ex.chosen.completion_ids = ids(length());
    ex.rejected.completion_ids = ids(length());
    r.tokens += 2 * prompt_len + int64_t(ex.chosen.completion_ids.size() + ex.rejected.completion_ids.size());
    r.json.push_back({{"prompt_ids", ex.prompt_ids}, {"chosen_ids", ex.chosen.completion_ids}, {"rejected_ids", ex.rejected.completion_ids}});
    r.data.add(ex);
  }
  return r;
}
