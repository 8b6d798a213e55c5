// A pairwise judge: given a question and two answers, which is better. Three kinds (rm: a reward model,
// http: any OpenAI-compatible endpoint, cmd: a user's program speaking the external-program protocol),
// one interface, so the win-rate loop, the cache and the position swap are written once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/win_rate.h"
#include "util/json.h"

namespace prefer::eval {

struct JudgeItem {
  OrderedJson prompt;     // as in the prompts file: text, or a list of chat messages
  std::string question;   // the prompt as text for a judge that reads text
  std::string answer_a, answer_b;
};

class Judge {
 public:
  virtual ~Judge() = default;
  // What decides this judge's verdicts besides the texts (endpoint, model, template, sampling): part of
  // every cache key.
  virtual std::string identity() const = 0;
  // Judges `items`, reporting each verdict as it is known (from any thread, one call at a time per item;
  // Verdict::Error when no verdict could be parsed). Throws when the judge itself fails (unreachable,
  // crashed); verdicts reported before stay reported.
  virtual void judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) = 0;
  // MT-Bench's single-answer grading: a score from 1 to 10 for `answer_a` alone (answer_b unused), NaN
  // when none could be parsed. Judges that cannot grade throw (the default).
  virtual void grade(const std::vector<JudgeItem>& items, const std::function<void(size_t, double)>& on_score);
  virtual bool can_grade() const { return false; }
};

// "[[7]]" or "[[7.5]]" in a judge's reply (the last one), within [1, 10]; NaN when there is none.
double parse_bracketed_score(const std::string& reply);

// The default single-answer prompt: a rubric as the system message and the question and answer as the
// user message (placeholders {question}, {answer}), asking for "Rating: [[N]]".
extern const char* const kSingleSystemPrompt;
extern const char* const kSingleUserTemplate;

// "[[A]]", "[[B]]" or "[[C]]" in a judge's reply (the last one wins, as a judge may quote the format
// first); Verdict::Error when none is there.
Verdict parse_bracketed_verdict(const std::string& reply);

// The default pairwise prompt: a rubric as the system message, the question and both answers as the
// user message, and the [[A]]/[[B]]/[[C]] format.
extern const char* const kPairwiseSystemPrompt;
extern const char* const kPairwiseUserTemplate;  // placeholders {question}, {answer_a}, {answer_b}

// `templ` with its placeholders replaced ({question}, {answer_a}, {answer_b}; {answer} is answer_a, for
// single grading), each once, left to right, so an answer quoting a placeholder is not expanded.
std::string fill_template(const std::string& templ, const JudgeItem& item);

}  // namespace prefer::eval
