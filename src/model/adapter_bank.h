// Named LoRA adapter sets on one model, switched per role: PPO's policy, value and reward adapters share
// one copy of the frozen base weights (the reference is the base itself, adapters off). Each Linear holds
// one adapter at a time (linear.h); a bank remembers every set by name and installs the one a role needs
// before its forward. Switching swaps pointers only: no weight is copied.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/linear.h"

namespace prefer::model {

class CausalLM;

class AdapterBank {
 public:
  explicit AdapterBank(CausalLM& model) : model_(model) {}
  AdapterBank(const AdapterBank&) = delete;
  AdapterBank& operator=(const AdapterBank&) = delete;

  // Remembers the adapters installed now as the set `name` (they stay installed and become the active set).
  void keep(const std::string& name);
  // Installs the set `name` on every linear layer (layers without an adapter in it get none). Unknown
  // names are an error.
  void activate(const std::string& name);
  // Removes every adapter from the layers (the sets are kept): what add_lora / load_adapter need before
  // they build another set.
  void clear();
  bool has(const std::string& name) const { return sets_.count(name) > 0; }
  // The active set's name ("" after clear()).
  const std::string& active() const { return active_; }
  CausalLM& model() { return model_; }

 private:
  std::vector<Linear*> linears();
  CausalLM& model_;
  std::map<std::string, std::vector<std::shared_ptr<LoraAdapter>>> sets_;  // one entry per linear layer
  std::string active_;
};

// Activates a set for a scope and puts the previous one back.
class ActiveAdapter {
 public:
  ActiveAdapter(AdapterBank& bank, const std::string& name) : bank_(bank), was_(bank.active()) { bank.activate(name); }
  ~ActiveAdapter() {
    if (was_.empty()) bank_.clear();
    else bank_.activate(was_);
  }
  ActiveAdapter(const ActiveAdapter&) = delete;
  ActiveAdapter& operator=(const ActiveAdapter&) = delete;

 private:
  AdapterBank& bank_;
  std::string was_;
};

}  // namespace prefer::model
