// `prefer inspect --model DIR`: what a model folder holds, validated (config, every weight file's
// header and offsets, tokenizer files).
#include <iostream>

#include "cli/command.h"
#include "cli/model_summary.h"

namespace prefer::cli {

void add_inspect_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model;
    bool tensors = false;
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("inspect", "Describe and validate a Hugging Face model folder");
  cmd->add_option("--model", opt->model, "Model folder (config.json, *.safetensors, tokenizer files)")->required();
  add_bool_option(cmd, "tensors", opt->tensors, "List every tensor with dtype and shape");
  add_bool_option(cmd, "json", opt->json, "Print the summary as one JSON object");
  cmd->callback([opt, &g] {
    apply_global_options(g);
    Json s = summarize_model_folder(opt->model, opt->tensors);
    if (opt->json) std::cout << s.dump(2) << "\n";
    else print_model_summary(s, std::cout);
  });
}

}  // namespace prefer::cli
