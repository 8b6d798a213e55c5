#include "text/vocab_extension.h"

#include <algorithm>
#include <set>

#include "util/error.h"
#include "util/json.h"

namespace prefer::text {
namespace fs = std::filesystem;

std::vector<std::string> special_tokens_of(const fs::path& from) {
  const fs::path file = from / "tokenizer.json";
  if (!fs::exists(file)) throw Error("no tokenizer.json to take special tokens from", {.file = from.string(), .field = "chat_template_path"});
  Json t = read_json_file(file);
  std::vector<std::string> out;
  if (t.contains("added_tokens") && t["added_tokens"].is_array())
    for (const Json& a : t["added_tokens"])
      if (a.value("special", false) && a.contains("content")) out.push_back(a["content"].get<std::string>());
  return out;
}

VocabExtension extend_tokenizer_folder(const fs::path& src, const fs::path& dst, const std::vector<std::string>& tokens,
                                       const std::string& eos_token) {
  const fs::path tj = src / "tokenizer.json", tc = src / "tokenizer_config.json";
  Json t = read_json_file(tj);
  const ErrorContext ctx{.file = tj.string()};
  std::set<std::string> present;
  int64_t largest = -1;
  if (t.contains("model") && t["model"].contains("vocab") && t["model"]["vocab"].is_object())
    for (auto it = t["model"]["vocab"].begin(); it != t["model"]["vocab"].end(); ++it) {
      present.insert(it.key());
      largest = std::max<int64_t>(largest, it.value().get<int64_t>());
    }
  Json& added = t["added_tokens"];
  if (added.is_null()) added = Json::array();
  for (const Json& a : added) {
    present.insert(require_string(a, "content", ctx));
    largest = std::max<int64_t>(largest, require_int(a, "id", ctx));
  }
  VocabExtension x;
  x.first_id = largest + 1;
  Json cfg = fs::exists(tc) ? read_json_file(tc) : Json::object();
  for (const std::string& tok : tokens) {
    if (present.count(tok)) continue;
    const int64_t id = largest + 1 + static_cast<int64_t>(x.added.size());
    Json entry = {{"id", id}, {"content", tok}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                  {"normalized", false}, {"special", true}};
    added.push_back(entry);
    entry.erase("id");
    cfg["added_tokens_decoder"][std::to_string(id)] = entry;
    present.insert(tok);
    x.added.push_back(tok);
  }
  x.size = x.first_id + static_cast<int64_t>(x.added.size());
  if (!eos_token.empty()) cfg["eos_token"] = eos_token;
  fs::create_directories(dst);
  for (const char* name : {"special_tokens_map.json", "chat_template.jinja", "tokenizer.model", "vocab.json", "merges.txt"})
    if (fs::exists(src / name)) fs::copy_file(src / name, dst / name, fs::copy_options::overwrite_existing);
  write_json_file(dst / "tokenizer.json", t);
  write_json_file(dst / "tokenizer_config.json", cfg);
  return x;
}

}  // namespace prefer::text
