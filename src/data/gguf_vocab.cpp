#include "data/gguf_vocab.h"

#include <map>

#include "text/tokenizer.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::data {
namespace fs = std::filesystem;

namespace {

enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// tokenizer.json's split regexes of the byte-level tokenizers llama.cpp knows by name.
const std::map<std::string, std::string>& known_splits() {
  static const std::map<std::string, std::string> m = {
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", "llama-bpe"},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", "qwen2"},
      {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", "gpt-2"},
  };
  return m;
}

bool byte_level_with_regex(const Json& p) { return p.is_object() && p.value("type", "") == "ByteLevel" && p.value("use_regex", true); }

// The llama.cpp pre-tokenizer name for tokenizer.json's pre_tokenizer; "" when none matches.
std::string pre_name(const Json& pre) {
  if (byte_level_with_regex(pre)) return "gpt-2";
  if (!pre.is_object() || pre.value("type", "") != "Sequence" || !pre.contains("pretokenizers")) return "";
  const Json& seq = pre["pretokenizers"];
  if (seq.size() == 2 && seq[0].value("type", "") == "Digits" && seq[0].value("individual_digits", false) && byte_level_with_regex(seq[1]))
    return "smollm";
  for (const Json& p : seq)
    if (p.value("type", "") == "Split" && p.contains("pattern") && p["pattern"].contains("Regex")) {
      auto it = known_splits().find(p["pattern"]["Regex"].get<std::string>());
      return it == known_splits().end() ? "" : it->second;
    }
  return "";
}

std::vector<std::string> merges_of(const Json& model, const std::string& file) {
  std::vector<std::string> out;
  if (!model.contains("merges")) return out;
  for (const Json& m : model["merges"]) {
    if (m.is_string()) out.push_back(m.get<std::string>());
    else if (m.is_array() && m.size() == 2) out.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else throw Error("a merge is neither \"a b\" nor [\"a\", \"b\"]", {.file = file, .field = "model.merges"});
  }
  return out;
}

bool is_byte_token(const std::string& t) { return t.size() == 6 && t.rfind("<0x", 0) == 0 && t.back() == '>'; }

}  // namespace

GgufVocab gguf_vocab(const fs::path& dir, int64_t vocab_size) {
  const fs::path file = dir / "tokenizer.json";
  const Json j = read_json_file(file);
  const text::Tokenizer tok = text::Tokenizer::from_folder(dir);
  const Json& model = j.at("model");
  const std::string type = model.value("type", "");
  if (type != "BPE")
    throw Error("llama.cpp's GGUF vocabularies are written for BPE tokenizers; this one is " + type, {.file = file.string(), .field = "model.type"});
  const bool spm = model.value("byte_fallback", false);
  GgufVocab v;
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (int64_t id = 0; id < vocab_size; ++id) {
    const auto i = static_cast<int32_t>(id);
    if (id >= tok.vocab_size()) {
      tokens.push_back("[PAD" + std::to_string(id) + "]");
      types.push_back(kUnused);
      continue;
    }
    std::string t = tok.id_to_token(i);
    if (t.empty()) t = "[PAD" + std::to_string(id) + "]";  // a hole in the id space
    const bool added = tok.added().find_id(i) != nullptr;
    types.push_back(tok.is_special(i) ? kControl : added ? kUserDefined : spm && is_byte_token(t) ? kByte : kNormal);
    tokens.push_back(std::move(t));
  }
  const std::vector<std::string> merges = merges_of(model, file.string());
  auto& md = v.metadata;
  md.emplace_back("tokenizer.ggml.model", std::string(spm ? "llama" : "gpt2"));
  if (spm) {
    v.pre = "default";
  } else {
    v.pre = pre_name(j.value("pre_tokenizer", Json()));
    if (v.pre.empty()) {
      v.pre = "default";
      v.warnings.push_back("llama.cpp does not know this tokenizer's pre-tokenizer by name; it is written as \"default\", so "
                           "llama.cpp splits text before BPE by its default rules and may tokenize some text differently "
                           "(token ids given directly are unaffected): docs/export.md");
    }
  }
  md.emplace_back("tokenizer.ggml.pre", v.pre);
  md.emplace_back("tokenizer.ggml.tokens", io::GgufArray{tokens});
  if (spm) {
    // llama.cpp's SentencePiece tokenizer merges the adjacent pair whose concatenation scores highest:
    // minus the merge rank reproduces BPE's order.
    std::map<std::string, float> score;
    for (size_t r = 0; r < merges.size(); ++r) {
      const size_t sp = merges[r].find(' ');
      score.emplace(merges[r].substr(0, sp) + merges[r].substr(sp + 1), -static_cast<float>(r));
    }
    std::vector<float> scores;
    for (const std::string& t : tokens) scores.push_back(score.count(t) ? score[t] : 0.0f);
    md.emplace_back("tokenizer.ggml.scores", io::GgufArray{scores});
  }
  md.emplace_back("tokenizer.ggml.token_type", io::GgufArray{types});
  if (!spm) md.emplace_back("tokenizer.ggml.merges", io::GgufArray{merges});
  auto id = [&](const char* key, std::optional<int32_t> i) {
    if (i) md.emplace_back(key, static_cast<uint32_t>(*i));
  };
  id("tokenizer.ggml.bos_token_id", tok.bos_id());
  id("tokenizer.ggml.eos_token_id", tok.eos_id());
  id("tokenizer.ggml.padding_token_id", tok.pad_id());
  if (tok.config().unk_token) id("tokenizer.ggml.unknown_token_id", tok.token_to_id(*tok.config().unk_token));
  // What the post-processor adds around one token, as llama.cpp adds it at tokenization.
  const std::vector<int32_t> plain = tok.encode("a", false), with = tok.encode("a", true);
  const bool bos = tok.bos_id() && with.size() > plain.size() && with.front() == *tok.bos_id();
  const bool eos = tok.eos_id() && with.size() > plain.size() && with.back() == *tok.eos_id();
  md.emplace_back("tokenizer.ggml.add_bos_token", bos);
  md.emplace_back("tokenizer.ggml.add_eos_token", eos);
  const auto& templates = tok.config().chat_templates;
  if (auto it = templates.find("default"); it != templates.end()) md.emplace_back("tokenizer.chat_template", it->second);
  else if (!templates.empty()) md.emplace_back("tokenizer.chat_template", templates.begin()->second);
  return v;
}

}  // namespace prefer::data
