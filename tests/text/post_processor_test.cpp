#include "text/post_processor.h"

#include "test_util.h"

namespace prefer::text {

static std::optional<int32_t> lookup(const std::string& s) {
  if (s == "<s>") return 1;
  if (s == "</s>") return 2;
  return std::nullopt;
}

TEST(PostProcessor, TemplateAddsSpecialTokensOnlyWhenAsked) {
  auto p = make_post_processor(Json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
      "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}})"),
                               {"t.json", "post_processor"}, lookup);
  EXPECT_EQ(p->process({7, 8}, true), (std::vector<int32_t>{1, 7, 8, 2}));
  EXPECT_EQ(p->process({7, 8}, false), (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(p->process({}, true), (std::vector<int32_t>{1, 2}));
}

TEST(PostProcessor, ByteLevelAndSequence) {
  auto p = make_post_processor(Json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel", "add_prefix_space": true},
      {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}]})"),
                               {"t.json", "post_processor"}, lookup);
  EXPECT_EQ(p->process({5}, true), (std::vector<int32_t>{1, 5}));
  EXPECT_EQ(make_post_processor(Json(nullptr), {"t.json", "post_processor"}, lookup), nullptr);
}

TEST(PostProcessor, Errors) {
  EXPECT_ERROR_WITH(make_post_processor(Json::parse(R"({"type": "BertProcessing"})"), {"t.json", "post_processor"}, lookup),
                    "unsupported post-processor 'BertProcessing'");
  EXPECT_ERROR_WITH(make_post_processor(Json::parse(R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>"}}, {"Sequence": {"id": "A"}}]})"),
                                        {"t.json", "post_processor"}, lookup),
                    "special token '<x>' is not in the vocabulary");
  EXPECT_ERROR_WITH(make_post_processor(Json::parse(R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}]})"),
                                        {"t.json", "post_processor"}, lookup),
                    "never places the sequence");
}

}  // namespace prefer::text
