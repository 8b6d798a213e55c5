#include "serve/scheduler.h"

#include <gtest/gtest.h>

#include <latch>

#include "data/pipeline.h"
#include "model/generation.h"
#include "model/model_source.h"
#include "test_util.h"

namespace prefer::serve {

namespace {

struct Fixture {
  model::CausalLM m;
  data::TextModel text;
};

Fixture& llama() {
  static Fixture f{model::load_model_source(model::resolve_model_source(test::fixture("models/llama-tiny"))),
                   data::TextModel::load(test::fixture("models/llama-tiny"))};
  return f;
}

std::vector<RowResult> run_job(Scheduler& s, std::vector<RowSpec> rows) {
  auto job = std::make_shared<Job>();
  job->rows = std::move(rows);
  auto done = job->result.get_future();
  EXPECT_TRUE(s.submit(job));
  return done.get();
}

}  // namespace

TEST(Scheduler, BatchedGreedyRowsEqualGenerateOnEachPromptAlone) {
  Fixture& f = llama();
  Scheduler s(f.m, f.text.tokenizer, {.max_batch_rows = 8, .eos_token_ids = {2}});
  const std::vector<std::vector<int64_t>> prompts = {{1, 5, 9, 13}, {1, 40}, {1, 7, 7, 7, 7, 7, 3}};
  std::vector<RowSpec> rows;
  for (size_t i = 0; i < prompts.size(); ++i) rows.push_back({.prompt_ids = prompts[i], .max_new_tokens = 6 + static_cast<int64_t>(i), .temperature = 0});
  std::vector<RowResult> got = run_job(s, rows);
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    model::GenerationOptions go;
    go.max_new_tokens = 6 + static_cast<int64_t>(i);
    go.eos_token_ids = {2};
    auto alone = model::generate(f.m, {prompts[i]}, go);
    EXPECT_EQ(got[i].ids, alone[0].ids) << i;
    std::vector<int32_t> ids(alone[0].ids.begin(), alone[0].ids.end());
    EXPECT_EQ(got[i].text, f.text.tokenizer.decode(ids, true)) << i;
    EXPECT_EQ(got[i].finish_reason, alone[0].stopped_on_eos ? "stop" : "length") << i;
  }
}

TEST(Scheduler, SeededSamplingRepeatsAndRowsDiffer) {
  Fixture& f = llama();
  Scheduler s(f.m, f.text.tokenizer, {.max_batch_rows = 8});
  std::vector<RowSpec> rows;
  for (uint64_t seed : {1u, 2u}) rows.push_back({.prompt_ids = {1, 5, 9}, .max_new_tokens = 12, .temperature = 1.5, .top_p = 1.0, .seed = seed});
  auto a = run_job(s, rows), b = run_job(s, rows);
  EXPECT_EQ(a[0].ids, b[0].ids);
  EXPECT_EQ(a[1].ids, b[1].ids);
  EXPECT_NE(a[0].ids, a[1].ids);  // 12 tokens at temperature 1.5 from two seeds: equal would be a broken generator
}

TEST(Scheduler, AFullQueueRefusesInsteadOfWaiting) {
  Fixture& f = llama();
  Scheduler s(f.m, f.text.tokenizer, {.max_batch_rows = 1, .max_queue = 1});
  // The first job holds the decoding thread inside its first delta until released.
  std::latch started(1), release(1);
  auto first = std::make_shared<Job>();
  first->rows = {{.prompt_ids = {1, 5}, .max_new_tokens = 3, .temperature = 0}};
  bool once = false;
  first->on_delta = [&](size_t, const std::string&) {
    if (once) return;
    once = true;
    started.count_down();
    release.wait();
  };
  first->cancelled = [] { return false; };
  auto done1 = first->result.get_future();
  ASSERT_TRUE(s.submit(first));
  // The tiny vocabulary may decode a token to no text: fall back to waiting for completion then.
  auto waiting = [&] { return started.try_wait() || done1.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready; };
  for (int i = 0; i < 2000 && !waiting(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(started.try_wait()) << "the first job sent no text";
  auto second = std::make_shared<Job>();
  second->rows = {{.prompt_ids = {1, 6}, .max_new_tokens = 2, .temperature = 0}};
  auto done2 = second->result.get_future();
  EXPECT_TRUE(s.submit(second));  // waits in the queue
  auto third = std::make_shared<Job>();
  third->rows = {{.prompt_ids = {1, 7}, .max_new_tokens = 2, .temperature = 0}};
  EXPECT_FALSE(s.submit(third));  // queue full
  release.count_down();
  EXPECT_EQ(done1.get().size(), 1u);
  EXPECT_EQ(done2.get().size(), 1u);
}

TEST(Scheduler, ADecodingErrorReachesTheRequestAndTheThreadGoesOn) {
  Fixture& f = llama();
  Scheduler s(f.m, f.text.tokenizer, {});
  auto bad = std::make_shared<Job>();
  bad->rows = {{.prompt_ids = {1, f.m.config().vocab_size + 5}, .max_new_tokens = 2, .temperature = 0}};
  auto done = bad->result.get_future();
  ASSERT_TRUE(s.submit(bad));
  EXPECT_ANY_THROW(done.get());
  EXPECT_EQ(run_job(s, {{.prompt_ids = {1, 5}, .max_new_tokens = 2, .temperature = 0}}).size(), 1u);
}

}  // namespace prefer::serve
