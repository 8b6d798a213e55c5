// USE_C10D_GLOO: ProcessGroupGloo.hpp's body is guarded by it and LibTorch's CMake config does not
// define it (the Gloo headers come from Debian's libgloo-dev, matching the libgloo0 LibTorch links).
#define USE_C10D_GLOO 1

#include "train/distributed.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <map>
#include <thread>

#include "model/torch_compat.h"
#include "util/error.h"
#include "util/strings.h"

namespace prefer::train {

namespace {

std::optional<std::string> env_var(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int fallback, int lo, int hi) {
  auto v = env_var(name);
  if (!v) return fallback;
  try {
    size_t used = 0;
    long long x = std::stoll(*v, &used);
    if (used != v->size() || x < lo || x > hi) throw std::invalid_argument("range");
    return static_cast<int>(x);
  } catch (const std::exception&) {
    throw Error(fmt::format("environment variable {}={} is not a whole number in [{}, {}]", name, *v, lo, hi),
                {.hint = "prefer launch and torchrun set it; check a hand-written launch script"});
  }
}

// The first line of a c10d/Gloo message (they carry C++ stack traces below it).
std::string first_line(const std::exception& e) {
  std::string s = e.what();
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

bool loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

}  // namespace

std::optional<DistEnv> dist_env_from_environment() {
  const int world = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  if (world <= 1) return std::nullopt;
  DistEnv e;
  e.world = world;
  e.rank = env_int("RANK", -1, 0, world - 1);
  if (e.rank < 0) throw Error("WORLD_SIZE is set but RANK is not", {.hint = "start workers with prefer launch or torchrun"});
  e.local_world = env_int("LOCAL_WORLD_SIZE", 1, 1, world);
  e.local_rank = env_int("LOCAL_RANK", 0, 0, e.local_world - 1);
  e.master_addr = env_var("MASTER_ADDR").value_or("127.0.0.1");
  e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  e.agent_store = env_var("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  e.restart_count = env_var("TORCHELASTIC_RESTART_COUNT").value_or("0");
  return e;
}

std::shared_ptr<void> host_store(int port, int world, std::chrono::seconds timeout) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(port);
  so.isServer = true;
  so.numWorkers = static_cast<size_t>(world);
  so.waitWorkers = false;
  so.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
#if PREFER_TCPSTORE_HAS_LIBUV
  so.useLibUV = false;
#endif
  try {
    return std::make_shared<c10::intrusive_ptr<c10d::TCPStore>>(c10::make_intrusive<c10d::TCPStore>("0.0.0.0", so));
  } catch (const std::exception& e) {
    throw Error(fmt::format("cannot host the workers' store on port {}: {}", port, first_line(e)),
                {.field = "master_port", .hint = "another run (or program) holds the port: choose another --master_port"});
  }
}

struct Distributed::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

Distributed& Distributed::get() {
  static Distributed d;
  return d;
}

Distributed::~Distributed() = default;

void Distributed::init(const DistEnv& e, std::chrono::seconds timeout) {
  if (impl_) throw Error("the distributed group is already initialised");
  env_ = e;
  timeout_ = timeout;
  impl_ = std::make_unique<Impl>();
  const std::string where = fmt::format("{}:{}", e.master_addr, e.master_port);
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(e.master_port);
  so.isServer = !e.agent_store && e.rank == 0;
  so.numWorkers = static_cast<size_t>(e.world);
  so.waitWorkers = false;
  so.multiTenant = so.isServer;
  so.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
#if PREFER_TCPSTORE_HAS_LIBUV
  so.useLibUV = false;  // 2.4+ default; Debian-style builds may lack libuv, and one store is small
#endif
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(e.master_addr, so);
  } catch (const std::exception& ex) {
    const std::string why = first_line(ex);
    const bool in_use = why.find("in use") != std::string::npos;
    throw Error(so.isServer ? fmt::format("rank 0 cannot host the store on {}: {}", where, why)
                            : fmt::format("rank {} cannot reach the store at {} within {} s: {}", e.rank, where, timeout.count(), why),
                {.hint = in_use ? "another run holds the port: choose another --master_port (MASTER_PORT)"
                                : "check MASTER_ADDR/MASTER_PORT, that rank 0 (or the launcher on node 0) is running, and the firewall"});
  }
  // torchrun's agent store is shared between restarts: Python's workers prefix their keys per attempt.
  if (e.agent_store) impl_->store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + e.restart_count, impl_->store);
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  try {
    if (auto ifname = env_var("GLOO_SOCKET_IFNAME")) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*ifname));
    else if (loopback(e.master_addr)) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, e.rank, e.world, opts);
  } catch (const std::exception& ex) {
    throw Error(fmt::format("rank {} could not connect to the other {} workers within {} s: {}", e.rank, e.world - 1, timeout.count(),
                            first_line(ex)),
                {.hint = "every worker must start (check the launcher's output); on several machines set GLOO_SOCKET_IFNAME"});
  }
  rank_ = e.rank;
  world_ = e.world;
}

void Distributed::lost(const std::string& during, const std::exception& ex) {
  // Survivors mark themselves alive; whoever does not within a grace period is reported lost.
  const std::string gen = std::to_string(++alive_checks_);
  std::vector<int> missing;
  std::string store_note;
  try {
    impl_->store->set("alive/" + gen + "/" + std::to_string(rank_), std::vector<uint8_t>{1});
    const auto deadline = std::chrono::steady_clock::now() + std::min<std::chrono::seconds>(timeout_, std::chrono::seconds(5));
    while (true) {
      missing.clear();
      for (int r = 0; r < world_; ++r)
        if (!impl_->store->check({"alive/" + gen + "/" + std::to_string(r)})) missing.push_back(r);
      if (missing.empty() || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  } catch (const std::exception&) {
    missing = {0};
    store_note = env_.agent_store ? " (the launcher's store is gone too)" : " (rank 0 hosted the store, which is gone)";
  }
  std::vector<std::string> names;
  for (int r : missing) names.push_back(std::to_string(r));
  const std::string who = missing.empty() ? "a worker" : (missing.size() == 1 ? "rank " : "ranks ") + join(names, ", ");
  throw Error(fmt::format("rank {} lost {} during {}{}: {}", rank_, who, during, store_note, first_line(ex)),
              {.hint = "the last checkpoint is intact: start the same launch again with --resume_from_checkpoint latest"});
}

void Distributed::allreduce_sum(std::vector<at::Tensor>& tensors) {
  if (!active() || tensors.empty()) return;
  // Buckets of one dtype, up to 16M elements each (64 MB in fp32): few large messages, bounded memory.
  constexpr int64_t kBucket = 16 << 20;
  std::map<at::ScalarType, std::vector<size_t>> by_type;
  for (size_t i = 0; i < tensors.size(); ++i) by_type[tensors[i].scalar_type()].push_back(i);
  for (auto& [type, idx] : by_type) {
    size_t start = 0;
    while (start < idx.size()) {
      size_t end = start;
      int64_t n = 0;
      while (end < idx.size() && (end == start || n + tensors[idx[end]].numel() <= kBucket)) n += tensors[idx[end++]].numel();
      std::vector<at::Tensor> parts;
      for (size_t k = start; k < end; ++k) parts.push_back(tensors[idx[k]].reshape({-1}));
      std::vector<at::Tensor> flat{at::cat(parts)};
      try {
        impl_->pg->allreduce(flat, c10d::AllreduceOptions{})->wait();
      } catch (const std::exception& e) {
        lost("an all-reduce", e);
      }
      int64_t off = 0;
      for (size_t k = start; k < end; ++k) {
        at::Tensor& t = tensors[idx[k]];
        t.copy_(flat[0].narrow(0, off, t.numel()).view(t.sizes()));
        off += t.numel();
      }
      start = end;
    }
  }
}

void Distributed::allreduce_sum(std::vector<double>& values) {
  if (!active() || values.empty()) return;
  std::vector<at::Tensor> t{at::tensor(values, at::kDouble)};
  allreduce_sum(t);
  for (size_t i = 0; i < values.size(); ++i) values[i] = t[0][static_cast<int64_t>(i)].item<double>();
}

void Distributed::broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (!active() || tensors.empty()) return;
  std::map<at::ScalarType, std::vector<size_t>> by_type;
  for (size_t i = 0; i < tensors.size(); ++i) by_type[tensors[i].scalar_type()].push_back(i);
  for (auto& [type, idx] : by_type) {
    std::vector<at::Tensor> parts;
    for (size_t i : idx) parts.push_back(tensors[i].reshape({-1}));
    std::vector<at::Tensor> flat{at::cat(parts)};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    try {
      impl_->pg->broadcast(flat, o)->wait();
    } catch (const std::exception& e) {
      lost("a broadcast", e);
    }
    int64_t off = 0;
    for (size_t i : idx) {
      tensors[i].copy_(flat[0].narrow(0, off, tensors[i].numel()).view(tensors[i].sizes()));
      off += tensors[i].numel();
    }
  }
}

void Distributed::broadcast_parameters(const std::vector<at::Tensor>& params) {
  if (!active()) return;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> values;
  for (const auto& p : params) values.push_back(p.detach());
  broadcast(values);
}

void Distributed::reduce_gradients(const std::vector<at::Tensor>& params, double divisor) {
  if (!active()) return;
  std::vector<at::Tensor> grads;
  for (const auto& p : params) {
    at::Tensor& g = const_cast<at::Tensor&>(p).mutable_grad();
    if (!g.defined()) g = at::zeros_like(p);
    grads.push_back(g);
  }
  allreduce_sum(grads);
  if (divisor != 1.0)
    for (auto& g : grads) g.div_(divisor);
}

std::vector<Json> Distributed::all_gather_json(const std::string& tag, const Json& value) {
  if (!active()) return {value};
  const int64_t n = ++gathers_;
  auto key = [&](int64_t gen, int r) { return fmt::format("gather/{}/{}/{}", gen, tag, r); };
  std::vector<Json> out;
  try {
    const std::string text = value.dump();
    impl_->store->set(key(n, rank_), std::vector<uint8_t>(text.begin(), text.end()));
    std::vector<std::string> keys;
    for (int r = 0; r < world_; ++r) keys.push_back(key(n, r));
    impl_->store->wait(keys, std::chrono::duration_cast<std::chrono::milliseconds>(timeout_));
    for (const auto& k : keys) {
      std::vector<uint8_t> b = impl_->store->get(k);
      out.push_back(Json::parse(std::string(b.begin(), b.end())));
    }
    // Every rank has posted this exchange, so every rank has read the previous one: its key can go.
    if (!last_key_.empty()) impl_->store->deleteKey(last_key_);
    last_key_ = key(n, rank_);
  } catch (const Json::exception&) {
    throw;
  } catch (const std::exception& e) {
    lost("an exchange of " + tag, e);
  }
  return out;
}

void Distributed::check_same(const std::string& what, const Json& value) {
  if (!active()) return;
  std::vector<Json> all = all_gather_json("check", value);
  for (int r = 1; r < world_; ++r) {
    if (all[static_cast<size_t>(r)] == all[0]) continue;
    std::string mine = all[static_cast<size_t>(r)].dump(), first = all[0].dump();
    if (mine.size() > 300) mine = mine.substr(0, 300) + "...";
    if (first.size() > 300) first = first.substr(0, 300) + "...";
    throw Error(fmt::format("rank {} was started with other {} than rank 0: {} vs {}", r, what, mine, first),
                {.hint = "start every worker with the same command line, model and data (prefer launch does)"});
  }
}

void Distributed::barrier() {
  if (!active()) return;
  try {
    impl_->pg->barrier()->wait();
  } catch (const std::exception& e) {
    lost("a barrier", e);
  }
}

}  // namespace prefer::train
