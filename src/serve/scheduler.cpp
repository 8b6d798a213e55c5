#include "serve/scheduler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "model/generation.h"
#include "serve/text_stream.h"

namespace prefer::serve {

Scheduler::Scheduler(const model::CausalLM& model, const text::Tokenizer& tokenizer, SchedulerOptions options)
    : model_(model), tokenizer_(tokenizer), opt_(std::move(options)) {
  worker_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  for (auto& job : queue_) job->result.set_exception(std::make_exception_ptr(std::runtime_error("the server is shutting down")));
}

bool Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || static_cast<int64_t>(queue_.size()) >= opt_.max_queue) return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

int64_t Scheduler::queued() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(queue_.size());
}

void Scheduler::run() {
  while (true) {
    std::vector<std::shared_ptr<Job>> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      // Whole requests, oldest first, while they fit; a request larger than a batch goes alone.
      int64_t rows = 0;
      while (!queue_.empty()) {
        const int64_t r = static_cast<int64_t>(queue_.front()->rows.size());
        if (!batch.empty() && rows + r > opt_.max_batch_rows) break;
        rows += r;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    try {
      decode_batch(batch);
    } catch (...) {
      for (auto& job : batch) {
        try {
          job->result.set_exception(std::current_exception());
        } catch (const std::future_error&) {  // already completed
        }
      }
    }
  }
}

void Scheduler::decode_batch(std::vector<std::shared_ptr<Job>>& jobs) {
  struct Row {
    Job* job;
    size_t index;  // within the job
    const RowSpec* spec;
    std::unique_ptr<TextStream> text;
    at::Generator gen;
    RowResult result;
  };
  std::vector<Row> rows;
  std::vector<std::vector<int64_t>> prompts;
  std::vector<int64_t> max_new;
  auto decode_text = [this](const std::vector<int32_t>& ids) { return tokenizer_.decode(ids, true); };
  for (auto& job : jobs) {
    for (size_t i = 0; i < job->rows.size(); ++i) {
      const RowSpec& s = job->rows[i];
      rows.push_back({job.get(), i, &s, std::make_unique<TextStream>(decode_text, s.stop),
                      at::make_generator<at::CPUGeneratorImpl>(s.seed), {}});
      prompts.push_back(s.prompt_ids);
      max_new.push_back(s.max_new_tokens);
    }
  }
  model::GenerationOptions go;
  go.eos_token_ids = opt_.eos_token_ids;
  go.pad_token_id = opt_.pad_token_id;
  model::DecodeHooks hooks;
  hooks.next = [&](const at::Tensor& logits, const std::vector<int64_t>& active) {
    at::Tensor tok = logits.argmax(-1);
    for (size_t i = 0; i < active.size(); ++i) {
      Row& r = rows[static_cast<size_t>(active[i])];
      if (r.spec->temperature == 0.0) continue;
      model::GenerationOptions so;
      so.do_sample = true;
      so.temperature = r.spec->temperature;
      so.top_k = 0;  // OpenAI's API has no top-k
      so.top_p = r.spec->top_p;
      tok[static_cast<int64_t>(i)] = model::next_tokens(logits.narrow(0, static_cast<int64_t>(i), 1), so, r.gen)[0];
    }
    return tok;
  };
  hooks.on_token = [&](int64_t index, int64_t token) {
    Row& r = rows[static_cast<size_t>(index)];
    r.result.ids.push_back(token);
    const bool eos = std::find(go.eos_token_ids.begin(), go.eos_token_ids.end(), token) != go.eos_token_ids.end();
    std::string delta = r.text->push(static_cast<int32_t>(token));
    if (!delta.empty() && r.job->on_delta) r.job->on_delta(r.index, delta);
    if (eos || r.text->stopped()) r.result.finish_reason = "stop";
    return !r.text->stopped() && !(r.job->cancelled && r.job->cancelled());
  };
  model::decode(model_, prompts, max_new, go, hooks);

  // Rows finished; complete each job with its rows in order.
  size_t k = 0;
  for (auto& job : jobs) {
    std::vector<RowResult> results;
    for (size_t i = 0; i < job->rows.size(); ++i, ++k) {
      Row& r = rows[k];
      std::string rest = r.text->finish();
      if (!rest.empty() && job->on_delta) job->on_delta(i, rest);
      r.result.text = r.text->text();
      if (r.result.finish_reason.empty()) r.result.finish_reason = "length";
      results.push_back(std::move(r.result));
    }
    job->result.set_value(std::move(results));
  }
}

}  // namespace prefer::serve
