#include "model/loader.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <set>

#include "model/bnb_checkpoint.h"
#include "model/model_size.h"
#include "model/tensor_convert.h"
#include "util/error.h"
#include "util/strings.h"

namespace prefer::model {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// At most `n` names, then "and K more".
std::string name_list(const std::vector<std::string>& names, size_t n = 8) {
  std::vector<std::string> head(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(n, names.size())));
  std::string s = join(head, ", ");
  if (names.size() > n) s += " and " + std::to_string(names.size() - n) + " more";
  return s;
}

double initializer_range(const Json& raw) {
  if (raw.is_object() && raw.contains("initializer_range") && raw["initializer_range"].is_number())
    return raw["initializer_range"].get<double>();
  return 0.02;  // the default of every supported config class
}

// A tensor's bytes, read once: tells the kernel that this process is done with their pages of the
// checkpoint's read-only file mapping (io::SafetensorsFile maps the whole file). Without it every page
// the loader touched stays in the process's resident set until the file is closed, so the peak of a
// load was the whole checkpoint plus the model built from it (5 GB of float32 file beside a 2.5 GB bf16
// 1B model); with it, the model plus about one tensor. The range is widened to whole pages: a
// neighbour's page dropped too is read again from the page cache when its turn comes.
void release_pages(const io::TensorView& v) {
  if (v.nbytes == 0) return;
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(v.data) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(v.data) + v.nbytes + page - 1) & ~(page - 1);
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advice only: a failure costs nothing
}

// `fresh`: weights that are initialised by the caller rather than loaded (a new classification head).
// `quant`: the linear layers it selects are quantised as they are read (or read packed, prequantized).
// `keep_full`: a float32/float64 tensor read into a bf16/f16 weight also stays as float32
// (CausalLM::keep_full_precision).
void fill_weights(CausalLM& model, const io::Checkpoint& ckpt, LoadReport* report, const std::set<std::string>& fresh,
                  const QuantizationConfig& quant = {}, bool keep_full = false) {
  const io::ModelConfig& c = model.config();
  const std::string where = ckpt.index_path().empty() && !ckpt.shards().empty()
                                ? ckpt.shards().front()->path().string()
                                : ckpt.index_path().string();
  std::set<std::string> expected;
  std::vector<std::string> missing, problems;
  for (const WeightSpec& w : model.weight_specs()) {
    expected.insert(w.name);
    Linear* lin = model.linear(w.slot, w.layer);
    const std::string module = w.name.substr(0, w.name.rfind('.'));
    const bool quantize_this = lin && &model.slot(w.slot, w.layer) == &lin->weight && quant.quantizes(module);
    if (quantize_this && quant.prequantized && ckpt.contains(w.name)) {
      lin->quant = std::make_shared<const QuantizedWeight>(read_bnb_weight(ckpt, module, w.shape, model.dtype(), quant).to(model.device()));
      continue;
    }
    if (!ckpt.contains(w.name)) {
      if (!fresh.count(w.name)) missing.push_back(w.name);
      continue;
    }
    const io::TensorInfo& info = ckpt.info(w.name);
    if (info.shape != w.shape) {
      problems.push_back("'" + w.name + "' in " + ckpt.file_of(w.name).filename().string() + " has shape " +
                         shape_str(info.shape) + ", the config needs " + shape_str(w.shape));
      continue;
    }
    if (info.dtype != io::DType::F32 && info.dtype != io::DType::BF16 && info.dtype != io::DType::F16 &&
        info.dtype != io::DType::F64) {
      problems.push_back("'" + w.name + "' is stored as " + std::string(io::dtype_name(info.dtype)) +
                         "; weights must be F32, BF16, F16 or F64");
      continue;
    }
    const io::TensorView view = ckpt.view(w.name);
    if (quantize_this) {
      at::Tensor dense = tensor_from_view(view);
      release_pages(view);
      QuantizedWeight q = quantize(dense, quant.options(model.dtype()));
      q.dtype = model.dtype();
      lin->quant = std::make_shared<const QuantizedWeight>(q.to(model.device()));
      continue;
    }
    const at::Tensor stored = tensor_from_view(view);
    release_pages(view);
    at::Tensor t = stored.to(model.device(), model.slot_dtype(w.slot));
    at::Tensor& dst = model.slot(w.slot, w.layer);
    const bool rg = dst.defined() && dst.requires_grad();
    dst = t;
    if (rg) dst.set_requires_grad(true);
    const bool reduced = t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf;
    if (keep_full && reduced && (info.dtype == io::DType::F32 || info.dtype == io::DType::F64))
      model.keep_full_precision(dst, stored.to(model.device(), at::kFloat, /*non_blocking=*/false, /*copy=*/true));
  }
  std::vector<std::string> unexpected;
  for (const std::string& name : ckpt.names()) {
    if (expected.count(name)) continue;
    // Allowed extras: buffers HF ignores too, an lm_head.weight saved beside tied embeddings, and the LM
    // head of a causal checkpoint loaded under a classification head.
    const bool allowed = is_ignored_checkpoint_tensor(name) || name == "lm_head.weight" ||
                         (quant.prequantized && is_bnb_state_tensor(name));
    if (allowed) {
      if (report) report->ignored.push_back(name);
    } else {
      unexpected.push_back(name);
    }
  }
  if (!missing.empty()) problems.insert(problems.begin(), "missing " + std::to_string(missing.size()) + " tensor(s): " + name_list(missing));
  if (!unexpected.empty())
    problems.push_back("unexpected " + std::to_string(unexpected.size()) + " tensor(s) that " + c.architecture +
                       " does not have: " + name_list(unexpected));
  if (problems.size() > 10) {  // keep the message readable: the first ones tell the story
    const size_t more = problems.size() - 10;
    problems.resize(10);
    problems.push_back("and " + std::to_string(more) + " more problem(s)");
  }
  if (!problems.empty()) {
    std::string field = !missing.empty() ? missing.front() : !unexpected.empty() ? unexpected.front() : "";
    throw Error("the checkpoint does not match " + c.architecture + " as config.json describes it: " + join(problems, "; "),
                {.file = where, .field = field,
                 .hint = "check that config.json belongs to these weights (layers, heads, head_dim, biases, tie_word_embeddings)"});
  }
}

}  // namespace

void load_weights(CausalLM& model, const io::Checkpoint& ckpt, LoadReport* report) {
  model.drop_full_precision();  // they were the replaced weights' values
  fill_weights(model, ckpt, report, {});
}

CausalLM load_model(const io::ModelFolder& folder, const LoadOptions& options, LoadReport* report) {
  LoadReport local;
  LoadReport& rep = report ? *report : local;
  io::ModelConfig config = folder.config;
  const bool new_head = options.head && *options.head == io::HeadKind::SequenceClassification &&
                        config.head == io::HeadKind::CausalLM;
  if (options.head && *options.head == io::HeadKind::CausalLM && config.head != io::HeadKind::CausalLM)
    throw Error("is a sequence-classification model; it has no LM head to load as a causal LM",
                {.file = (folder.dir / "config.json").string(), .field = "architectures"});
  const std::filesystem::path config_file = folder.dir / "config.json";
  const Json raw = std::filesystem::exists(config_file) ? read_json_file(config_file) : Json::object();
  QuantizationConfig quant = checkpoint_quantization(raw, config_file);
  if (quant.enabled() && options.quantization.enabled() && options.quantization.describe() != quant.describe())
    throw Error("the checkpoint is already quantised (" + quant.describe() + "); it cannot be loaded as " +
                    options.quantization.describe(),
                {.file = config_file.string(), .field = "quantization_config",
                 .hint = "drop --load_in_4bit / --load_in_8bit, or start from the unquantised model"});
  if (!quant.enabled()) quant = options.quantization;
  quant.validate();
  check_model_size(config, options.dtype, quant, config_file);
  CausalLM model(config, {.dtype = options.dtype, .device = options.device, .allocate = false});
  model.set_source_dir(folder.dir);
  model.set_mixed_precision(options.mixed_precision);
  if (std::filesystem::exists(config_file)) model.set_raw_config(raw);
  if (new_head) {
    model.set_head(io::HeadKind::SequenceClassification, options.num_labels);
    rep.initialized.push_back("score.weight");
  }
  if (folder.weights.empty())
    throw Error("no weights in the model folder", {.file = folder.dir.string(), .field = "model.safetensors",
                .hint = "expected model.safetensors or model.safetensors.index.json"});
  io::Checkpoint ckpt = io::Checkpoint::open_folder(folder.dir);
  fill_weights(model, ckpt, &rep, new_head ? std::set<std::string>{"score.weight"} : std::set<std::string>{}, quant,
               options.keep_full_precision && !quant.enabled());
  if (new_head) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(options.head_seed);
    at::Tensor w = at::normal(0.0, initializer_range(model.raw_config()), {options.num_labels, config.hidden_size}, gen);
    model.slot(Slot::Score) = w.to(model.device(), model.dtype());
  }
  return model;
}

CausalLM load_model(const std::filesystem::path& dir, const LoadOptions& options, LoadReport* report) {
  return load_model(io::open_model_folder(dir), options, report);
}

}  // namespace prefer::model
