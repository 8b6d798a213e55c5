#include "cli/rl_run.h"

#include <fmt/format.h>

#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "util/error.h"
#include "util/hash.h"

namespace prefer::cli {
namespace fs = std::filesystem;

void add_rl_options(OptionSet& s, bool several) {
  using T = OptType;
  s.add("model", T::String, nullptr, "Policy to train (an SFT model folder, run folder or adapter)");
  s.add("adapter", T::String, nullptr, "A PEFT LoRA adapter applied on top of --model (merged into it at load)");
  s.add("data", T::StringList, nullptr, "Prompts: JSONL lines with prompt (text or messages), messages, prompt_ids or input_ids");
  s.add("output_dir", T::String, nullptr, "Run folder (config.yaml, metrics.jsonl, completions.jsonl, checkpoint-N/, final/)");
  if (several) {
    s.add("reward_model", T::StringList, nullptr, "Reward models (prefer reward run folders; several: a,b), summed with reward_weights");
    s.add("reward_weights", T::FloatList, nullptr,
          "One weight per reward function: the reward models in order, then the command (default 1 each)");
  } else {
    s.add("reward_model", T::String, nullptr, "Reward model: a prefer reward run folder (a classifier, or a SEQ_CLS adapter on the policy's base)");
  }
  s.add("reward_command", T::String, nullptr,
        "A reward program reading JSONL (prompt, completion, prompt_ids, completion_ids, the row's other columns), one number per line");
  s.add("command_timeout", T::Float, 600.0, "Seconds a reward command may take for one batch");
  s.add("second_reward_model", T::String, nullptr,
        "A reward model that only scores the same completions (objective/second_scores): a warning when the trained-on score rises while it falls");
  s.add("local_rollout_forward_batch_size", T::Int, 64, "Rows per generation / scoring forward");
  s.add("share_base", T::Bool, true, "With use_peft: the roles' adapters on one copy of the base (false: separate copies, for comparison)");
}

RlPrompts read_rl_prompts(const Json& o, const data::TextModel& text, const io::ModelConfig& cfg, int64_t completion_length,
                          const std::string& length_option) {
  RlPrompts p;
  std::string bytes;
  for (const fs::path& f : data_files(o)) {
    std::vector<PromptRow> rows = read_prompt_file(f, text);
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t n = static_cast<int64_t>(rows[i].ids.size());
      if (cfg.max_position_embeddings > 0 && n + completion_length > cfg.max_position_embeddings)
        throw Error(fmt::format("prompt {} has {} tokens; with {} {} that is past the model's context of {} tokens", i + 1, n, length_option,
                                completion_length, cfg.max_position_embeddings),
                    {.file = f.string(), .field = "prompt", .hint = "shorten the prompt or lower " + length_option});
      for (int64_t id : rows[i].ids) bytes.append(reinterpret_cast<const char*>(&id), sizeof id);
      bytes.push_back('\n');
      p.ids.push_back(rows[i].ids);
      p.texts.push_back(prompt_question(rows[i].row));
      p.rows.push_back(std::move(rows[i]));
    }
  }
  p.hash = hash_bytes(bytes);
  return p;
}

RlModelOptions rl_model_options(const Json& o, const model::ModelSource& source, const data::TextModel& text, const io::ModelConfig& cfg,
                                int64_t completion_length, int64_t forward_batch_size) {
  RlModelOptions mo;
  mo.policy = policy_options(o, source);
  std::vector<std::string> rms;
  if (o.contains("reward_model") && o.at("reward_model").is_array()) rms = o.at("reward_model").get<std::vector<std::string>>();
  else if (auto one = opt<std::string>(o, "reward_model")) rms.push_back(*one);
  for (size_t i = 0; i < rms.size(); ++i) {
    model::ModelSource s = model::resolve_model_source(rms[i], std::nullopt, "reward_model");
    if (i == 0) mo.reward_source = s;
    else mo.more_reward_sources.push_back(s);
  }
  mo.reward_command = opt<std::string>(o, "reward_command").value_or("");
  if (o.contains("reward_weights") && !o.at("reward_weights").is_null()) mo.reward_weights = o.at("reward_weights").get<std::vector<double>>();
  if (auto s2 = opt<std::string>(o, "second_reward_model"))
    mo.second_reward_source = model::resolve_model_source(*s2, std::nullopt, "second_reward_model");
  mo.command_timeout = get<double>(o, "command_timeout");
  mo.share_base = get<bool>(o, "share_base");
  model::GenerationOptions go = generation_options(model::CausalLM(cfg, {.allocate = false}), text);
  mo.rollout = {.response_length = completion_length, .temperature = get<double>(o, "temperature"), .eos_token_ids = go.eos_token_ids,
                .pad_token_id = go.pad_token_id, .forward_batch_size = forward_batch_size};
  if (!(mo.rollout.temperature > 0)) throw Error("must be > 0", {.field = "temperature"});
  if (forward_batch_size < 1) throw Error("must be >= 1", {.field = "local_rollout_forward_batch_size"});
  return mo;
}

Json rl_fingerprint(const Json& o, const model::ModelSource& source, const RlPrompts& prompts, const RlModelOptions& mo) {
  Json f = run_fingerprint(o, source, prompts.hash);
  if (mo.reward_source) {
    Json hashes = Json::array({hex64(model::model_source_hash(*mo.reward_source))});
    for (const auto& s : mo.more_reward_sources) hashes.push_back(hex64(model::model_source_hash(s)));
    f["reward_model"] = hashes;
  }
  if (mo.second_reward_source) f["second_reward_model"] = hex64(model::model_source_hash(*mo.second_reward_source));
  return f;
}

RunSummary run_online(train::OnlineTrainer& trainer, const RlModels& models, const std::string& start_line, const std::string& method,
                      std::ostream& out) {
  out << "roles: " << models.describe() << "\n" << models.memory_report() << "\n" << start_line << "\n";
  train::TrainResult r = trainer.train();
  out << fmt::format("done: {} steps in {:.1f} s; the {} policy is in {}\n", r.steps, r.seconds, method, r.final_dir.string());
  write_final_report(r, out);
  return summarize_run(r);
}

}  // namespace prefer::cli
