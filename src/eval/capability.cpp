#include "eval/capability.h"

#include <cmath>

#include "train/dataset_scores.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::eval {

namespace fs = std::filesystem;

namespace {

data::PrepareOptions plain_scoring() {
  data::PrepareOptions p;
  p.tokenize.max_length = 0;
  p.tokenize.eos_token = "";  // score the text as written: no EOS appended
  return p;
}

}  // namespace

std::vector<McQuestion> read_mc_questions(const fs::path& file) {
  std::vector<McQuestion> out;
  JsonlReader reader(file);
  JsonlReader::Record r;
  while (reader.next(r)) {
    auto ctx = [&](const std::string& field) { return ErrorContext{.file = file.string(), .line = r.line, .field = field}; };
    const Json& v = r.value;
    if (!v.is_object()) throw Error("expected an object with question, choices and answer", ctx(""));
    McQuestion q;
    q.line = r.line;
    if (!v.contains("question") || !v["question"].is_string()) throw Error("needs the question as text", ctx("question"));
    q.question = v["question"].get<std::string>();
    if (!v.contains("choices") || !v["choices"].is_array() || v["choices"].size() < 2)
      throw Error("needs a list of at least two choices", ctx("choices"));
    for (const auto& c : v["choices"]) {
      if (!c.is_string()) throw Error("every choice must be text", ctx("choices"));
      q.choices.push_back(c.get<std::string>());
    }
    if (!v.contains("answer")) throw Error("needs the answer (an index into choices, or a letter)", ctx("answer"));
    const Json& a = v["answer"];
    if (a.is_number_integer()) {
      q.answer = a.get<int64_t>();
    } else if (a.is_string() && a.get<std::string>().size() == 1 && std::isalpha(static_cast<unsigned char>(a.get<std::string>()[0]))) {
      q.answer = std::toupper(static_cast<unsigned char>(a.get<std::string>()[0])) - 'A';
    } else {
      throw Error("must be an index into choices or a letter (A, B, ...), got " + a.dump(), ctx("answer"));
    }
    if (q.answer < 0 || q.answer >= static_cast<int64_t>(q.choices.size()))
      throw Error("points past the " + std::to_string(q.choices.size()) + " choices: " + a.dump(), ctx("answer"));
    out.push_back(std::move(q));
  }
  if (out.empty()) throw Error("holds no questions", {.file = file.string()});
  return out;
}

std::string mc_prompt(const McQuestion& q) { return q.question + "\nAnswer:"; }

McResult mc_accuracy(const model::CausalLM& m, const data::TextModel& text, const std::vector<McQuestion>& questions, bool normalize,
                     const ScoringOptions& o) {
  std::string jsonl;
  for (const auto& q : questions)
    for (const auto& c : q.choices) jsonl += OrderedJson{{"prompt", mc_prompt(q)}, {"completion", " " + c}}.dump() + "\n";
  fs::create_directories(o.work_dir);
  const fs::path file = o.work_dir / "mc_choices.jsonl";
  write_file_atomic(file, jsonl);
  data::PreparedData pd = data::prepare_data(file, text, plain_scoring());
  fs::remove(file);
  train::DatasetLogps lp = train::dataset_logps(m, pd.data, o.batch_size, o.chunk_tokens, "capability");
  McResult r;
  size_t k = 0;
  int64_t right = 0;
  for (const auto& q : questions) {
    std::vector<double> s;
    for (size_t c = 0; c < q.choices.size(); ++c, ++k)
      s.push_back(normalize ? lp.sum[k] / static_cast<double>(std::max<int64_t>(1, lp.count[k])) : lp.sum[k]);
    const int64_t best = static_cast<int64_t>(std::max_element(s.begin(), s.end()) - s.begin());
    right += best == q.answer;
    r.picked.push_back(best);
    r.choice_scores.push_back(std::move(s));
  }
  r.accuracy = static_cast<double>(right) / static_cast<double>(questions.size());
  return r;
}

double perplexity(const model::CausalLM& m, const data::TextModel& text, const fs::path& file, const ScoringOptions& o) {
  data::PreparedData pd = data::prepare_data(file, text, plain_scoring());
  train::DatasetLogps lp = train::dataset_logps(m, pd.data, o.batch_size, o.chunk_tokens, "perplexity");
  double nll = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < pd.data.size(); ++i) {
    nll -= lp.sum[i];
    tokens += lp.count[i];
  }
  if (tokens == 0) throw Error("has no tokens to score", {.file = file.string(), .field = "perplexity_data"});
  return std::exp(nll / static_cast<double>(tokens));
}

}  // namespace prefer::eval
