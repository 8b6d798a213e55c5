// `prefer serve --model DIR [--adapter DIR] [--port 8000]`: an OpenAI-compatible HTTP server over one
// model (serve/openai_server), the local judge of `prefer eval` and a quick way to talk to a trained
// model. Runs until SIGINT or SIGTERM.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "cli/command.h"
#include "cli/quantization_options.h"
#include "data/pipeline.h"
#include "model/loader.h"
#include "model/model_source.h"
#include "serve/openai_server.h"
#include "serve/scheduler.h"
#include "util/atomic_file.h"

namespace prefer::cli {
namespace fs = std::filesystem;

void add_serve_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string model, adapter, served_model_name, port_file;
    serve::ServerOptions server;
    int64_t max_batch_size = 16, max_queue = 64;
    double max_body_mb = 8;
    bool bf16 = false;
    QuantizationFlags quant;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("serve", "An OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, /v1/models)");
  cmd->add_option("--model", o->model, "Model folder, run folder or PEFT adapter")->required();
  cmd->add_option("--adapter", o->adapter, "A PEFT adapter applied on top of --model");
  cmd->add_option("--host", o->server.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o->server.port, "Port to listen on (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--port_file", o->port_file, "Write the port listened on to this file once the server is ready");
  cmd->add_option("--api_key", o->server.api_key, "Require 'Authorization: Bearer KEY' on /v1 requests");
  cmd->add_option("--served_model_name", o->served_model_name, "The model id /v1/models lists [default: the model folder's name]");
  cmd->add_option("--max_body_mb", o->max_body_mb, "Larger request bodies get 413")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--max_batch_size", o->max_batch_size, "Sequences decoded together (a request's n choices count n)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--max_queue", o->max_queue, "Requests waiting beyond the batch; more get 503")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--default_max_tokens", o->server.default_max_tokens, "max_tokens of chat requests that set none")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--max_tokens_limit", o->server.max_tokens_limit, "Requests asking for more tokens get 400")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "bf16", o->bf16, "Compute in bfloat16");
  o->quant.add_to(cmd);
  cmd->callback([o, &g] {
    apply_global_options(g);
    // SIGINT/SIGTERM are taken by one thread with sigwait (stopping the server from a signal handler
    // is not safe); blocked here, before any other thread starts, so every thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    model::ModelSource src = model::resolve_model_source(o->model, o->adapter.empty() ? std::nullopt : std::optional<fs::path>(o->adapter));
    data::TextModel text = data::TextModel::load(src.tokenizer);
    model::LoadOptions lo;
    lo.dtype = o->bf16 ? at::kBFloat16 : at::kFloat;
    lo.quantization = o->quant.config();
    model::CausalLM m = model::load_model_source(src, lo);

    serve::SchedulerOptions so;
    so.max_batch_rows = o->max_batch_size;
    so.max_queue = o->max_queue;
    for (int64_t id : m.config().eos_token_ids) so.eos_token_ids.push_back(id);
    if (auto e = text.tokenizer.eos_id()) so.eos_token_ids.push_back(*e);
    so.pad_token_id = text.tokenizer.pad_id().value_or(0);
    serve::Scheduler scheduler(m, text.tokenizer, so);

    serve::ServerOptions opt = o->server;
    opt.max_body_bytes = static_cast<size_t>(o->max_body_mb * 1024 * 1024);
    opt.model_name = !o->served_model_name.empty() ? o->served_model_name : fs::absolute(o->model).lexically_normal().filename().string();
    if (opt.model_name.empty()) opt.model_name = fs::absolute(o->model).lexically_normal().parent_path().filename().string();
    serve::OpenAiServer server(m, text, scheduler, opt);
    const int port = server.bind();
    std::thread([&server, signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      std::cerr << "prefer serve: stopping\n";
      server.stop();
    }).detach();
    if (!o->port_file.empty()) write_file_atomic(o->port_file, std::to_string(port) + "\n");
    std::cerr << fmt::format("prefer serve: {} ({}) on http://{}:{}/v1{}\n", opt.model_name, src.describe(), opt.host, port,
                             opt.api_key.empty() ? "" : " (API key required)");
    server.listen();
  });
}

}  // namespace prefer::cli
