// `prefer kto`: Kahneman-Tversky Optimization with TRL KTOTrainer's names and semantics, for feedback
// that is a thumbs up or down on single responses: unpaired data (prompt, completion, label), or
// preference pairs unpaired on the fly. The reference is DPO's (adapters off, a frozen copy, --ref_model,
// or precomputed tables, the KL rows' included).
#include <fmt/format.h>

#include "cli/command.h"
#include "cli/judged_eval.h"
#include "cli/policy.h"
#include "cli/run_reference.h"
#include "cli/tokenizer_setup.h"
#include "cli/quantization_options.h"
#include "cli/train_options.h"
#include "cli/train_run.h"
#include "data/unpaired.h"
#include "train/kto_recipe.h"
#include "train/memory_estimate.h"
#include "train/preference_checks.h"
#include "train/preflight.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

OptionSet kto_option_set() {
  OptionSet s;
  using T = OptType;
  add_model_data_options(s, {.model_help = "Policy model folder, run folder or adapter (start from an SFT model)",
                             .data_help = "Training data: prompt/completion/label (unpaired) or prompt/chosen/rejected (unpaired on the fly); "
                                          "text or messages, JSONL or JSON; several files: a,b",
                             .columns = {"prompt", "completion", "label", "chosen", "rejected"}, .max_length = 1024,
                             .max_prompt_length = true});
  s.add("ref_model", T::String, nullptr, "Reference model folder or adapter (default: the starting policy)");
  s.add("beta", T::Float, 0.1, "KL temperature: how far the policy may move from the reference");
  s.add("loss_type", T::String, "kto", "kto, or apo_zero_unpaired (no KL reference point)");
  s.add("desirable_weight", T::Float, 1.0, "Weight of the desirable examples' losses (λ_D)");
  s.add("undesirable_weight", T::Float, 1.0, "Weight of the undesirable examples' losses (λ_U)");
  s.add("precompute_ref_log_probs", T::Bool, true,
        "One reference pass before training (completions and KL rows), cached on disk; the step never runs the reference");
  s.add("precompute_ref_dtype", T::String, "auto",
        "Dtype of the precompute pass: auto (the policy's), float32 or bfloat16 (for a float32 policy: its reference log-probs from a bf16 copy of the starting weights, faster where bf16 GEMMs are, within bf16 rounding of the float32 ones; the copy, 2 bytes a weight, lives only during the pass)");
  add_padding_free_option(s);
  add_training_options(s, {.learning_rate = 1e-6, .num_train_epochs = 3.0, .per_device_train_batch_size = 8, .batch_unit = "examples"});
  add_lora_options(s);
  add_judged_eval_options(s);
  return s;
}

RunSummary run_kto(const Json& o, std::ostream& out) {
  // ---- validate everything before any work ----
  require(o, "model", "the model folder to align");
  require(o, "data", "the unpaired (or preference) data");
  require(o, "output_dir", "where the run is written");
  objectives::KtoConfig kto{.beta = get<double>(o, "beta"), .loss_type = objectives::parse_kto_loss_type(get<std::string>(o, "loss_type")),
                            .desirable_weight = get<double>(o, "desirable_weight"),
                            .undesirable_weight = get<double>(o, "undesirable_weight")};
  kto.validate();
  train::TrainerArgs targs = trainer_args(o, "prefer kto");
  if (kto.needs_kl() && targs.per_device_train_batch_size < 2)
    throw Error("is 1, but KTO's KL reference point compares each prompt with another example's completion in the same batch, "
                "and a batch of one example has no other",
                {.field = "per_device_train_batch_size", .hint = "use 2 or more (TRL's docs advise 4 or more), or loss_type apo_zero_unpaired"});
  const model::ModelSource source = model::resolve_model_source(get<std::string>(o, "model"), opt<std::string>(o, "adapter"));
  PolicyOptions pol = policy_options(o, source);  // read and checked before the data work
  RunReference::check_options(o);
  data::PrepareOptions prep = prepare_options(o, data::DatasetKind::Unpaired);
  prep.read.expect.reset();  // pairs are welcome too: unpaired below, as TRL does
  const fs::path cache_dir = prep.cache_dir.value_or(data::default_cache_dir());
  open_run_folder(o, targs);

  // ---- data: unpaired examples (pairs split into a desirable and an undesirable one) ----
  data::TextModel text = data::TextModel::load(source.tokenizer);
  RunData data = prepare_run_data(o, text, prep, targs.seed);
  for (const auto& w : data.warnings) out << "warning: " << w << "\n";
  if (data.kind == data::DatasetKind::Sft)
    throw Error("KTO needs unpaired examples (prompt, completion, label) or preference pairs (prompt, chosen, rejected); this data "
                "has neither",
                {.file = data_files(o).front().string(), .field = "data"});
  if (data.kind == data::DatasetKind::Preference) {
    out << fmt::format("unpaired {} preference pairs into {} examples (chosen: desirable, rejected: undesirable)\n", data.train.size(),
                       2 * data.train.size());
    data.train = data::unpair(data.train);
    data.eval = data::unpair(data.eval);
  }
  int64_t desirable = 0, undesirable = 0;
  double undesirable_tokens = 0;
  for (const auto& r : data.train.rows()) {
    (r.label == 1 ? desirable : undesirable) += 1;
    if (r.label == 0) undesirable_tokens += static_cast<double>(r.chosen_len);
  }

  // ---- models: the policy, and the reference as DPO has it ----
  Policy policy(pol);
  train::KtoRecipeOptions ro{.kto = kto, .batch = run_batch_options(o, text), .chunk_tokens = get<int64_t>(o, "chunk_tokens"),
                             .max_length = prep.tokenize.max_length};
  RunReference reference(o, source, policy, ro.chunk_tokens);
  train::KtoRecipe recipe(policy.model(), reference.get(), ro);
  // Fixed micro-batches (each one's KL rows rotate its completions), then the reference tables.
  recipe.prepare(data.train, targs.per_device_train_batch_size, targs.seed, "per_device_train_batch_size");
  if (data.eval.size() > 0) recipe.prepare(data.eval, targs.per_device_eval_batch_size, targs.seed, "per_device_eval_batch_size");
  if (reference.precompute()) {
    std::vector<const data::TokenizedDataset*> sets = {&data.train};
    if (data.eval.size() > 0) sets.push_back(&data.eval);
    if (kto.needs_kl()) {
      sets.push_back(&recipe.blocks(data.train).kl);
      if (data.eval.size() > 0) sets.push_back(&recipe.blocks(data.eval).kl);
    }
    reference.tabulate(sets, ro.batch, cache_dir, targs.per_device_eval_batch_size, "examples", out);
  }

  train::TrainingTask task;
  recipe.install(task);
  policy.install(task);
  task.extra_eval = make_judged_eval(o, policy.model(), text, targs.output_dir, out);
  task.fingerprint = run_fingerprint(o, source, data.hash);
  train::Trainer trainer(targs, task, data.train, data.eval.size() > 0 ? &data.eval : nullptr);

  // ---- pre-flight (with TRL's class-balance check) and the monitor ----
  int64_t longest = 0;
  for (size_t i = 0; i < data.train.size(); ++i) longest = std::max(longest, data.train.max_row_length(i));
  train::MemoryInputs mi = policy.memory_inputs(targs.per_device_train_batch_size * longest, ro.chunk_tokens);
  mi.reference_copy = reference.keeps_copy();
  train::MemoryEstimate mem = train::estimate_memory(mi);
  train::PreflightInputs pi{.method = "KTO", .beta = kto.beta, .num_pairs = static_cast<int64_t>(data.train.size()), .unit = "examples",
                            .learning_rate = targs.learning_rate, .max_length = prep.tokenize.max_length,
                            .max_prompt_length = prep.tokenize.max_prompt_length.value_or(0), .has_chat_template = text.templ() != nullptr,
                            .estimated_peak_bytes = mem.total(), .available_bytes = train::physical_memory_bytes(),
                            .memory_breakdown = mem.describe()};
  std::vector<train::TrainingWarning> pre = train::preflight_checks(pi);
  if (auto w = train::kto_class_balance(desirable, undesirable, kto.desirable_weight, kto.undesirable_weight)) pre.push_back(*w);
  trainer.set_preflight(pre);
  train::MonitorOptions mon;
  mon.method = "KTO";
  mon.chosen_term_hint = "raise desirable_weight (or lower undesirable_weight)";
  mon.mean_rejected_length = undesirable ? undesirable_tokens / static_cast<double>(undesirable) : 0;
  trainer.set_monitor(mon);
  ModelCard card{.method = "KTO", .command = "prefer kto", .source = source, .adapter = pol.use_peft, .data_hash = data.hash,
                 .settings = {"beta", "loss_type", "desirable_weight", "undesirable_weight", "learning_rate", "num_train_epochs", "max_steps",
                              "per_device_train_batch_size", "gradient_accumulation_steps", "max_length", "bf16", "use_peft", "lora_r",
                              "lora_alpha", "precompute_ref_log_probs", "precompute_ref_dtype", "seed"}};
  trainer.set_model_card([card, &o](const train::TrainResult& r) { return model_card_text(card, o, r); });
  trainer.set_status_metrics({"rewards/margins", "kl"});
  record_memory_estimate(targs, mem, out);
  out << fmt::format("kto: {} examples ({} desirable, {} undesirable; {} eval), {} steps of {} examples x {} accumulation, {} on {}\n",
                     data.train.size(), desirable, undesirable, data.eval.size(), trainer.total_steps(), targs.per_device_train_batch_size,
                     targs.gradient_accumulation_steps, pol.use_peft ? fmt::format("LoRA r={}", pol.lora.r) : std::string("full fine-tuning"),
                     source.describe());
  return run_training(trainer, "aligned", out);
}

}  // namespace

void add_kto_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "kto", "Align a model on thumbs-up/down feedback on single responses with KTO (TRL's KTOTrainer)",
                       kto_option_set(), run_kto);
}

}  // namespace prefer::cli
