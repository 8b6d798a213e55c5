// prefer launch and data-parallel training over c10d (Gloo on loopback), pinned to the one-process
// run it must equal: 2 workers x batch 2 give the losses, gradient norms and final weights of
// 1 worker x batch 4 (fp32), for DPO (pair means) and SFT (token means); so do 2 "nodes" of one
// worker each. A killed worker stops the run with the lost rank named, and the resume from its last
// checkpoint equals an uninterrupted run.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>

#include "cli/cli_run.h"
#include "cli/rl_files.h"
#include "cli/run_files.h"
#include "io/safetensors.h"
#include "test_util.h"
#include "train/trainer.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {
namespace fs = std::filesystem;

namespace {

// A port per test process and call (ctest runs tests in parallel), below the ports the kernel hands out
// to Gloo's own sockets.
int next_port() {
  static int n = 0;
  return 20000 + static_cast<int>(::getpid() % 1500) * 8 + (n++ % 8);  // below the ephemeral range (32768+)
}

std::string dpo_args(const test::TempDir& tmp, int per_device, const fs::path& out, const std::string& cache = "cache") {
  return "dpo --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "p.jsonl").string() +
         " --cache_dir " + (tmp / cache).string() + " --learning_rate 1e-3 --logging_steps 1 --max_steps 4 --seed 5 --save_steps 2"
         " --per_device_train_batch_size " + std::to_string(per_device) + " --output_dir " + out.string();
}

std::string launch(int nproc, int port, const std::string& extra = "") {
  return "launch --nproc_per_node " + std::to_string(nproc) + " --master_port " + std::to_string(port) + extra + " -- prefer ";
}

// Starts `prefer <args>` in the background, output to `log`; returns its pid.
pid_t start_prefer(const std::string& args, const fs::path& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string cmd = "exec " + std::string(PREFER_BINARY) + " " + args + " > '" + log.string() + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The largest |a - b| over every tensor of two runs' final/model.safetensors (fp32).
//
// Runs that split a batch differently compute GEMMs over other row counts, whose blocking sums in
// another order: gradients differ in float32's last bits, and in a weight whose gradient nearly
// cancels, Adam's normalisation carries that into its update. Measured: 0.9e-6 and 2.0e-6 (two
// implementations of the LM head's log-softmax) after 4 steps of lr 1e-3. A step without the
// gradients' all-reduce moves weights by about the learning rate, 100x over kSameWeights.
constexpr double kSameWeights = 1e-5;

double max_weight_diff(const fs::path& a, const fs::path& b) {
  io::SafetensorsFile fa(a / "final" / "model.safetensors"), fb(b / "final" / "model.safetensors");
  EXPECT_EQ(fa.tensors().size(), fb.tensors().size());
  double worst = 0;
  for (const auto& t : fa.tensors()) {
    io::TensorView va = fa.view(t), vb = fb.view(t.name);
    EXPECT_EQ(va.nbytes, vb.nbytes) << t.name;
    std::vector<float> x(va.nbytes / 4), y(vb.nbytes / 4);
    std::memcpy(x.data(), va.data, va.nbytes);
    std::memcpy(y.data(), vb.data, std::min(va.nbytes, vb.nbytes));
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(x[i] - y[i])));
  }
  return worst;
}

void expect_same_curves(const fs::path& a, const fs::path& b, const std::string& what) {
  std::vector<Json> ra = test::metrics_rows(a), rb = test::metrics_rows(b);
  ASSERT_EQ(ra.size(), rb.size()) << what;
  ASSERT_FALSE(ra.empty()) << what;
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_NEAR(ra[i]["loss"].get<double>(), rb[i]["loss"].get<double>(), 1e-6) << what << " step " << i + 1;
    EXPECT_NEAR(ra[i]["grad_norm"].get<double>(), rb[i]["grad_norm"].get<double>(), 1e-5 * ra[i]["grad_norm"].get<double>())
        << what << " step " << i + 1;
    EXPECT_EQ(ra[i]["num_tokens"], rb[i]["num_tokens"]) << what;
  }
}

}  // namespace

TEST(LaunchE2E, DpoTwoWorkersAndTwoNodesEqualOneWorkerWithTheGlobalBatch) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 16);
  auto one = test::run_prefer(dpo_args(tmp, 4, tmp / "one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  // Its own cache: the reference pass is split between the workers and gathered.
  auto two = test::run_prefer(launch(2, next_port()) + dpo_args(tmp, 2, tmp / "two", "cache2"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("reference log-probs: 16 pairs computed and cached"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("data parallel: 2 workers over Gloo"), std::string::npos) << two.output;
  expect_same_curves(tmp / "one", tmp / "two", "2 workers");
  EXPECT_LT(max_weight_diff(tmp / "one", tmp / "two"), kSameWeights);
  EXPECT_EQ(read_json_file(tmp / "two" / "checkpoint-2" / "trainer_state.json")["world_size"], 2);

  // ZeRO-1: each rank keeps about half of the AdamW state; the numbers and the checkpoint's (gathered)
  // optimizer state are those of plain data parallelism.
  auto zero = test::run_prefer(launch(2, next_port()) + dpo_args(tmp, 2, tmp / "zero") + " --zero_stage 1");
  ASSERT_EQ(zero.exit_code, 0) << zero.output;
  EXPECT_NE(zero.output.find("ZeRO-1: rank 0 keeps the optimizer state of 86016 of 170432 parameters"), std::string::npos) << zero.output;
  expect_same_curves(tmp / "two", tmp / "zero", "ZeRO-1");
  EXPECT_LT(max_weight_diff(tmp / "one", tmp / "zero"), kSameWeights);
  {
    io::SafetensorsFile a(tmp / "two" / "checkpoint-2" / "optimizer.safetensors"), b(tmp / "zero" / "checkpoint-2" / "optimizer.safetensors");
    EXPECT_EQ(a.tensors().size(), b.tensors().size());
  }

  // Two "nodes" of one worker each: node 1 started first, node 0 hosts the store.
  const int port = next_port();
  pid_t node1 = start_prefer(launch(1, port, " --nnodes 2 --node_rank 1") + dpo_args(tmp, 2, tmp / "nodes"), tmp / "node1.log");
  auto node0 = test::run_prefer(launch(1, port, " --nnodes 2 --node_rank 0") + dpo_args(tmp, 2, tmp / "nodes"));
  EXPECT_EQ(wait_exit(node1), 0) << read_file(tmp / "node1.log");
  ASSERT_EQ(node0.exit_code, 0) << node0.output;
  expect_same_curves(tmp / "one", tmp / "nodes", "2 nodes");
  EXPECT_LT(max_weight_diff(tmp / "one", tmp / "nodes"), kSameWeights);

  // A checkpoint of 2 x 2 resumes on 1 x 4 (the same global batch) and ends where the others did.
  fs::copy(tmp / "two", tmp / "resumed", fs::copy_options::recursive);
  fs::remove_all(tmp / "resumed" / "final");
  auto resumed = test::run_prefer(dpo_args(tmp, 4, tmp / "resumed") + " --resume_from_checkpoint latest");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("written by 2 worker(s), this run has 1"), std::string::npos) << resumed.output;
  EXPECT_LT(max_weight_diff(tmp / "one", tmp / "resumed"), kSameWeights);
  auto other = test::run_prefer(dpo_args(tmp, 2, tmp / "resumed") + " --resume_from_checkpoint " + (tmp / "two" / "checkpoint-2").string());
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find("global batch of 4"), std::string::npos) << other.output;
}

TEST(LaunchE2E, SftTokenMeansAcrossWorkers) {
  // Completions of very different lengths: a per-rank mean would weight them wrongly.
  test::TempDir tmp;
  std::string s;
  for (int i = 0; i < 16; ++i) {
    std::string c = " It is";
    for (int k = 0; k < 1 + (i * 7) % 13; ++k) c += " very";
    s += Json({{"prompt", "Describe thing " + std::to_string(i) + "."}, {"completion", c + " clear."}}).dump() + "\n";
  }
  test::write_bytes(tmp / "s.jsonl", s);
  auto args = [&](int per, const fs::path& out) {
    return "sft --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "s.jsonl").string() +
           " --cache_dir " + (tmp / "cache").string() + " --learning_rate 1e-3 --logging_steps 1 --max_steps 4 --seed 3"
           " --gradient_accumulation_steps 2 --per_device_train_batch_size " + std::to_string(per) + " --output_dir " + out.string();
  };
  auto one = test::run_prefer(args(4, tmp / "one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = test::run_prefer(launch(2, next_port()) + args(2, tmp / "two"));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  expect_same_curves(tmp / "one", tmp / "two", "sft");
  // Two ranks sum the gradient in another order; after 4 Adam steps of lr 1e-3 that leaves ~1e-6
  // (1.14e-6 measured on an AMD EPYC, Zen 4), while a per-rank mean moves weights by ~1e-4.
  EXPECT_LT(max_weight_diff(tmp / "one", tmp / "two"), 3e-6);
}

TEST(LaunchE2E, KilledWorkerEndsTheRunAndTheResumeEqualsAnUninterruptedRun) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 32);
  // Long enough steps (accumulation 8) that a checkpoint appears well before the end.
  auto args = [&](const fs::path& out) {
    return "dpo --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "p.jsonl").string() +
           " --cache_dir " + (tmp / "cache").string() + " --learning_rate 1e-3 --logging_steps 1 --max_steps 16 --seed 5"
           " --save_steps 2 --gradient_accumulation_steps 8 --per_device_train_batch_size 2 --ddp_timeout 60 --output_dir " + out.string();
  };
  const fs::path log = tmp / "launch.log";
  pid_t launcher = start_prefer(launch(2, next_port(), " --grace 20") + args(tmp / "run"), log);
  pid_t rank1 = -1;
  static const std::regex started("started rank 1 \\(pid ([0-9]+)\\)");
  for (int i = 0; i < 6000; ++i) {  // up to a minute
    std::smatch m;
    const std::string text = fs::exists(log) ? read_file(log) : "";
    if (rank1 < 0 && std::regex_search(text, m, started)) rank1 = std::stoi(m[1]);
    if (rank1 > 0 && fs::exists(tmp / "run" / "checkpoint-2" / "trainer_state.json")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(rank1, 0) << read_file(log);
  ::kill(rank1, SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_exit(launcher);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string out = read_file(log);
  EXPECT_NE(code, 0) << out;
  EXPECT_LT(took, 30.0) << out;
  EXPECT_NE(out.find("failed: rank 1"), std::string::npos) << out;
  EXPECT_NE(out.find("killed by signal 9"), std::string::npos) << out;
  EXPECT_NE(out.find("lost rank 1"), std::string::npos) << out;  // rank 0's own error names the lost rank
  EXPECT_FALSE(fs::exists(tmp / "run" / "final")) << out;

  auto resumed = test::run_prefer(launch(2, next_port()) + args(tmp / "run") + " --resume_from_checkpoint latest");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto whole = test::run_prefer(launch(2, next_port()) + args(tmp / "whole"));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_LT(max_weight_diff(tmp / "whole", tmp / "run"), 1e-6);
  std::vector<Json> a = test::metrics_rows(tmp / "whole"), b = test::metrics_rows(tmp / "run");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_NEAR(a.back()["loss"].get<double>(), b.back()["loss"].get<double>(), 1e-6);
}

TEST(LaunchE2E, CtrlCStopsEveryWorkerAtOneStepWithACheckpoint) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 32);
  const fs::path log = tmp / "launch.log";
  pid_t launcher = start_prefer(launch(2, next_port()) + "dpo --threads 1 --model " + test::fixture("models/llama-tiny").string() +
                                    " --data " + (tmp / "p.jsonl").string() + " --cache_dir " + (tmp / "cache").string() +
                                    " --max_steps 500 --save_steps 1000 --logging_steps 1 --gradient_accumulation_steps 4"
                                    " --per_device_train_batch_size 2 --output_dir " + (tmp / "run").string(),
                                log);
  for (int i = 0; i < 6000 && (!fs::exists(tmp / "run" / "metrics.jsonl") || test::metrics_rows(tmp / "run").size() < 2); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(launcher, SIGINT);
  EXPECT_EQ(wait_exit(launcher), 130);
  const std::string out = read_file(log);
  EXPECT_NE(out.find("prefer launch: stopped by signal 2"), std::string::npos) << out;
  EXPECT_NE(out.find("resume with: prefer launch ... -- prefer dpo"), std::string::npos) << out;
  const fs::path ck = train::latest_checkpoint(tmp / "run");
  ASSERT_FALSE(ck.empty()) << out;
  EXPECT_FALSE(fs::exists(tmp / "run" / "final"));
}

TEST(LaunchE2E, BusyPortAndMismatchedWorkersAreClearErrors) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 8);
  // A port someone else listens on.
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(sock, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  const int busy = ntohs(addr.sin_port);
  auto r = test::run_prefer(launch(2, busy) + dpo_args(tmp, 2, tmp / "a"));
  ::close(sock);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("cannot host the workers' store on port " + std::to_string(busy)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("choose another --master_port"), std::string::npos) << r.output;

  // Two nodes started with different learning rates.
  const int port = next_port();
  pid_t node1 = start_prefer(launch(1, port, " --nnodes 2 --node_rank 1") + dpo_args(tmp, 2, tmp / "b") + " --learning_rate 1e-4 --ddp_timeout 30",
                             tmp / "node1.log");
  auto node0 = test::run_prefer(launch(1, port, " --nnodes 2 --node_rank 0") + dpo_args(tmp, 2, tmp / "b") + " --ddp_timeout 30");
  wait_exit(node1);
  EXPECT_NE(node0.exit_code, 0);
  EXPECT_NE(node0.output.find("rank 1 was started with other options, model or data than rank 0"), std::string::npos) << node0.output;
  EXPECT_FALSE(fs::exists(tmp / "b" / "final"));

  auto missing = test::run_prefer("launch --nproc_per_node 2");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("needs the program to run after --"), std::string::npos) << missing.output;
}

TEST(LaunchE2E, OnlineTrainersRollOutTheirShareOnEveryRank) {
  // As Accelerate runs TRL's online trainers: each rank samples and scores its own prompts, the gradients
  // are averaged. GRPO with a reward paying for low token ids still learns; rank 0 alone writes.
  test::TempDir tmp;
  test::write_reward_script(tmp / "reward.mjs");
  test::write_prompts(tmp / "prompts.jsonl", 32);
  const std::string common = " --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "prompts.jsonl").string() +
                             " --reward_command 'node " + (tmp / "reward.mjs").string() + "' --per_device_train_batch_size 8 "
                             "--gradient_accumulation_steps 2 --logging_steps 1";
  auto grpo = test::run_prefer(launch(2, next_port()) + "grpo" + common + " --num_generations 4 --max_completion_length 8 --max_steps 20 "
                               "--learning_rate 5e-3 --output_dir " + (tmp / "grpo").string());
  ASSERT_EQ(grpo.exit_code, 0) << grpo.output;
  std::vector<double> reward = test::series(test::metrics_rows(tmp / "grpo"), "reward");
  ASSERT_EQ(reward.size(), 20u);
  EXPECT_GT(test::mean(reward, 15, 20), test::mean(reward, 0, 5) + 0.05) << grpo.output;
  EXPECT_EQ(read_jsonl_file(tmp / "grpo" / "completions.jsonl").size(), 80u);  // rank 0's samples only
  EXPECT_TRUE(fs::exists(tmp / "grpo" / "final"));

  // PPO: 3 updates of 16 rollouts on each of 2 workers are 96 episodes.
  auto ppo = test::run_prefer(launch(2, next_port()) + "ppo" + common + " --response_length 8 --max_steps 3 --learning_rate 3e-3 "
                              "--output_dir " + (tmp / "ppo").string());
  ASSERT_EQ(ppo.exit_code, 0) << ppo.output;
  EXPECT_EQ(test::metrics_rows(tmp / "ppo").back()["episode"], 96);
}

}  // namespace prefer
