#include "cli/run_reference.h"

#include <fmt/format.h>

#include "cli/train_options.h"
#include "model/loader.h"
#include "util/error.h"
#include "util/hash.h"

namespace prefer::cli {

namespace {

std::optional<model::ModelSource> ref_source(const Json& o) {
  if (auto r = opt<std::string>(o, "ref_model")) return model::resolve_model_source(*r, std::nullopt, "ref_model");
  return std::nullopt;
}

// The precision the reference runs in: the policy's, or with precompute_ref_dtype the precompute pass's.
struct RefPrecision {
  at::ScalarType dtype;
  bool mixed;
  bool operator==(const RefPrecision&) const = default;
};

RefPrecision policy_precision(Policy& policy) { return {policy.options().dtype, policy.model().mixed_precision()}; }

RefPrecision ref_precision(const Json& o, Policy& policy) {
  RunReference::check_options(o);
  const std::string d = get<std::string>(o, "precompute_ref_dtype");
  if (d == "auto") return policy_precision(policy);
  const at::ScalarType t = d == "bfloat16" ? at::kBFloat16 : at::kFloat;
  if (t == policy.options().dtype) return policy_precision(policy);
  return {t, t == at::kBFloat16};  // bf16 as prefer's default bf16 mode: mixed (float32 norms, embeddings, residual)
}

std::string describe(const RefPrecision& p) {
  return p.dtype == at::kFloat ? "" : std::string(c10::toString(p.dtype)) + (p.mixed ? " mixed" : " pure");
}

// A copy of the reference's weights when the reference is not the policy itself: --ref_model; full
// fine-tuning with a live reference; or a precompute pass in another precision than the policy's
// (loaded from the policy's source, as the starting weights; freed after the pass like any copy).
std::optional<model::CausalLM> frozen_copy(const Json& o, const std::optional<model::ModelSource>& ref, const model::ModelSource& source,
                                           const RefPrecision& precision, bool other_precision, const model::QuantizationConfig& quant) {
  const bool precompute = get<bool>(o, "precompute_ref_log_probs");
  if (!ref && !other_precision && (get<bool>(o, "use_peft") || precompute)) return std::nullopt;
  // The policy's precision unless precompute_ref_dtype says otherwise, so step 1 starts at policy = reference.
  model::CausalLM m = model::load_model_source(ref ? *ref : source, {.dtype = precision.dtype, .quantization = quant, .mixed_precision = precision.mixed});
  m.set_requires_grad(false);
  return m;
}

}  // namespace

void RunReference::check_options(const Json& o) {
  const std::string d = cli::get<std::string>(o, "precompute_ref_dtype");
  if (d != "auto" && d != "float32" && d != "bfloat16")
    throw Error("must be auto, float32 or bfloat16, not '" + d + "'", {.field = "precompute_ref_dtype"});
  if (d != "auto" && !cli::get<bool>(o, "precompute_ref_log_probs"))
    throw Error("sets the dtype of the precompute pass; a live reference runs in the policy's dtype",
                {.field = "precompute_ref_dtype", .hint = "drop it, or keep precompute_ref_log_probs on"});
}

RunReference::RunReference(const Json& o, const model::ModelSource& source, Policy& policy, int64_t chunk_tokens)
    : ref_source_(ref_source(o)), source_(source), precompute_(cli::get<bool>(o, "precompute_ref_log_probs")),
      quant_(policy.options().quantization) {
  const RefPrecision p = ref_precision(o, policy);
  precision_ = describe(p);
  frozen_ = frozen_copy(o, ref_source_, source, p, !(p == policy_precision(policy)), quant_);
  ref_.emplace(policy.model(), frozen_ ? &*frozen_ : nullptr, chunk_tokens);
}

void RunReference::tabulate(const std::vector<const data::TokenizedDataset*>& sets, const data::BatchOptions& batch,
                            const std::filesystem::path& cache_dir, int64_t batch_size, const char* unit, std::ostream& out) {
  // A quantised reference, and one in bf16 (mixed or pure), computes other log-probs than the dense
  // float32 one: the cache key says which.
  uint64_t key = model::model_source_hash(ref_source_ ? *ref_source_ : source_);
  if (quant_.enabled() || !precision_.empty()) {
    Hasher h;
    h.update(hex64(key) + " " + (quant_.enabled() ? quant_.describe() : "") + (precision_.empty() ? "" : " " + precision_));
    key = h.digest();
  }
  ref_->use_policy_as_reference(!frozen_.has_value());  // the untrained policy is the starting model
  for (size_t i = 0; i < sets.size(); ++i) {
    if (sets[i]->size() == 0) continue;
    const auto& t = ref_->precompute(*sets[i], batch, key, cache_dir, batch_size);
    if (i == 0)
      out << fmt::format("reference log-probs: {} {} {}\n", sets[i]->size(), unit, t.from_cache ? "read from the cache" : "computed and cached");
  }
  ref_->use_policy_as_reference(false);
  ref_->drop_frozen();
  frozen_.reset();  // the reference weights are no longer needed
}

}  // namespace prefer::cli
