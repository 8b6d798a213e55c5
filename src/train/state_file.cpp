#include "train/state_file.h"

#include <ATen/ATen.h>

#include <cstring>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "util/error.h"

namespace prefer::train {
namespace fs = std::filesystem;

namespace {

constexpr std::pair<at::ScalarType, io::DType> kDtypes[] = {
    {at::kBool, io::DType::Bool}, {at::kByte, io::DType::U8},       {at::kChar, io::DType::I8},
    {at::kShort, io::DType::I16}, {at::kInt, io::DType::I32},       {at::kLong, io::DType::I64},
    {at::kHalf, io::DType::F16},  {at::kBFloat16, io::DType::BF16}, {at::kFloat, io::DType::F32},
    {at::kDouble, io::DType::F64},
};

io::DType to_io(at::ScalarType t, const std::string& name, const fs::path& path) {
  for (const auto& [st, d] : kDtypes)
    if (st == t) return d;
  throw Error(std::string("dtype ") + c10::toString(t) + " cannot be stored in a safetensors state file",
              {.file = path.string(), .field = name});
}

at::ScalarType to_torch(io::DType d) {
  for (const auto& [st, dt] : kDtypes)
    if (dt == d) return st;
  return at::kFloat;  // every io::DType is in the table
}

}  // namespace

void write_state_file(const fs::path& path, const std::map<std::string, at::Tensor>& tensors,
                      std::map<std::string, std::string> metadata) {
  metadata["format"] = "pt";
  std::vector<at::Tensor> keep;  // the CPU copies the TensorData point into
  std::vector<io::TensorData> data;
  keep.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw Error("undefined tensor", {.file = path.string(), .field = name});
    const io::DType dtype = to_io(t.scalar_type(), name, path);
    keep.push_back(t.detach().to(at::kCPU).contiguous());
    const at::Tensor& c = keep.back();
    data.push_back({.name = name,
                    .dtype = dtype,
                    .shape = std::vector<int64_t>(c.sizes().begin(), c.sizes().end()),
                    .data = c.data_ptr(),
                    .nbytes = static_cast<size_t>(c.numel()) * c.element_size()});
  }
  io::write_safetensors(path, std::move(data), std::move(metadata));
}

StateFile read_state_file(const fs::path& path) {
  io::SafetensorsFile file(path);
  StateFile out;
  out.metadata = file.metadata();
  for (const io::TensorInfo& info : file.tensors()) {
    const io::TensorView view = file.view(info);
    at::Tensor t = at::empty(info.shape, at::TensorOptions().dtype(to_torch(info.dtype)));
    // Views may be unaligned (io/safetensors.h): copy bytes, never alias the mapping.
    if (view.nbytes > 0) std::memcpy(t.data_ptr(), view.data, view.nbytes);
    out.tensors.emplace(info.name, std::move(t));
  }
  return out;
}

int64_t state_metadata_int(const StateFile& state, const std::string& key, const fs::path& path) {
  auto it = state.metadata.find(key);
  if (it == state.metadata.end())
    throw Error("metadata entry is missing", {.file = path.string(), .field = key,
                                               .hint = "the file was not written by this version of prefer"});
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw Error("metadata entry '" + it->second + "' is not an integer", {.file = path.string(), .field = key});
  }
}

const at::Tensor& state_tensor(const StateFile& state, const std::string& name, const fs::path& path) {
  auto it = state.tensors.find(name);
  if (it == state.tensors.end())
    throw Error("tensor is missing", {.file = path.string(), .field = name,
                                       .hint = "the state file belongs to a different run or model"});
  return it->second;
}

}  // namespace prefer::train
