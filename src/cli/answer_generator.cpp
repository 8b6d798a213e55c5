#include "cli/answer_generator.h"

#include <cstdlib>

#include "cli/prompt_file.h"
#include "data/pipeline.h"
#include "eval/chat_client.h"
#include "model/causal_lm.h"
#include "model/generation.h"
#include "model/loader.h"
#include "model/model_source.h"
#include "util/error.h"

namespace prefer::cli {

namespace fs = std::filesystem;

OrderedJson request_messages(const OrderedJson& prompt, const std::string& system) {
  OrderedJson messages = OrderedJson::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  if (prompt.is_string()) {
    messages.push_back({{"role", "user"}, {"content", prompt}});
    return messages;
  }
  for (const auto& m : prompt)
    if (system.empty() || !m.is_object() || m.value("role", "") != "system") messages.push_back(m);
  return messages;
}

namespace {

class LocalGenerator : public AnswerGenerator {
 public:
  explicit LocalGenerator(const GeneratorOptions& o) : batch_size_(o.batch_size) {
    model::ModelSource src = model::resolve_model_source(o.model, std::nullopt, "model");
    std::string given = o.model;
    while (given.size() > 1 && given.back() == '/') given.pop_back();
    name_ = fs::absolute(given).lexically_normal().filename().string();
    text_ = std::make_unique<data::TextModel>(data::TextModel::load(src.tokenizer));
    model_ = std::make_unique<model::CausalLM>(
        model::load_model_source(src, {.dtype = o.bf16 ? at::kBFloat16 : at::kFloat, .quantization = o.quant}));
    model_->set_training(false);
  }

  std::string name() const override { return name_; }
  bool chat() const override { return text_->templ() != nullptr; }

  std::vector<std::string> generate(const std::vector<AnswerRequest>& requests) override {
    std::vector<std::string> out;
    out.reserve(requests.size());
    model::GenerationOptions base = generation_options(*model_, *text_);
    for (size_t start = 0; start < requests.size();) {
      // A batch: consecutive requests with the same sampling options, seeded by the first one's seed.
      const AnswerRequest& first = requests[start];
      size_t end = start;
      std::vector<std::vector<int64_t>> batch;
      while (end < requests.size() && static_cast<int64_t>(batch.size()) < batch_size_ &&
             requests[end].temperature == first.temperature && requests[end].top_p == first.top_p &&
             requests[end].max_new_tokens == first.max_new_tokens)
        batch.push_back(tokens(requests[end++]));
      model::GenerationOptions go = base;
      go.do_sample = first.temperature > 0;
      go.temperature = first.temperature > 0 ? first.temperature : 1.0;
      go.top_p = first.top_p;
      go.top_k = 0;
      go.max_new_tokens = first.max_new_tokens;
      go.seed = first.seed;
      for (auto& r : model::generate(*model_, batch, go)) {
        std::vector<int32_t> ids(r.ids.begin(), r.ids.end());
        out.push_back(text_->tokenizer.decode(ids, true));
      }
      start = end;
    }
    return out;
  }

 private:
  std::vector<int64_t> tokens(const AnswerRequest& r) const {
    std::vector<int32_t> ids;
    if (text_->templ()) {
      text::ChatRenderOptions ro;
      ro.add_generation_prompt = true;
      ro.bos_token = text_->tokenizer.config().bos_token;
      ro.eos_token = text_->tokenizer.config().eos_token;
      ids = text_->tokenizer.encode(text_->templ()->render(request_messages(r.prompt, r.system), ro), false);
    } else {
      if (!r.prompt.is_string())
        throw Error("chat prompts need a chat template, and the generator model has none", {.field = "model",
                    .hint = "use text prompts, or a model whose tokenizer_config.json has a chat_template"});
      // No template: the system prompt is plain text before the prompt.
      ids = text_->tokenizer.encode((r.system.empty() ? "" : r.system + "\n\n") + r.prompt.get<std::string>(), true);
    }
    return {ids.begin(), ids.end()};
  }

  int64_t batch_size_;
  std::string name_;
  std::unique_ptr<data::TextModel> text_;
  std::unique_ptr<model::CausalLM> model_;
};

class HttpGenerator : public AnswerGenerator {
 public:
  explicit HttpGenerator(const GeneratorOptions& o) : client_(options(o)) {}

  std::string name() const override { return "http:" + client_.options().model; }
  bool chat() const override { return true; }

  std::vector<std::string> generate(const std::vector<AnswerRequest>& requests) override {
    std::vector<std::string> out(requests.size());
    client_.for_each_concurrently(requests.size(), [&](size_t i) {
      const AnswerRequest& r = requests[i];
      OrderedJson params{{"temperature", r.temperature}, {"top_p", r.top_p}, {"max_tokens", r.max_new_tokens}, {"seed", r.seed}};
      auto reply = client_.ask(request_messages(r.prompt, r.system), params, [](const std::string&) { return true; });
      if (!reply) throw Error("answered without choices[0].message.content", {.field = "model " + client_.url()});
      return [&out, i, text = std::move(*reply)] { out[i] = text; };
    });
    return out;
  }

 private:
  static eval::ChatClientOptions options(const GeneratorOptions& o) {
    std::string url = o.model == "http" ? (std::getenv("OPENAI_BASE_URL") ? std::getenv("OPENAI_BASE_URL") : "") : o.model.substr(5);
    if (url.empty()) throw Error("plain 'http' takes the URL from OPENAI_BASE_URL, which is not set", {.field = "model"});
    if (o.model_name.empty())
      throw Error("an HTTP generator needs --model_name (the model name the endpoint serves)", {.field = "model_name"});
    const char* key = std::getenv("OPENAI_API_KEY");
    return {.base_url = url, .model = o.model_name, .api_key = key ? key : "", .concurrency = o.concurrency,
            .retries = o.retries, .timeout_s = o.timeout_s, .field = "model"};
  }
  eval::ChatClient client_;
};

}  // namespace

std::unique_ptr<AnswerGenerator> make_generator(const GeneratorOptions& o) {
  if (o.model == "http" || o.model.rfind("http:", 0) == 0) return std::make_unique<HttpGenerator>(o);
  return std::make_unique<LocalGenerator>(o);
}

}  // namespace prefer::cli
