// Where `prefer data synth` gets its answers: a local model (batched sampling with the KV cache) or any
// OpenAI-compatible endpoint (`http:URL --model_name NAME`, the judges' URL form, OPENAI_API_KEY, with
// their retries, time limits and concurrency). A request is a prompt, an optional system prompt (the
// contrast recipe's good or bad one), a temperature, a token budget and a seed; answers come back in
// request order. The same requests give the same answers: a local batch is seeded from its first
// request's seed, and an endpoint gets each request's seed (prefer serve honours it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/quantization_options.h"
#include "util/json.h"

namespace prefer::cli {

struct AnswerRequest {
  OrderedJson prompt;      // text, or a list of chat messages
  std::string system;      // empty: none; else replaces the prompt's own system message
  double temperature = 0;  // 0: greedy
  double top_p = 1.0;
  int64_t max_new_tokens = 256;
  uint64_t seed = 0;
};

class AnswerGenerator {
 public:
  virtual ~AnswerGenerator() = default;
  // What the output's meta records as the generator: "<model folder name>" or "http:<model name>" (no
  // paths, so a file made elsewhere with the same model is byte-identical).
  virtual std::string name() const = 0;
  // Whether prompts go through a chat template (then the output is conversational: text prompts become
  // one user message, answers assistant messages).
  virtual bool chat() const = 0;
  virtual std::vector<std::string> generate(const std::vector<AnswerRequest>& requests) = 0;
};

struct GeneratorOptions {
  std::string model;       // a model folder, or http:URL (plain http: OPENAI_BASE_URL)
  std::string model_name;  // the endpoint's model name (http only)
  int64_t batch_size = 8;  // local: rows per generate() call
  bool bf16 = false;
  model::QuantizationConfig quant;
  int concurrency = 4, retries = 3;  // http
  double timeout_s = 300;            // http, per call
};

std::unique_ptr<AnswerGenerator> make_generator(const GeneratorOptions& o);

// The messages a chat generator answers: `system` (when not empty) first, in place of the prompt's own
// system message, then the prompt's messages (a text prompt: one user message).
OrderedJson request_messages(const OrderedJson& prompt, const std::string& system);

}  // namespace prefer::cli
