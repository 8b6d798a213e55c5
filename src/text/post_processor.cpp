#include "text/post_processor.h"

namespace prefer::text {

namespace {

// "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}]. Each special token expands to
// the ids listed for it in "special_tokens" (usually one), else to the id of its string.
class TemplateProcessing : public PostProcessor {
 public:
  struct Item {
    bool is_sequence;
    std::vector<int32_t> ids;
  };
  explicit TemplateProcessing(std::vector<Item> items) : items_(std::move(items)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids, bool add_special_tokens) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const Item& it : items_) {
      if (it.is_sequence) out.insert(out.end(), ids.begin(), ids.end());
      else if (add_special_tokens) out.insert(out.end(), it.ids.begin(), it.ids.end());
    }
    return out;
  }

 private:
  std::vector<Item> items_;
};

class Identity : public PostProcessor {
 public:
  std::vector<int32_t> process(std::vector<int32_t> ids, bool) const override { return ids; }
};

class PostProcessorSequence : public PostProcessor {
 public:
  explicit PostProcessorSequence(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  std::vector<int32_t> process(std::vector<int32_t> ids, bool add) const override {
    for (const auto& p : parts_) ids = p->process(std::move(ids), add);
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

std::unique_ptr<PostProcessor> make_template(const Json& j, const ComponentContext& ctx, const TokenLookup& lookup) {
  const Json& single = require_field(j, "single", ctx.at());
  if (!single.is_array()) throw Error("expected a list", ctx.at("single"));
  std::vector<TemplateProcessing::Item> items;
  bool has_a = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const Json& e = single[i];
    ComponentContext c = ctx.child(".single[" + std::to_string(i) + "]");
    if (e.contains("Sequence")) {
      std::string id = require_string(e["Sequence"], "id", c.at("Sequence"));
      if (id != "A") throw Error("a single-sequence template can only hold sequence A, found '" + id + "'", c.at("Sequence.id"));
      items.push_back({true, {}});
      has_a = true;
    } else if (e.contains("SpecialToken")) {
      std::string name = require_string(e["SpecialToken"], "id", c.at("SpecialToken"));
      std::vector<int32_t> ids;
      const Json* specials = j.contains("special_tokens") ? &j["special_tokens"] : nullptr;
      if (specials && specials->contains(name) && (*specials)[name].contains("ids")) {
        for (const Json& x : (*specials)[name]["ids"]) ids.push_back(static_cast<int32_t>(json_to_int(x, c.at("SpecialToken"))));
      } else if (auto id = lookup(name)) {
        ids.push_back(*id);
      } else {
        throw Error("special token '" + name + "' is not in the vocabulary", c.at("SpecialToken.id"));
      }
      items.push_back({false, std::move(ids)});
    } else {
      throw Error("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}", c.at());
    }
  }
  if (!has_a) throw Error("template never places the sequence (no {\"Sequence\": {\"id\": \"A\"}})", ctx.at("single"));
  return std::make_unique<TemplateProcessing>(std::move(items));
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const ComponentContext& ctx, const TokenLookup& lookup) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, ctx);
  if (type == "TemplateProcessing") return make_template(j, ctx, lookup);
  if (type == "ByteLevel") return std::make_unique<Identity>();
  if (type == "Sequence") {
    const Json& list = require_field(j, "processors", ctx.at());
    if (!list.is_array()) throw Error("expected a list", ctx.at("processors"));
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t i = 0; i < list.size(); ++i)
      if (auto p = make_post_processor(list[i], ctx.child(".processors[" + std::to_string(i) + "]"), lookup))
        parts.push_back(std::move(p));
    return std::make_unique<PostProcessorSequence>(std::move(parts));
  }
  throw_unsupported("post-processor", type, {"TemplateProcessing", "ByteLevel", "Sequence"}, ctx);
}

}  // namespace prefer::text
