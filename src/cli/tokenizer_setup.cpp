#include "cli/tokenizer_setup.h"

#include <fmt/format.h>

#include "cli/train_options.h"
#include "io/hf_config.h"
#include "text/vocab_extension.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/strings.h"

namespace prefer::cli {
namespace fs = std::filesystem;

TokenizerSetup setup_tokenizer(const Json& o, model::ModelSource& source, bool use_peft, const fs::path& output_dir, std::ostream& out) {
  const std::optional<std::string> from = opt<std::string>(o, "chat_template_path");
  int64_t grow = 0;
  if (from && fs::is_directory(*from)) {
    // TRL's clone_chat_template: the donor's special tokens come with its template.
    data::TextModel donor = data::TextModel::load(*from);
    const fs::path dir = output_dir / "tokenizer";
    text::VocabExtension x = text::extend_tokenizer_folder(source.tokenizer, dir, text::special_tokens_of(*from),
                                                           donor.tokenizer.config().eos_token.value_or(""));
    if (!x.added.empty()) {
      if (use_peft)
        throw Error("adds special tokens (" + join(x.added, ", ") + "), and a LoRA adapter cannot carry the grown embeddings",
                    {.field = "chat_template_path", .hint = "fine-tune fully for this run, or use a template whose tokens the model has"});
      const int64_t vocab = io::read_model_config(source.base / "config.json").vocab_size;
      if (x.size > vocab) grow = (x.size + 63) / 64 * 64;  // transformers' pad_to_multiple_of 64
      out << fmt::format("added {} special token(s) from {}: {} (ids {}..{}){}\n", x.added.size(), *from, join(x.added, " "), x.first_id,
                         x.size - 1, grow ? fmt::format("; embeddings grow to {} rows", grow) : "");
    }
    source.tokenizer = dir;
  }
  TokenizerSetup s{data::TextModel::load(source.tokenizer), grow, false};
  if (from) s.text.use_template(*from);
  s.pad_missing = !s.text.tokenizer.pad_id().has_value();
  return s;
}

data::BatchOptions run_batch_options(const Json& o, const data::TextModel& text) {
  data::BatchOptions b;
  b.pad_id = text.tokenizer.pad_id().value_or(text.tokenizer.eos_id().value_or(0));
  if (auto m = opt<int64_t>(o, "pad_to_multiple_of")) b.pad_to_multiple_of = *m;
  b.tokens_multiple_of = 64;  // avoids oneDNN's slow bf16 GEMM row counts (data/batch.h)
  if (auto p = opt<bool>(o, "padding_free")) b.padding_free = *p;  // commands that declare it
  return b;
}

void add_padding_free_option(OptionSet& s) {
  s.add("padding_free", OptType::Bool, true,
        "Rows without padding: a batch's rows placed one after another, up to 4096 tokens a row (each sees only "
        "itself; the same numbers, no GEMM work on padding). false: one padded row per pair (prefix_shared) or "
        "sequence (concatenated)");
}

void add_pair_batch_options(OptionSet& s) {
  s.add("batch_layout", OptType::String, "prefix_shared", "prefix_shared (each prompt once) or concatenated (TRL's rows)");
  add_padding_free_option(s);
}

data::BatchLayout pair_batch_layout(const Json& o) {
  const std::string layout = get<std::string>(o, "batch_layout");
  if (layout != "concatenated" && layout != "prefix_shared")
    throw Error("must be concatenated or prefix_shared, not '" + layout + "'", {.field = "batch_layout"});
  return layout == "prefix_shared" ? data::BatchLayout::PrefixShared : data::BatchLayout::Concatenated;
}

data::BatchOptions pair_batch_options(const Json& o, const data::TextModel& text) {
  data::BatchOptions b = run_batch_options(o, text);
  b.layout = pair_batch_layout(o);
  return b;
}

void save_tokenizer_choices(train::TrainingTask& task, const TokenizerSetup& setup) {
  auto save_model = task.save_final;
  const std::string template_text = setup.text.template_override;
  const bool pad_missing = setup.pad_missing;
  const std::string eos = setup.text.tokenizer.config().eos_token.value_or("");
  task.save_final = [save_model, template_text, pad_missing, eos](const fs::path& dir) {
    save_model(dir);
    if (!template_text.empty()) write_file_atomic(dir / "chat_template.jinja", template_text);
    if (pad_missing && fs::exists(dir / "tokenizer_config.json")) {
      Json cfg = read_json_file(dir / "tokenizer_config.json");
      cfg["pad_token"] = eos;
      write_json_file(dir / "tokenizer_config.json", cfg);
    }
  };
}

}  // namespace prefer::cli
