// The server's one decoding thread: requests wait in a bounded queue; the thread takes as many as fit
// in a batch (`max_batch_rows` rows, a request's n choices being n rows), decodes them together with the
// KV cache (model/generation's decode loop, each row with its own sampling settings and seed), sends
// text deltas as they appear and completes each request when its rows end. A full queue refuses new
// requests at once (the server answers 503) instead of letting clients wait without bound.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "model/causal_lm.h"
#include "text/tokenizer.h"

namespace prefer::serve {

// One row to decode.
struct RowSpec {
  std::vector<int64_t> prompt_ids;
  int64_t max_new_tokens = 16;
  double temperature = 1.0;  // 0 = greedy
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
};

struct RowResult {
  std::string text;
  std::vector<int64_t> ids;          // new tokens, an EOS id that ended the row included
  std::string finish_reason;         // "stop" (EOS or a stop string) or "length"
};

struct Job {
  std::vector<RowSpec> rows;
  // Streaming: called on the decoding thread with (row, text delta); must not block for long.
  std::function<void(size_t row, const std::string& delta)> on_delta;
  // Polled once per token: true ends the job's rows early (a streaming client went away).
  std::function<bool()> cancelled;
  std::promise<std::vector<RowResult>> result;
};

struct SchedulerOptions {
  int64_t max_batch_rows = 16;
  int64_t max_queue = 64;            // requests waiting, beyond those being decoded
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = 0;
};

class Scheduler {
 public:
  Scheduler(const model::CausalLM& model, const text::Tokenizer& tokenizer, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `job`; false when the queue is full. Its result (or the error decoding raised) arrives
  // through job->result.
  bool submit(std::shared_ptr<Job> job);
  int64_t queued() const;

 private:
  void run();
  void decode_batch(std::vector<std::shared_ptr<Job>>& jobs);

  const model::CausalLM& model_;
  const text::Tokenizer& tokenizer_;
  SchedulerOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace prefer::serve
