// One training example as read from the user's file, before tokenization.
//
// Every text field can be plain text, a conversation (list of {role, content, ...} messages, rendered
// later with the model's chat template) or pre-tokenized ids (used as given). Which fields are set
// depends on the dataset kind:
//   preference  prompt? chosen rejected          (no prompt: the shared prefix is the prompt)
//   unpaired    prompt completion label           (KTO)
//   sft         text | messages | prompt completion   (+ margin for reward models)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace prefer::data {

using OrderedJson = nlohmann::ordered_json;  // messages keep their key order for the chat template


struct Content {
  enum class Kind { Absent, Text, Messages, Ids };
  Kind kind = Kind::Absent;
  std::string text;
  OrderedJson messages;       // an array of message objects
  std::vector<int32_t> ids;

  bool present() const { return kind != Kind::Absent; }
  static Content of_text(std::string t) { return {Kind::Text, std::move(t), {}, {}}; }
  static Content of_messages(OrderedJson m) { return {Kind::Messages, {}, std::move(m), {}}; }
  static Content of_ids(std::vector<int32_t> i) { return {Kind::Ids, {}, {}, std::move(i)}; }
};

enum class DatasetKind { Preference, Unpaired, Sft };
std::string_view dataset_kind_name(DatasetKind k);

struct Example {
  int64_t line = 0;  // 1-based line in a JSONL file, or 1-based record number in a JSON array
  Content prompt, chosen, rejected, completion;
  std::optional<bool> label;    // unpaired: true = desirable
  std::optional<double> margin;  // reward modelling: the margin of chosen over rejected
};

// Roles a message may have (HF chat templates know these; anything else is rejected early).
const std::vector<std::string>& known_roles();

}  // namespace prefer::data
