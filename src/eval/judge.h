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
};

// "[[A]]", "[[B]]" or "[[C]]" in a judge's reply (the last one wins, as a judge may quote the format
// first); Verdict::Error when none is there.
Verdict parse_bracketed_verdict(const std::string& reply);

// The default pairwise prompt: a rubric as the system message, the question and both answers as the
// user message, and the [[A]]/[[B]]/[[C]] format.
extern const char* const kPairwiseSystemPrompt;
extern const char* const kPairwiseUserTemplate;  // placeholders {question}, {answer_a}, {answer_b}

// `templ` with its placeholders replaced (each once, left to right, so an answer quoting a placeholder
// is not expanded).
std::string fill_template(const std::string& templ, const JudgeItem& item);

}  // namespace prefer::eval
