#include "text/tokenizer.h"

#include <algorithm>

#include "text/regex.h"
#include "text/unicode.h"
#include "util/file.h"
#include "util/utf8.h"

namespace prefer::text {
namespace fs = std::filesystem;

Tokenizer Tokenizer::from_files(const fs::path& tokenizer_json, const fs::path& tokenizer_config_json) {
  TokenizerConfig config;
  if (!tokenizer_config_json.empty()) config = read_tokenizer_config(tokenizer_config_json);
  return from_json(read_json_file(tokenizer_json), config, tokenizer_json.string());
}

Tokenizer Tokenizer::from_folder(const fs::path& dir) {
  if (!fs::exists(dir / "tokenizer.json"))
    throw Error("no tokenizer.json in the model folder", {.file = dir.string(), .field = "tokenizer.json",
                .hint = "prefer reads fast tokenizers; save one with AutoTokenizer.from_pretrained(...).save_pretrained(dir)"});
  fs::path config = dir / "tokenizer_config.json";
  return from_files(dir / "tokenizer.json", fs::exists(config) ? config : fs::path());
}

Tokenizer Tokenizer::from_json(const Json& j, const TokenizerConfig& config, const std::string& file) {
  Tokenizer t;
  t.file_ = file;
  t.config_ = config;
  ComponentContext root{file, ""};
  if (!j.is_object()) throw Error("expected a JSON object", {.file = file});
  const Json& model = require_field(j, "model", {.file = file});
  std::string type = model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "BPE";
  if (type != "BPE")
    throw Error("unsupported tokenizer model '" + type + "'", {.file = file, .field = "model.type",
                .hint = "prefer supports BPE tokenizers (byte-level like GPT-2/Llama 3/Qwen, or with byte_fallback like Llama 2/Mistral/Gemma)"});
  t.model_ = std::make_unique<BpeModel>(BpeModel::from_json(model, {file, "model"}));
  t.end_of_word_suffix_ = opt_string(model, "end_of_word_suffix", {.file = file, .field = "model"}).value_or("");

  auto get = [&](const char* key) -> const Json& {
    static const Json null_json;
    return j.contains(key) ? j[key] : null_json;
  };
  t.normalizer_ = make_normalizer(get("normalizer"), {file, "normalizer"});
  t.pre_tokenizer_ = make_pre_tokenizer(get("pre_tokenizer"), {file, "pre_tokenizer"});
  t.added_->load(get("added_tokens"), {file, "added_tokens"});
  for (const auto& a : t.added_->tokens()) {
    t.model_->add_token(a.content, a.id);
    if (a.special) t.special_tokens_.push_back(a.content);
  }
  for (const auto& s : config.additional_special_tokens)
    if (std::find(t.special_tokens_.begin(), t.special_tokens_.end(), s) == t.special_tokens_.end()) t.special_tokens_.push_back(s);
  t.added_->build_splitters(t.normalizer_.get());
  const BpeModel* m = t.model_.get();
  t.post_processor_ = make_post_processor(get("post_processor"), {file, "post_processor"},
                                          [m](const std::string& s) { return m->token_to_id(s); });
  const AddedVocabulary* added = t.added_.get();
  t.decoder_ = make_decoder(get("decoder"), {file, "decoder"},
                            [added](const std::string& s) { return added->find(s) != nullptr; });
  return t;
}

void Tokenizer::encode_section(const std::string& text, size_t section_index, std::vector<int32_t>& out) const {
  std::string normalized = normalizer_ ? normalizer_->normalize(text) : text;
  if (normalized.empty()) return;
  auto subs = added_->normalized_splitter().split(normalized);
  apply_strip_flags(subs, *added_);
  PreTokenizeOptions opt{section_index};
  for (const auto& sub : subs) {
    if (sub.text.empty()) continue;
    if (const AddedToken* a = added_->find(sub.text)) {
      out.push_back(a->id);
      continue;
    }
    std::vector<std::string> pieces{sub.text};
    if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces, opt);
    size_t first = out.size();
    for (const auto& p : pieces) model_->encode_word(p, out);
    if (model_->fuse_unk() && model_->unk_id()) {  // consecutive unknowns become one, within the piece list
      int32_t unk = *model_->unk_id();
      auto new_end = std::unique(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                                 [unk](int32_t a, int32_t b) { return a == unk && b == unk; });
      out.erase(new_end, out.end());
    }
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  check_utf8(text, {});
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  auto sections = added_->raw_splitter().split(text);
  apply_strip_flags(sections, *added_);
  for (size_t i = 0; i < sections.size(); ++i) {
    const auto& s = sections[i];
    if (s.text.empty()) continue;
    if (const AddedToken* a = added_->find(s.text)) {
      ids.push_back(a->id);
      continue;
    }
    encode_section(s.text, i, ids);
  }
  if (post_processor_) ids = post_processor_->process(std::move(ids), add_special_tokens);
  return ids;
}

std::vector<std::string> Tokenizer::tokens(const std::vector<int32_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int32_t id : ids) out.push_back(id_to_token(id));
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int32_t id : ids) {
    std::string t = model_->id_to_token(id);
    if (t.empty() && !model_->unk_token().empty()) t = model_->unk_token();
    if (skip_special_tokens && std::find(special_tokens_.begin(), special_tokens_.end(), t) != special_tokens_.end()) continue;
    toks.push_back(std::move(t));
  }
  std::string text;
  if (decoder_) {
    text = decoder_->decode(std::move(toks));
  } else {
    for (size_t i = 0; i < toks.size(); ++i) text += (i ? " " : "") + toks[i];
  }
  if (decoder_ && !end_of_word_suffix_.empty()) {
    text = Pattern::literal(end_of_word_suffix_).replace_all(text, " ");
    if (skip_special_tokens) text = std::string(trim_end_js(trim_start_js(text)));
  }
  if (config_.clean_up_tokenization_spaces) text = clean_up_tokenization(std::move(text));
  return text;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* a = added_->find(token)) return a->id;
  return model_->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const { return model_->id_to_token(id); }

int32_t Tokenizer::vocab_size() const { return model_->vocab_size(); }

bool Tokenizer::is_special(int32_t id) const {
  const std::string& t = model_->id_to_token(id);
  return std::find(special_tokens_.begin(), special_tokens_.end(), t) != special_tokens_.end();
}

std::optional<int32_t> Tokenizer::special_id(const std::optional<std::string>& token) const {
  if (!token) return std::nullopt;
  return token_to_id(*token);
}
std::optional<int32_t> Tokenizer::bos_id() const { return special_id(config_.bos_token); }
std::optional<int32_t> Tokenizer::eos_id() const { return special_id(config_.eos_token); }
std::optional<int32_t> Tokenizer::pad_id() const { return special_id(config_.pad_token); }

std::string clean_up_tokenization(std::string text) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : rules) text = Pattern::literal(from).replace_all(text, to);
  return text;
}

}  // namespace prefer::text
