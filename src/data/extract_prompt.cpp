#include "data/extract_prompt.h"

#include <algorithm>

#include "text/unicode.h"

namespace prefer::data {

void extract_prompt(Example& ex) {
  if (ex.prompt.present()) return;
  if (ex.chosen.kind == Content::Kind::Text && ex.rejected.kind == Content::Kind::Text) {
    std::vector<std::string> c = text::split_code_points(ex.chosen.text), r = text::split_code_points(ex.rejected.text);
    size_t n = std::min(c.size(), r.size());
    size_t idx = n > 0 ? n - 1 : 0;  // TRL: the loop variable's last value when no difference is found
    for (size_t i = 0; i < n; ++i) {
      if (c[i] != r[i]) {
        idx = i;
        // TRL moves a space before the split into the completions; at i = 0 it would index [-1], which
        // we do not imitate.
        if (i > 0 && c[i - 1] == " ") idx = i - 1;
        break;
      }
    }
    std::string prompt, chosen, rejected;
    for (size_t i = 0; i < c.size(); ++i) (i < idx ? prompt : chosen) += c[i];
    for (size_t i = idx; i < r.size(); ++i) rejected += r[i];
    ex.prompt = Content::of_text(std::move(prompt));
    ex.chosen.text = std::move(chosen);
    ex.rejected.text = std::move(rejected);
    return;
  }
  if (ex.chosen.kind == Content::Kind::Messages && ex.rejected.kind == Content::Kind::Messages) {
    const OrderedJson &c = ex.chosen.messages, &r = ex.rejected.messages;
    size_t n = std::min(c.size(), r.size());
    size_t idx = n > 0 ? n - 1 : 0;
    for (size_t i = 0; i < n; ++i)
      if (c[i] != r[i]) {
        idx = i;
        break;
      }
    OrderedJson prompt = OrderedJson::array(), chosen = OrderedJson::array(), rejected = OrderedJson::array();
    for (size_t i = 0; i < c.size(); ++i) (i < idx ? prompt : chosen).push_back(c[i]);
    for (size_t i = idx; i < r.size(); ++i) rejected.push_back(r[i]);
    ex.prompt = Content::of_messages(std::move(prompt));
    ex.chosen.messages = std::move(chosen);
    ex.rejected.messages = std::move(rejected);
  }
}

}  // namespace prefer::data
