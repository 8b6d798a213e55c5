#include "cli/run_reference.h"

#include <fmt/format.h>

#include "cli/train_options.h"
#include "model/loader.h"
#include "util/hash.h"

namespace prefer::cli {

namespace {

std::optional<model::ModelSource> ref_source(const Json& o) {
  if (auto r = opt<std::string>(o, "ref_model")) return model::resolve_model_source(*r, std::nullopt, "ref_model");
  return std::nullopt;
}

std::optional<model::CausalLM> frozen_copy(const Json& o, const std::optional<model::ModelSource>& ref, const model::ModelSource& source,
                                           at::ScalarType dtype, const model::QuantizationConfig& quant, bool mixed) {
  const bool precompute = get<bool>(o, "precompute_ref_log_probs");
  if (!ref && (get<bool>(o, "use_peft") || precompute)) return std::nullopt;
  // The policy's precision, so step 1 starts at policy = reference.
  model::CausalLM m = model::load_model_source(ref ? *ref : source, {.dtype = dtype, .quantization = quant, .mixed_precision = mixed});
  m.set_requires_grad(false);
  return m;
}

}  // namespace

RunReference::RunReference(const Json& o, const model::ModelSource& source, Policy& policy, int64_t chunk_tokens)
    : ref_source_(ref_source(o)), source_(source), precompute_(cli::get<bool>(o, "precompute_ref_log_probs")),
      quant_(policy.options().quantization),
      precision_(policy.options().dtype == at::kFloat
                     ? ""
                     : std::string(c10::toString(policy.options().dtype)) + (policy.model().mixed_precision() ? " mixed" : " pure")),
      frozen_(frozen_copy(o, ref_source_, source, policy.options().dtype, quant_, policy.model().mixed_precision())),
      ref_(policy.model(), frozen_ ? &*frozen_ : nullptr, chunk_tokens) {}

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
  ref_.use_policy_as_reference(!frozen_.has_value());  // the untrained policy is the starting model
  for (size_t i = 0; i < sets.size(); ++i) {
    if (sets[i]->size() == 0) continue;
    const auto& t = ref_.precompute(*sets[i], batch, key, cache_dir, batch_size);
    if (i == 0)
      out << fmt::format("reference log-probs: {} {} {}\n", sets[i]->size(), unit, t.from_cache ? "read from the cache" : "computed and cached");
  }
  ref_.use_policy_as_reference(false);
  ref_.drop_frozen();
  frozen_.reset();  // the reference weights are no longer needed
}

}  // namespace prefer::cli
