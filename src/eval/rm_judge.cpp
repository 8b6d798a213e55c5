#include "eval/rm_judge.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "model/model_source.h"
#include "train/dataset_scores.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/hash.h"

namespace prefer::eval {

namespace fs = std::filesystem;

RmJudge::RmJudge(RmJudgeOptions options) : opt_(std::move(options)) {
  model::ModelSource src = model::resolve_model_source(opt_.model, std::nullopt, "judge");
  hash_ = model::model_source_hash(src);
  text_ = std::make_unique<data::TextModel>(data::TextModel::load(src.tokenizer));
  model_ = std::make_unique<model::CausalLM>(model::load_model_source(src, {.dtype = opt_.bf16 ? at::kBFloat16 : at::kFloat}));
  if (model_->config().head != io::HeadKind::SequenceClassification)
    throw Error("is a causal LM, not a reward model (no score head)", {.file = src.base.string(), .field = "judge",
                .hint = "pass rm:DIR with a prefer reward run folder, or use --judge http:URL"});
  model_->set_training(false);
}

std::string RmJudge::identity() const { return Json{"rm", hex64(hash_), opt_.tie_margin}.dump(); }

train::DatasetRewards RmJudge::rewards(const std::vector<JudgeItem>& items, bool paired,
                                      const std::function<bool(const JudgeItem&)>& skip) {
  // Rows in prefer's data format, so the reward model sees what prefer score would give it. A data file
  // is all chat or all plain text: the two kinds of prompt go through separate files.
  train::DatasetRewards out{std::vector<double>(items.size()), std::vector<double>(items.size())};
  for (const bool chat : {false, true}) {
    std::vector<size_t> which;
    std::string jsonl;
    for (size_t i = 0; i < items.size(); ++i) {
      const JudgeItem& it = items[i];
      if (it.prompt.is_array() != chat || skip(it)) continue;
      which.push_back(i);
      auto side = [&](const std::string& answer) {
        return chat ? OrderedJson::array({{{"role", "assistant"}, {"content", answer}}}) : OrderedJson(answer);
      };
      OrderedJson row{{"prompt", chat ? it.prompt : OrderedJson(it.question)}};
      if (paired) {
        row["chosen"] = side(it.answer_a);
        row["rejected"] = side(it.answer_b);
      } else {
        row["completion"] = side(it.answer_a);
      }
      jsonl += row.dump() + "\n";
    }
    if (which.empty()) continue;
    fs::create_directories(opt_.work_dir);
    const fs::path file = opt_.work_dir / "rm_judge_rows.jsonl";
    write_file_atomic(file, jsonl);
    data::PrepareOptions prep;
    prep.tokenize.max_length = 0;
    data::PreparedData pd = data::prepare_data(file, *text_, prep);
    fs::remove(file);
    if (pd.data.size() != which.size()) throw Error("the reward model's tokenizer dropped answers it could not tokenize", {.field = "judge"});
    const int64_t pad = text_->tokenizer.pad_id().value_or(text_->tokenizer.eos_id().value_or(0));
    train::DatasetRewards r = train::dataset_rewards(*model_, pd.data, opt_.batch_size, pad, "judge");
    for (size_t k = 0; k < which.size(); ++k) {
      out.first[which[k]] = r.first[k];
      if (paired) out.second[which[k]] = r.second[k];
    }
  }
  return out;
}

std::pair<std::vector<double>, std::vector<double>> RmJudge::scores(const std::vector<JudgeItem>& items) {
  // The same answer scores the same: a tie, not computed.
  train::DatasetRewards r = rewards(items, true, [](const JudgeItem& it) { return it.answer_a == it.answer_b; });
  return {r.first, r.second};
}

std::vector<double> RmJudge::answer_scores(const std::vector<JudgeItem>& items) {
  return rewards(items, false, [](const JudgeItem&) { return false; }).first;
}

void RmJudge::judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) {
  if (items.empty()) return;
  auto [a, b] = scores(items);
  for (size_t i = 0; i < items.size(); ++i) {
    const double diff = a[i] - b[i];
    on_verdict(i, std::abs(diff) <= opt_.tie_margin ? Verdict::Tie : diff > 0 ? Verdict::A : Verdict::B);
  }
}

}  // namespace prefer::eval
