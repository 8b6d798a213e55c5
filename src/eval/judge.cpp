#include "eval/judge.h"

#include <algorithm>

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
    else out += '{', pos = at + 1;
  }
  out.append(templ, std::min(pos, templ.size()), std::string::npos);
  return out;
}

}  // namespace prefer::eval
