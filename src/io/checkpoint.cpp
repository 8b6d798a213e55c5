#include "io/checkpoint.h"

#include <algorithm>
#include <cstdio>

#include "util/error.h"
#include "util/json.h"
#include "util/strings.h"

namespace prefer::io {
namespace fs = std::filesystem;

Checkpoint Checkpoint::open_folder(const fs::path& dir) {
  if (fs::exists(dir / "model.safetensors.index.json")) return open_file(dir / "model.safetensors.index.json");
  if (fs::exists(dir / "model.safetensors")) return open_file(dir / "model.safetensors");
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) found.push_back(e.path().filename().string());
  std::sort(found.begin(), found.end());
  std::string hint = "expected model.safetensors or model.safetensors.index.json";
  for (const auto& f : found)
    if (f.ends_with(".bin") || f.ends_with(".pt") || f.ends_with(".pth")) {
      hint += "; PyTorch .bin/.pt weights are not read: convert them to safetensors first";
      break;
    }
  throw Error("no safetensors weights in this folder (it holds: " + (found.empty() ? "nothing" : join(found, ", ")) + ")",
              {.file = dir.string(), .hint = hint});
}

Checkpoint Checkpoint::open_file(const fs::path& path) {
  Checkpoint c;
  if (path.filename().string().ends_with(".index.json")) {
    c.index_ = path;
    const std::string file = path.string();
    Json index = read_json_file(path);
    const Json& map = require_field(index, "weight_map", {.file = file});
    if (!map.is_object()) throw Error("expected an object of tensor name -> shard file", {.file = file, .field = "weight_map"});
    std::map<std::string, size_t> shard_of_file;
    for (auto it = map.begin(); it != map.end(); ++it) {
      ErrorContext ctx{.file = file, .field = "weight_map." + it.key()};
      if (!it.value().is_string()) throw Error("expected a shard file name", ctx);
      std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..")
        throw Error("shard name '" + shard + "' must be a file name in the same folder", ctx);
      auto found = shard_of_file.find(shard);
      if (found == shard_of_file.end()) {
        fs::path shard_path = path.parent_path() / shard;
        if (!fs::exists(shard_path))
          throw Error("names shard '" + shard + "', which does not exist", {.file = file, .field = ctx.field,
                      .hint = "the download may be incomplete; fetch every model-*.safetensors file"});
        c.shards_.push_back(std::make_unique<SafetensorsFile>(shard_path));
        found = shard_of_file.emplace(shard, c.shards_.size() - 1).first;
      }
      if (!c.shards_[found->second]->contains(it.key()))
        throw Error("index assigns this tensor to '" + shard + "', which does not hold it", ctx);
      c.where_[it.key()] = found->second;
    }
  } else {
    c.shards_.push_back(std::make_unique<SafetensorsFile>(path));
    for (const auto& t : c.shards_[0]->tensors()) c.where_[t.name] = 0;
  }
  return c;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : where_) out.push_back(name);
  return out;
}

const TensorInfo& Checkpoint::info(const std::string& name) const { return *view(name).info; }

TensorView Checkpoint::view(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end())
    throw Error("no such tensor in the checkpoint",
                {.file = (index_.empty() ? shards_.at(0)->path() : index_).string(), .field = name});
  return shards_[it->second]->view(name);
}

const fs::path& Checkpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  return it == where_.end() ? index_ : shards_[it->second]->path();
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, shard] : where_) n += shards_[shard]->find(name)->nbytes();
  return n;
}

int64_t Checkpoint::total_elements() const {
  int64_t n = 0;
  for (const auto& [name, shard] : where_) n += shards_[shard]->find(name)->numel();
  return n;
}

void write_checkpoint(const fs::path& dir, std::vector<TensorData> tensors, uint64_t max_shard_bytes) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorData& a, const TensorData& b) { return a.name < b.name; });
  std::vector<std::vector<TensorData>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (auto& t : tensors) {
    if (in_shard > 0 && in_shard + t.nbytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    in_shard += t.nbytes;
    total += t.nbytes;
    shards.back().push_back(t);
  }
  if (shards.size() == 1) {
    write_safetensors(dir / "model.safetensors", std::move(shards[0]));
    return;
  }
  Json weight_map = Json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    for (const auto& t : shards[i]) weight_map[t.name] = name;
    write_safetensors(dir / name, std::move(shards[i]));
  }
  Json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_json_file(dir / "model.safetensors.index.json", index);
}

}  // namespace prefer::io
