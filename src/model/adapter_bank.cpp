#include "model/adapter_bank.h"

#include "model/causal_lm.h"
#include "model/weight_map.h"
#include "util/error.h"

namespace prefer::model {

std::vector<Linear*> AdapterBank::linears() {
  std::vector<Linear*> out;
  for (int64_t l = 0; l < static_cast<int64_t>(model_.layers().size()); ++l)
    for (Slot s : layer_linear_slots()) out.push_back(model_.linear(s, l));
  return out;
}

void AdapterBank::keep(const std::string& name) {
  std::vector<std::shared_ptr<LoraAdapter>> set;
  for (Linear* lin : linears()) set.push_back(lin->lora);
  sets_[name] = std::move(set);
  active_ = name;
}

void AdapterBank::activate(const std::string& name) {
  auto it = sets_.find(name);
  if (it == sets_.end()) throw Error("no adapter set named '" + name + "'", {.field = "adapter"});
  std::vector<Linear*> lins = linears();
  for (size_t i = 0; i < lins.size(); ++i) lins[i]->lora = it->second[i];
  active_ = name;
}

void AdapterBank::clear() {
  for (Linear* lin : linears()) lin->lora.reset();
  active_.clear();
}

}  // namespace prefer::model
