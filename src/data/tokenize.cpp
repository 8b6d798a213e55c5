#include "data/tokenize.h"

#include <algorithm>

#include "data/extract_prompt.h"
#include "util/error.h"

namespace prefer::data {

ExampleTokenizer::ExampleTokenizer(const text::Tokenizer& tokenizer, const text::ChatTemplate* chat_template,
                                   TokenizeOptions options)
    : tok_(tokenizer), template_(chat_template), opt_(std::move(options)), bos_id_(tokenizer.bos_id()) {}

std::string ExampleTokenizer::render(const OrderedJson& messages, bool add_generation_prompt) const {
  if (template_ == nullptr)
    throw Error("conversational data needs a chat template, and the model has none",
                {.hint = "add chat_template to tokenizer_config.json, or use plain prompt/completion text"});
  text::ChatRenderOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.bos_token = tok_.config().bos_token;
  o.eos_token = tok_.config().eos_token;
  if (opt_.chat_template_kwargs.contains("tools")) o.tools = opt_.chat_template_kwargs["tools"];
  o.extra_context = OrderedJson::object();
  for (auto it = opt_.chat_template_kwargs.begin(); it != opt_.chat_template_kwargs.end(); ++it)
    if (it.key() != "tools") o.extra_context[it.key()] = it.value();
  return template_->render(messages, o);
}

std::string ExampleTokenizer::render_prompt(const Content& prompt) const {
  switch (prompt.kind) {
    case Content::Kind::Text: return prompt.text;
    case Content::Kind::Messages: return render(prompt.messages, true);
    default: return {};
  }
}

void ExampleTokenizer::drop_double_bos(std::vector<int32_t>& ids, TokenizeStats& stats) const {
  // Text that already starts with the BOS token, tokenized with special tokens, gets a second BOS.
  if (bos_id_ && ids.size() >= 2 && ids[0] == *bos_id_ && ids[1] == *bos_id_) {
    ids.erase(ids.begin());
    ++stats.double_bos_removed;
  }
}

std::vector<int32_t> ExampleTokenizer::encode_prompt(const Content& prompt, bool conversational, TokenizeStats& stats) const {
  std::vector<int32_t> ids;
  if (prompt.kind == Content::Kind::Ids) return prompt.ids;
  if (conversational && prompt.kind == Content::Kind::Absent) return ids;  // a whole conversation (SFT messages)
  if (conversational) {
    ids = tok_.encode(render(prompt.messages, true), false);
  } else {
    ids = tok_.encode(prompt.text, true);
    drop_double_bos(ids, stats);
  }
  return ids;
}

TokenizedSide ExampleTokenizer::encode_completion(const Content& prompt, const std::vector<int32_t>& prompt_ids,
                                                  const Content& completion, bool conversational, TokenizeStats& stats,
                                                  int64_t line, bool& mismatch) const {
  TokenizedSide side;
  if (completion.kind == Content::Kind::Ids) {
    side.completion_ids = completion.ids;
    return side;
  }
  std::vector<int32_t> full;
  if (conversational) {
    OrderedJson all = prompt.kind == Content::Kind::Messages ? prompt.messages : OrderedJson::array();
    for (const auto& m : completion.messages) all.push_back(m);
    full = tok_.encode(render(all, false), false);
  } else {
    std::string text = completion.text;
    const auto& eos = opt_.eos_token ? opt_.eos_token : tok_.config().eos_token;
    if (eos && !eos->empty() && (text.size() < eos->size() || text.compare(text.size() - eos->size(), eos->size(), *eos) != 0))
      text += *eos;
    full = tok_.encode(prompt.text + text, true);
    drop_double_bos(full, stats);
  }
  if (full.size() < prompt_ids.size() || !std::equal(prompt_ids.begin(), prompt_ids.end(), full.begin())) {
    if (!mismatch) {
      mismatch = true;
      if (stats.prefix_mismatches++ == 0) stats.first_mismatch_line = line;
    }
  }
  if (full.size() > prompt_ids.size()) side.completion_ids.assign(full.begin() + static_cast<std::ptrdiff_t>(prompt_ids.size()), full.end());
  return side;
}

std::optional<TokenizedExample> ExampleTokenizer::tokenize(const Example& input, TokenizeStats& stats, const std::string& file) const {
  Example ex = input;
  extract_prompt(ex);
  const bool conversational = ex.completion.kind == Content::Kind::Messages || ex.chosen.kind == Content::Kind::Messages;
  TokenizedExample out;
  out.line = ex.line;
  out.label = ex.label;
  out.margin = ex.margin;
  ++stats.examples;
  bool mismatch = false;
  try {
    out.prompt_ids = encode_prompt(ex.prompt, conversational, stats);
    if (ex.chosen.present()) {
      out.paired = true;
      out.chosen = encode_completion(ex.prompt, out.prompt_ids, ex.chosen, conversational, stats, ex.line, mismatch);
      out.rejected = encode_completion(ex.prompt, out.prompt_ids, ex.rejected, conversational, stats, ex.line, mismatch);
    } else {
      out.chosen = encode_completion(ex.prompt, out.prompt_ids, ex.completion, conversational, stats, ex.line, mismatch);
    }
  } catch (const Error& e) {
    throw e.with_defaults({.file = file, .line = ex.line});
  }

  // max_prompt_length: keep the prompt's end (the part next to the completion).
  if (opt_.max_prompt_length && static_cast<int64_t>(out.prompt_ids.size()) > *opt_.max_prompt_length) {
    out.prompt_ids.erase(out.prompt_ids.begin(), out.prompt_ids.end() - *opt_.max_prompt_length);
  }
  if (opt_.max_length > 0) {
    const int64_t p = static_cast<int64_t>(out.prompt_ids.size());
    if (opt_.truncation_mode == TruncationMode::KeepStart && p >= opt_.max_length) {
      ++stats.dropped;
      stats.dropped_lines.push_back(ex.line);
      return std::nullopt;
    }
    bool cut = false;
    for (TokenizedSide* s : {&out.chosen, &out.rejected}) {
      const int64_t c = static_cast<int64_t>(s->completion_ids.size());
      if (p + c <= opt_.max_length) continue;
      if (opt_.truncation_mode == TruncationMode::KeepStart) {
        s->completion_ids.resize(static_cast<size_t>(opt_.max_length - p));
        s->truncated = true;
      } else {
        int64_t excess = p + c - opt_.max_length;
        int64_t from_prompt = std::min(excess, p);
        s->prompt_start = static_cast<int32_t>(from_prompt);
        if (excess > p) {  // the completion alone is too long: its start goes too
          s->completion_ids.erase(s->completion_ids.begin(), s->completion_ids.begin() + (excess - p));
          s->truncated = true;
        }
      }
      cut = true;
    }
    if (cut) ++stats.truncated;
  }
  return out;
}

std::vector<TokenizedExample> ExampleTokenizer::tokenize_assistant_turns(const Example& ex, TokenizeStats& stats,
                                                                        const std::string& file) const {
  if (ex.completion.kind != Content::Kind::Messages || ex.prompt.present())
    throw Error("assistant_only_loss needs whole conversations (a messages column)", {.file = file, .line = ex.line,
                .field = "assistant_only_loss", .hint = "prompt/completion data already trains on the completion only"});
  const OrderedJson& msgs = ex.completion.messages;
  std::vector<TokenizedExample> out;
  std::string whole;
  try {
    whole = render(msgs, false);
  } catch (const Error& e) {
    throw e.with_defaults({.file = file, .line = ex.line});
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (!msgs[i].is_object() || msgs[i].value("role", std::string()) != "assistant") continue;
    Example turn;
    turn.line = ex.line;
    OrderedJson before = OrderedJson::array(), upto;
    for (size_t k = 0; k < i; ++k) before.push_back(msgs[k]);
    if (!before.empty()) turn.prompt = Content::of_messages(before);
    turn.completion = Content::of_messages(OrderedJson::array({msgs[i]}));
    upto = before;
    upto.push_back(msgs[i]);
    const std::string p = before.empty() ? std::string() : render(before, true), f = render(upto, false);
    if (f.compare(0, p.size(), p) != 0 || whole.compare(0, f.size(), f) != 0)
      throw Error("the chat template renders the conversation up to assistant turn " + std::to_string(i) +
                      " differently from the same turns inside the whole conversation, so the assistant's tokens cannot be "
                      "located (templates that drop earlier turns' reasoning do this)",
                  {.file = file, .line = ex.line, .field = "assistant_only_loss",
                   .hint = "train on prompt/completion pairs (one per assistant turn), or without assistant_only_loss"});
    if (auto t = tokenize(turn, stats, file)) out.push_back(std::move(*t));
  }
  return out;
}

}  // namespace prefer::data
