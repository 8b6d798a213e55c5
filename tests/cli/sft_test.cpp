// `prefer sft` end to end on the tiny fixtures: it learns (eval loss falls), its output (full and
// adapter) is a model `prefer dpo` trains from, packing and several data files work, bad input is a
// file:line:field error with no finished-looking run folder, SIGTERM checkpoints and resumes to the same
// curve, and a resume with other data is refused.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli/cli_run.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {
namespace fs = std::filesystem;

namespace {

const char* kTopics[] = {"the sky", "water", "a cat", "the sun", "bread", "music", "a tree", "the sea"};

void write_sft(const fs::path& file, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    std::string t = kTopics[i % 8];
    s += Json({{"prompt", "Describe " + t + " briefly."}, {"completion", " It is " + t + ". Short and clear."}}).dump() + "\n";
  }
  test::write_bytes(file, s);
}

std::string base(const test::TempDir& tmp) {
  return " --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --cache_dir " + (tmp / "cache").string() + " --seed 3";
}

std::vector<Json> rows(const fs::path& run, bool eval) {
  std::vector<Json> out;
  for (auto& r : read_jsonl_file(run / "metrics.jsonl")) {
    r.value.erase("tokens_per_second");
    if (r.value.contains("eval_loss") == eval) out.push_back(r.value);
  }
  return out;
}

}  // namespace

TEST(SftE2E, LowersEvalLossAndItsOutputTrainsWithDpo) {
  test::TempDir tmp;
  write_sft(tmp / "sft.jsonl", 40);
  auto r = test::run_prefer("sft" + base(tmp) + " --data " + (tmp / "sft.jsonl").string() + " --eval_split 0.2 --max_steps 24"
                            " --per_device_train_batch_size 4 --learning_rate 3e-3 --logging_steps 8 --output_dir " + (tmp / "full").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto ev = rows(tmp / "full", true);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_LT(ev.back()["eval_loss"].get<double>(), ev.front()["eval_loss"].get<double>() - 0.5);
  auto tr = rows(tmp / "full", false);
  for (const char* k : {"loss", "mean_token_accuracy", "entropy", "num_tokens", "grad_norm", "learning_rate"}) EXPECT_TRUE(tr[0].contains(k)) << k;
  for (const char* k : {"eval_loss", "eval_mean_token_accuracy", "eval_entropy"}) EXPECT_TRUE(ev[0].contains(k)) << k;
  EXPECT_TRUE(fs::exists(tmp / "full" / "final" / "model.safetensors"));
  std::string card = read_file(tmp / "full" / "final" / "README.md");
  EXPECT_NE(card.find("prefer sft"), std::string::npos);
  EXPECT_NE(card.find("eval_loss"), std::string::npos);

  // The same with LoRA: final/ is an adapter that every command takes as a model.
  auto a = test::run_prefer("sft" + base(tmp) + " --data " + (tmp / "sft.jsonl").string() + " --max_steps 4 --use_peft --lora_r 4"
                            " --per_device_train_batch_size 4 --learning_rate 3e-3 --output_dir " + (tmp / "lora").string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_TRUE(fs::exists(tmp / "lora" / "final" / "adapter_config.json"));

  std::string prefs;
  for (int i = 0; i < 8; ++i)
    prefs += Json({{"prompt", "Describe " + std::string(kTopics[i]) + "."}, {"chosen", " It is short."}, {"rejected", " Well, maybe, I am not sure."}}).dump() + "\n";
  test::write_bytes(tmp / "p.jsonl", prefs);
  for (const std::string from : {(tmp / "full" / "final").string(), (tmp / "lora").string()}) {
    auto d = test::run_prefer("dpo --threads 1 --model " + from + " --data " + (tmp / "p.jsonl").string() + " --cache_dir " +
                              (tmp / "cache").string() + " --max_steps 2 --per_device_train_batch_size 4 --use_peft --lora_r 4 --output_dir " +
                              (tmp / ("dpo-" + fs::path(from).filename().string())).string());
    ASSERT_EQ(d.exit_code, 0) << d.output;
  }
  // A LoRA DPO run on the LoRA SFT output names that adapter as its base: the chain loads as a model.
  auto chain = test::run_prefer("generate --threads 1 --model " + (tmp / "dpo-lora").string() + " --data " + (tmp / "p.jsonl").string() +
                                " --max_new_tokens 2 --output " + (tmp / "c.jsonl").string());
  EXPECT_EQ(chain.exit_code, 0) << chain.output;
  auto d = test::run_prefer("generate --threads 1 --model " + (tmp / "lora").string() + " --data " + (tmp / "p.jsonl").string() +
                            " --max_new_tokens 2 --bf16 false --do_sample false --output " + (tmp / "g.jsonl").string());
  EXPECT_EQ(d.exit_code, 0) << d.output;
}

TEST(SftE2E, PackedTextFromSeveralFiles) {
  test::TempDir tmp;
  std::string a, b;
  for (int i = 0; i < 12; ++i) a += Json({{"text", "Notes about " + std::string(kTopics[i % 8]) + " number " + std::to_string(i)}}).dump() + "\n";
  for (int i = 0; i < 5; ++i) b += Json({{"text", "More on " + std::string(kTopics[i])}}).dump() + "\n";
  test::write_bytes(tmp / "a.jsonl", a);
  test::write_bytes(tmp / "b.jsonl", b);
  auto r = test::run_prefer("sft" + base(tmp) + " --data " + (tmp / "a.jsonl").string() + "," + (tmp / "b.jsonl").string() +
                            " --packing --max_length 96 --per_device_train_batch_size 2 --max_steps 3 --bf16 --output_dir " + (tmp / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sft: 17 examples"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("packed into rows of 96"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("loss on every token"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "run" / "final" / "model.safetensors"));
}

TEST(SftE2E, BadInputIsAFileLineFieldErrorAndNoFinishedRun) {
  test::TempDir tmp;
  test::write_bytes(tmp / "bad.jsonl", "{\"prompt\": \"a\", \"completion\": \" b\"}\n{\"prompt\": \"c\", \"completion\": \" d\"}\n{\"prompt\": \"e\"}\n");
  auto r = test::run_prefer("sft" + base(tmp) + " --data " + (tmp / "bad.jsonl").string() + " --output_dir " + (tmp / "run").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'completion'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "run" / "final"));
  auto p = test::run_prefer("sft" + base(tmp) + " --data " + (tmp / "bad.jsonl").string() + " --packing_strategy wrapped --output_dir " +
                            (tmp / "run2").string());
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.output.find("'packing_strategy'"), std::string::npos) << p.output;
}

TEST(SftE2E, SigtermCheckpointsThenResumesToTheSameCurve) {
  test::TempDir tmp;
  write_sft(tmp / "sft.jsonl", 16);
  const std::string args = base(tmp) + " --data " + (tmp / "sft.jsonl").string() +
                           " --max_steps 300 --per_device_train_batch_size 2 --learning_rate 1e-3 --logging_steps 1 --save_steps 1000";
  auto whole = test::run_prefer("sft" + args + " --output_dir " + (tmp / "whole").string());
  ASSERT_EQ(whole.exit_code, 0) << whole.output;

  const fs::path run = tmp / "stopped";
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string cmd = std::string(PREFER_BINARY) + " sft" + args + " --output_dir " + run.string() + " > " + (tmp / "log").string() + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool sent = false;
  for (int i = 0; i < 6000 && !sent; ++i) {
    if (fs::exists(run / "metrics.jsonl") && fs::file_size(run / "metrics.jsonl") > 0) {
      ::kill(pid, SIGTERM);
      sent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(sent);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal instead of stopping cleanly";
  ASSERT_FALSE(fs::exists(run / "final")) << "the run finished before the signal";
  EXPECT_EQ(WEXITSTATUS(status), 143) << read_file(tmp / "log");
  std::string log = read_file(tmp / "log");
  EXPECT_NE(log.find("SIGTERM received"), std::string::npos) << log;
  EXPECT_NE(log.find("resume with: prefer sft --config"), std::string::npos) << log;
  auto resumed = test::run_prefer("sft" + args + " --output_dir " + run.string() + " --resume_from_checkpoint latest");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(rows(run, false), rows(tmp / "whole", false));
}

TEST(SftE2E, ResumeWithOtherDataIsRefused) {
  test::TempDir tmp;
  write_sft(tmp / "a.jsonl", 16);
  write_sft(tmp / "b.jsonl", 12);
  const std::string args = base(tmp) + " --max_steps 4 --save_steps 2 --per_device_train_batch_size 2 --output_dir " + (tmp / "run").string();
  auto r = test::run_prefer("sft" + args + " --data " + (tmp / "a.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::remove_all(tmp / "run" / "final");
  auto other = test::run_prefer("sft" + args + " --data " + (tmp / "b.jsonl").string() + " --resume_from_checkpoint latest");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.output.find("this run's data differ from the checkpoint's"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find("--ignore_resume_mismatch"), std::string::npos) << other.output;
  auto lr = test::run_prefer("sft" + args + " --data " + (tmp / "a.jsonl").string() + " --learning_rate 1e-3 --resume_from_checkpoint latest");
  EXPECT_EQ(lr.exit_code, 1);
  EXPECT_NE(lr.output.find("'learning_rate'"), std::string::npos) << lr.output;
  auto same = test::run_prefer("sft" + args + " --data " + (tmp / "a.jsonl").string() + " --resume_from_checkpoint latest");
  EXPECT_EQ(same.exit_code, 0) << same.output;
}

TEST(SftE2E, ATemplateFromAnotherModelBringsItsSpecialTokens) {
  // A "donor" folder: the fixture's tokenizer plus a special token <|turn|> that its template writes.
  test::TempDir tmp;
  const fs::path donor = tmp / "donor";
  fs::create_directories(donor);
  Json tj = read_json_file(test::fixture("models/llama-tiny/tokenizer.json"));
  tj["added_tokens"].push_back({{"id", 320}, {"content", "<|turn|>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                                {"normalized", false}, {"special", true}});
  write_json_file(donor / "tokenizer.json", tj);
  Json tc = read_json_file(test::fixture("models/llama-tiny/tokenizer_config.json"));
  tc["chat_template"] = "{% for m in messages %}<|turn|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                        "{% if add_generation_prompt %}<|turn|>assistant\n{% endif %}";
  write_json_file(donor / "tokenizer_config.json", tc);
  std::string s;
  for (int i = 0; i < 8; ++i)
    s += Json({{"messages", {{{"role", "user"}, {"content", "Name " + std::string(kTopics[i])}}, {{"role", "assistant"}, {"content", "It is here."}}}}})
             .dump() + "\n";
  test::write_bytes(tmp / "chat.jsonl", s);
  const std::string args = base(tmp) + " --data " + (tmp / "chat.jsonl").string() + " --chat_template_path " + donor.string() +
                           " --assistant_only_loss --max_steps 2 --per_device_train_batch_size 4";
  auto r = test::run_prefer("sft" + args + " --output_dir " + (tmp / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("added 1 special token(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("embeddings grow to 384 rows"), std::string::npos) << r.output;
  const fs::path fin = tmp / "run" / "final";
  EXPECT_EQ(read_json_file(fin / "config.json")["vocab_size"], 384);
  EXPECT_TRUE(fs::exists(fin / "chat_template.jinja"));
  test::write_bytes(tmp / "t.txt", "<|turn|>user\n");
  auto t = test::run_prefer("tokenize --model " + fin.string() + " --input " + (tmp / "t.txt").string());
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("320"), std::string::npos) << t.output;
  // The grown model is a model every command loads.
  test::write_bytes(tmp / "p.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
  auto g = test::run_prefer("generate --threads 1 --model " + fin.string() + " --data " + (tmp / "p.jsonl").string() + " --max_new_tokens 2 --output " +
                            (tmp / "g.jsonl").string());
  EXPECT_EQ(g.exit_code, 0) << g.output;
  // LoRA cannot carry grown embeddings: said before any training.
  auto l = test::run_prefer("sft" + args + " --use_peft --output_dir " + (tmp / "lora").string());
  EXPECT_EQ(l.exit_code, 1);
  EXPECT_NE(l.output.find("'chat_template_path'"), std::string::npos) << l.output;
}

}  // namespace prefer
