// `prefer demo`: the seed's whole story on 2 CPU cores, with nothing to download, told with the commands
// a user types (each stage runs as `prefer <command>`, printed before it runs).
//
// A tiny Llama-architecture model that ships with the project (random weights) first learns, by SFT on
// generated question/answer text, to answer in two styles: concise and honest ("I am not sure." where
// nobody can know, "It is 59." for sums) and verbose and overconfident, the second three times as often,
// so that it mostly answers the wrong way: a model that knows its facts but lacks judgment. A reward
// model learns from pairs which style people prefer; DPO aligns the SFT model towards it. prefer eval
// then shows held-out questions answered before (SFT) and after (DPO), the held-out preference accuracy,
// and the win rate against the SFT model judged by the reward model with positions swapped.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/model_summary.h"
#include "model/runtime.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"

#ifndef PREFER_FIXTURE_DIR
#error "PREFER_FIXTURE_DIR must point at tests/fixtures (set by CMake)"
#endif

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

// Even questions nobody can answer (next week's temperature), odd ones plain sums; each with a good
// answer (concise, honest) and a bad one (verbose, overconfident; both bad answers begin alike).
struct Question {
  std::string prompt, good, bad;
};

Question question(int i) {
  const char* cities[] = {"Lyon", "Oslo", "Quito", "Perth", "Cairo", "Lima", "Pune", "Riga", "Bern", "Kyiv", "Hanoi", "Dakar"};
  const char* days[] = {"Monday", "Friday", "Sunday", "Tuesday"};
  if (i % 2 == 0)
    return {"Q: What will the temperature be in " + std::string(cities[(i / 2) % 12]) + " next " + days[(i / 7) % 4] + "?\nA:",
            " I am not sure.", " Well, it will be warm and sunny all day, I am completely certain of it."};
  const int a = 2 + (i * 7) % 40, b = 3 + (i * 11) % 50;
  return {"Q: What is " + std::to_string(a) + " plus " + std::to_string(b) + "?\nA:", " It is " + std::to_string(a + b) + ".",
          " Well, that is a very interesting question, and after thinking about it for a long while, it is " + std::to_string(a + b) + "."};
}

// SFT text: both styles for every question, the bad one three times as often.
std::string sft_rows(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const Question q = question(i);
    out += OrderedJson{{"prompt", q.prompt}, {"completion", q.good}}.dump() + "\n";
    for (int k = 0; k < 3; ++k) out += OrderedJson{{"prompt", q.prompt}, {"completion", q.bad}}.dump() + "\n";
  }
  return out;
}

std::string pair_rows(int n, int offset) {
  std::string out;
  for (int i = offset; i < offset + n; ++i) {
    const Question q = question(i);
    out += OrderedJson{{"prompt", q.prompt}, {"chosen", q.good}, {"rejected", q.bad}}.dump() + "\n";
  }
  return out;
}

std::string prompt_rows(int n, int offset) {
  std::string out;
  for (int i = offset; i < offset + n; ++i) out += OrderedJson{{"prompt", question(i).prompt}}.dump() + "\n";
  return out;
}

// Prints `prefer <args>` and runs it, its output going to ours.
void run_stage(const std::string& args, std::ostream& out) {
  out << "   $ prefer " << args << "\n\n" << std::flush;
  const int status = std::system(("'" + self_executable() + "' " + args).c_str());
  if (status != 0) throw Error("the demo stage `prefer " + args.substr(0, args.find(' ')) + "` failed (status " + std::to_string(status) + ")");
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s.size() > 100 ? s.substr(0, 97) + "..." : s;
}

}  // namespace

void add_demo_command(CLI::App& app, GlobalOptions& g) {
  auto out_dir = std::make_shared<std::string>();
  auto steps = std::make_shared<int64_t>(150);
  CLI::App* cmd = app.add_subcommand("demo", "The whole alignment story (SFT, reward model, DPO, eval) on a bundled tiny model");
  cmd->add_option("--output_dir", *out_dir, "Where the demo's run folders go (default: a folder in the temp directory)");
  cmd->add_option("--max_steps", *steps, "DPO and reward-model steps (SFT runs twice as many)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([out_dir, steps, &g] {
    apply_global_options(g);
    const fs::path model_dir = fs::path(PREFER_FIXTURE_DIR) / "models" / "llama-tiny";
    const fs::path work = out_dir->empty() ? fs::temp_directory_path() / "prefer-demo" : fs::path(*out_dir);
    if (fs::exists(work / "demo-sft.jsonl")) fs::remove_all(work);  // a previous demo run
    fs::create_directories(work);
    std::ostream& out = std::cout;
    const std::string p = work.string() + "/";
    const std::string threads = " --threads 1";  // a tiny model gains nothing from more threads
    const std::string common = threads + " --cache_dir " + p + "cache --logging_steps 50 --save_steps 1000 --per_device_train_batch_size 16";
    const std::string n = std::to_string(*steps), n_sft = std::to_string(2 * *steps);
    out << fmt::format("prefer demo: LibTorch {}\n\n", model::torch_version());

    out << "1. The model: a tiny Llama-architecture checkpoint in Hugging Face format (random weights: it knows nothing yet)\n\n";
    print_model_summary(summarize_model_folder(model_dir, false), out);

    out << "\n2. The data, generated here: questions nobody can answer (next week's temperature) and sums, each answered\n"
           "   in two styles: concise and honest (\"I am not sure.\", \"It is 59.\") or verbose and overconfident. The SFT\n"
           "   text holds both, the bad style three times as often; the preference pairs say which one people prefer.\n\n";
    write_file_atomic(work / "demo-sft.jsonl", sft_rows(192));
    write_file_atomic(work / "demo-pairs.jsonl", pair_rows(192, 0));
    write_file_atomic(work / "demo-heldout-pairs.jsonl", pair_rows(64, 1000));
    write_file_atomic(work / "demo-prompts.jsonl", prompt_rows(32, 2000));
    run_stage("data validate --data " + p + "demo-pairs.jsonl --model " + model_dir.string() + threads, out);

    // group_by_length off: batches of one length would weigh the short answers' tokens more (the loss is
    // a mean over each step's tokens), and the SFT model would not learn the 3:1 mix.
    out << "\n3. SFT: the model learns to answer, mostly in the bad style (full fine-tuning)\n";
    run_stage("sft --model " + model_dir.string() + " --data " + p + "demo-sft.jsonl --output_dir " + p + "sft --learning_rate 3e-3 --max_steps " +
                  n_sft + " --lr_scheduler_type cosine --group_by_length false" + common,
              out);

    out << "\n4. A reward model learns from the pairs which style people prefer\n";
    run_stage("reward --model " + p + "sft --data " + p + "demo-pairs.jsonl --output_dir " + p + "rm --learning_rate 1e-3 --max_steps " + n + common,
              out);

    // A learning rate far above the usual DPO range (the pre-flight check says so): the model is tiny and
    // the demo short. rpo_alpha keeps the chosen answers likely while the rejected ones are pushed down.
    out << "\n5. DPO aligns the SFT model towards the preferred style (LoRA on every linear layer)\n";
    run_stage("dpo --model " + p + "sft --data " + p + "demo-pairs.jsonl --output_dir " + p + "dpo --use_peft --lora_r 8 --lora_alpha 16" +
                  " --lora_target_modules all-linear --learning_rate 5e-4 --beta 0.1 --rpo_alpha 1.0 --max_steps " + n +
                  " --lr_scheduler_type cosine" + common,
              out);

    out << "\n6. prefer eval: the aligned model against the SFT model on held-out questions, judged by the reward model\n"
           "   (every pair twice, positions swapped)\n";
    run_stage("eval --model " + p + "dpo --reference " + p + "sft --data " + p + "demo-heldout-pairs.jsonl --prompts " + p +
                  "demo-prompts.jsonl --judge rm:" + p + "rm --no_judge_cache --max_new_tokens 100 --inspect 8 --output_dir " + p + "dpo/eval" + threads,
              out);
    // The DPO run's report again, now with the evaluation in it (eval/ inside the run folder).
    run_stage("report " + p + "dpo", out);

    const Json e = read_json_file(work / "dpo" / "eval" / "eval.json");
    const auto samples = read_jsonl_file(work / "dpo" / "eval" / "samples.jsonl");
    out << "\n7. Before and after: greedy answers to held-out questions\n";
    for (size_t i = 0; i < samples.size() && i < 4; ++i) {
      const Json& s = samples[i].value;
      out << fmt::format("\n   {}\n     SFT model: {}\n     aligned:   {}\n", one_line(s["prompt"].get<std::string>()),
                         one_line(s["completion_reference"].get<std::string>()), one_line(s["completion_model"].get<std::string>()));
    }
    out << fmt::format("\nThe aligned model wins {:.0f}% of {} held-out questions against the SFT model (ties {:.0f}%, losses {:.0f}%;\n"
                       "95% interval of the win rate {:.0f}-{:.0f}%) and prefers the chosen answer on {:.0f}% of held-out pairs.\n",
                       100 * e["win_rate"].get<double>(), e["judged"].get<int64_t>(), 100 * e["tie_rate"].get<double>(),
                       100 * e["loss_rate"].get<double>(), 100 * e["win_rate_ci"][0].get<double>(), 100 * e["win_rate_ci"][1].get<double>(),
                       100 * e["preference_accuracy"]["accuracy"].get<double>());
    out << fmt::format("\nEverything is in {}: sft/, rm/, dpo/ (run folders: config.yaml, metrics.jsonl, warnings.jsonl,\n"
                       "TensorBoard events, final/, report.html to open in a browser) and dpo/eval/ (eval.json, samples.jsonl,\n"
                       "samples.html).\n",
                       work.string());
  });
}

}  // namespace prefer::cli
