// Data parallelism over c10d, the distributed engine inside LibTorch: a TCPStore for rendezvous and
// small messages, ProcessGroupGloo for collectives on CPU tensors. Workers are started by
// `prefer launch` or torchrun and find each other through torchrun's environment contract (RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE).
//
// One process-wide group: a single worker (no WORLD_SIZE, or 1) makes every call a no-op, so the
// trainer has one code path. Every collective names the rank that failed when a peer is lost: the
// survivors mark themselves alive in the store and report who did not (the store outlives workers
// when the launcher or torchrun hosts it).
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/json.h"

namespace prefer::train {

struct DistEnv {
  int rank = 0, world = 1, local_rank = 0, local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;  // the launcher (or torchrun's agent) hosts the store; every rank is a client
  std::string restart_count = "0";
};

// The environment's contract, or nullopt when this process was not launched as one of several workers.
// Malformed values are an Error naming the variable.
std::optional<DistEnv> dist_env_from_environment();

// The store a launcher hosts for its workers (TORCHELASTIC_USE_AGENT_STORE=True): it outlives any one
// worker, so survivors can still tell who was lost. An Error when the port is taken.
std::shared_ptr<void> host_store(int port, int world, std::chrono::seconds timeout);

class Distributed {
 public:
  // The process's group (world 1 until init).
  static Distributed& get();

  // Joins the group: connects to (or hosts) the store, builds the Gloo group. `timeout` bounds every
  // collective and store wait (--ddp_timeout). Errors name MASTER_ADDR:MASTER_PORT and what to check.
  void init(const DistEnv& env, std::chrono::seconds timeout);
  bool active() const { return world_ > 1; }
  int rank() const { return rank_; }
  int world() const { return world_; }
  const DistEnv& env() const { return env_; }
  bool main_process() const { return rank_ == 0; }

  // Sums every tensor in place across ranks (CPU, contiguous or not): one flat buffer per dtype,
  // one all-reduce each. Gloo has no average; callers scale before (loss / global count).
  void allreduce_sum(std::vector<at::Tensor>& tensors);
  void allreduce_sum(std::vector<double>& values);
  // Copies rank `root`'s values into every rank's tensors.
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  // Trainers: every rank starts from rank 0's values of `params` (no-op alone).
  void broadcast_parameters(const std::vector<at::Tensor>& params);
  // Trainers: sums the gradients of `params` across ranks (an undefined gradient counts as zeros), then
  // divides them by `divisor` (1: the offline trainers' global means; world: DDP's average).
  void reduce_gradients(const std::vector<at::Tensor>& params, double divisor);
  // Every rank's `value`, in rank order, through the store (small messages: metrics, eval sums).
  std::vector<Json> all_gather_json(const std::string& tag, const Json& value);
  // Every rank must pass the same `value`: an Error naming `what` and the first rank that differs.
  void check_same(const std::string& what, const Json& value);
  void barrier();

  ~Distributed();

 private:
  Distributed() = default;
  [[noreturn]] void lost(const std::string& during, const std::exception& e);
  int rank_ = 0, world_ = 1;
  DistEnv env_;
  std::chrono::seconds timeout_{1800};
  int64_t gathers_ = 0, alive_checks_ = 0;
  std::string last_key_;  // this rank's key of the previous exchange (deleted at the next one)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace prefer::train
