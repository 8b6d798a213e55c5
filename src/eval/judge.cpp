#include "eval/judge.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "util/error.h"

namespace prefer::eval {

const char* const kPairwiseSystemPrompt =
    "You compare two AI assistants' answers to the same user question and decide which answer serves the user "
    "better. Weigh correctness first, then helpfulness, relevance, honesty about uncertainty, and clarity. The "
    "order in which the answers appear says nothing about their quality, and a longer answer is not better for "
    "being longer. Explain your comparison in a few sentences, then give your verdict on the last line in exactly "
    "this form: [[A]] if assistant A's answer is better, [[B]] if assistant B's answer is better, [[C]] if they are "
    "equally good.";

const char* const kPairwiseUserTemplate =
    "[User Question]\n{question}\n\n"
    "[Assistant A's Answer]\n{answer_a}\n[End of Assistant A's Answer]\n\n"
    "[Assistant B's Answer]\n{answer_b}\n[End of Assistant B's Answer]";

const char* const kSingleSystemPrompt =
    "You grade one AI assistant's answer to a user question. Weigh correctness first, then helpfulness, relevance, "
    "honesty about uncertainty, and clarity; length is not a merit in itself. Explain your grade in a few sentences, "
    "then give it on the last line as a number from 1 (useless) to 10 (excellent) in exactly this form: Rating: [[5]]";

const char* const kSingleUserTemplate = "[User Question]\n{question}\n\n[Assistant's Answer]\n{answer}\n[End of Assistant's Answer]";

void Judge::grade(const std::vector<JudgeItem>&, const std::function<void(size_t, double)>&) {
  throw Error("this judge cannot grade single answers: --judge_mode single needs an http: or cmd: judge", {.field = "judge_mode"});
}

double parse_bracketed_score(const std::string& reply) {
  double last = std::numeric_limits<double>::quiet_NaN();
  for (size_t open = reply.find("[["); open != std::string::npos; open = reply.find("[[", open + 2)) {
    const size_t close = reply.find("]]", open + 2);
    if (close == std::string::npos) break;
    const std::string inner = reply.substr(open + 2, close - open - 2);
    char* stop = nullptr;
    const double v = std::strtod(inner.c_str(), &stop);
    if (!inner.empty() && stop == inner.c_str() + inner.size() && v >= 1 && v <= 10) last = v;
  }
  return last;
}

Verdict parse_bracketed_verdict(const std::string& reply) {
  size_t best = std::string::npos;
  Verdict v = Verdict::Error;
  for (auto [tag, verdict] : {std::pair{"[[A]]", Verdict::A}, std::pair{"[[B]]", Verdict::B}, std::pair{"[[C]]", Verdict::Tie}}) {
    size_t at = reply.rfind(tag);
    if (at != std::string::npos && (best == std::string::npos || at > best)) {
      best = at;
      v = verdict;
    }
  }
  return v;
}

std::string fill_template(const std::string& templ, const JudgeItem& item) {
  std::string out;
  size_t pos = 0;
  while (pos < templ.size()) {
    size_t at = templ.find('{', pos);
    if (at == std::string::npos) break;
    out.append(templ, pos, at - pos);
    const std::string_view rest = std::string_view(templ).substr(at);
    if (rest.rfind("{question}", 0) == 0) out += item.question, pos = at + 10;
    else if (rest.rfind("{answer_a}", 0) == 0) out += item.answer_a, pos = at + 10;
    else if (rest.rfind("{answer_b}", 0) == 0) out += item.answer_b, pos = at + 10;
    else if (rest.rfind("{answer}", 0) == 0) out += item.answer_a, pos = at + 8;
    else out += '{', pos = at + 1;
  }
  out.append(templ, std::min(pos, templ.size()), std::string::npos);
  return out;
}

}  // namespace prefer::eval
