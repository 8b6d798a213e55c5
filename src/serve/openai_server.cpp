#include "serve/openai_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <random>

#include "util/error.h"
#include "util/log.h"

namespace prefer::serve {

namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_error(httplib::Response& res, const RequestError& e) {
  res.status = e.status;
  res.set_content(e.to_json(), "application/json");
}

// A prompt turned into token ids, with what the response needs to say about it.
struct PreparedRequest {
  SamplingRequest req;
  std::vector<std::vector<int64_t>> prompts;  // one per prompt (chat: one)
  int64_t prompt_tokens = 0;
  int64_t max_tokens = 0;
};

// What a streaming response's provider reads: SSE events the decoding thread appends.
struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> events;
  std::atomic<bool> cancelled{false};
};

std::string sse(const OrderedJson& chunk) { return "data: " + chunk.dump() + "\n\n"; }

}  // namespace

struct OpenAiServer::Impl {
  const model::CausalLM& model;
  const data::TextModel& text;
  Scheduler& scheduler;
  ServerOptions opt;
  httplib::Server http;
  std::atomic<int64_t> next_id{1};

  Impl(const model::CausalLM& m, const data::TextModel& t, Scheduler& s, ServerOptions o)
      : model(m), text(t), scheduler(s), opt(std::move(o)) {
    routes();
  }

  std::vector<int64_t> encode(const std::string& s, bool add_special) const {
    std::vector<int64_t> ids;
    for (int32_t id : text.tokenizer.encode(s, add_special)) ids.push_back(id);
    return ids;
  }

  PreparedRequest prepare(const std::string& body, bool chat) const {
    PreparedRequest p;
    p.req = parse_request(body, chat, opt.limits);
    const SamplingRequest& r = p.req;
    if (chat) {
      if (!text.templ())
        throw RequestError(400, "this model has no chat template; use /v1/completions with a prompt", "messages");
      text::ChatRenderOptions ro;
      ro.add_generation_prompt = true;
      ro.bos_token = text.tokenizer.config().bos_token;
      ro.eos_token = text.tokenizer.config().eos_token;
      std::string rendered;
      try {
        rendered = text.templ()->render(r.messages, ro);
      } catch (const Error& e) {
        throw RequestError(400, std::string("the chat template rejected these messages: ") + e.what(), "messages");
      }
      p.prompts.push_back(encode(rendered, false));
    } else {
      for (const auto& s : r.prompts) p.prompts.push_back(encode(s, true));
      for (const auto& ids : r.prompt_ids) {
        for (int64_t id : ids)
          if (id >= model.config().vocab_size)
            throw RequestError(400, "token id " + std::to_string(id) + " is outside the vocabulary (" +
                                        std::to_string(model.config().vocab_size) + " tokens)", "prompt");
        p.prompts.push_back(ids);
      }
    }
    const int64_t ctx = model.config().max_position_embeddings;
    int64_t longest = 0;
    for (const auto& ids : p.prompts) {
      if (ids.empty()) throw RequestError(400, "the prompt has no tokens", chat ? "messages" : "prompt");
      longest = std::max<int64_t>(longest, static_cast<int64_t>(ids.size()));
      p.prompt_tokens += static_cast<int64_t>(ids.size());
    }
    if (ctx > 0 && longest >= ctx)
      throw RequestError(400, "the prompt has " + std::to_string(longest) + " tokens; this model's context is " + std::to_string(ctx),
                         chat ? "messages" : "prompt", "context_length_exceeded");
    const int64_t room = ctx > 0 ? ctx - longest : opt.max_tokens_limit;
    if (r.max_tokens) {
      if (*r.max_tokens > opt.max_tokens_limit)
        throw RequestError(400, "max_tokens is " + std::to_string(*r.max_tokens) + "; this server allows at most " +
                                    std::to_string(opt.max_tokens_limit), "max_tokens");
      if (*r.max_tokens > room)
        throw RequestError(400, "the prompt (" + std::to_string(longest) + " tokens) plus max_tokens (" + std::to_string(*r.max_tokens) +
                                    ") exceed this model's context of " + std::to_string(ctx) + " tokens",
                           "max_tokens", "context_length_exceeded");
      p.max_tokens = *r.max_tokens;
    } else {
      p.max_tokens = std::min(room, std::min(opt.max_tokens_limit, chat ? opt.default_max_tokens : int64_t{16}));
    }
    return p;
  }

  std::shared_ptr<Job> make_job(const PreparedRequest& p) const {
    auto job = std::make_shared<Job>();
    const uint64_t seed = p.req.seed ? *p.req.seed : std::random_device{}();
    for (const auto& ids : p.prompts) {
      for (int64_t c = 0; c < p.req.n; ++c) {
        RowSpec s;
        s.prompt_ids = ids;
        s.max_new_tokens = p.max_tokens;
        s.temperature = p.req.temperature;
        s.top_p = p.req.top_p;
        s.seed = seed + static_cast<uint64_t>(job->rows.size());
        s.stop = p.req.stop;
        job->rows.push_back(std::move(s));
      }
    }
    return job;
  }

  OrderedJson usage(const PreparedRequest& p, const std::vector<RowResult>& rows) const {
    int64_t completion = 0;
    for (const auto& r : rows) completion += static_cast<int64_t>(r.ids.size());
    const int64_t prompt = p.prompt_tokens * p.req.n;
    return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
  }

  OrderedJson envelope(const PreparedRequest& p, const std::string& id, bool chunk) const {
    return {{"id", id},
            {"object", p.req.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
            {"created", now_seconds()},
            {"model", p.req.model.empty() ? opt.model_name : p.req.model}};
  }

  void complete(const httplib::Request& http_req, httplib::Response& res, bool chat) {
    PreparedRequest p = prepare(http_req.body, chat);
    auto job = make_job(p);
    const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
    if (!p.req.stream) {
      auto done = job->result.get_future();
      if (!scheduler.submit(job)) throw RequestError(503, "the server is busy (request queue full); retry later");
      std::vector<RowResult> rows = done.get();
      OrderedJson out = envelope(p, id, false);
      OrderedJson choices = OrderedJson::array();
      for (size_t i = 0; i < rows.size(); ++i) {
        OrderedJson c = {{"index", i}};
        if (chat) c["message"] = {{"role", "assistant"}, {"content", rows[i].text}};
        else c["text"] = rows[i].text;
        c["logprobs"] = nullptr;
        c["finish_reason"] = rows[i].finish_reason;
        choices.push_back(c);
      }
      out["choices"] = choices;
      out["usage"] = usage(p, rows);
      res.set_content(out.dump(), "application/json");
      return;
    }
    // Streaming: the decoding thread appends events; the connection's thread sends them.
    auto ch = std::make_shared<Channel>();
    const OrderedJson head = envelope(p, id, true);
    auto push = [ch](std::string event) {
      {
        std::lock_guard lock(ch->mu);
        ch->events.push_back(std::move(event));
      }
      ch->cv.notify_one();
    };
    job->on_delta = [head, push, chat](size_t row, const std::string& delta) {
      OrderedJson c = head;
      OrderedJson choice = {{"index", row}};
      if (chat) choice["delta"] = {{"content", delta}};
      else choice["text"] = delta;
      choice["logprobs"] = nullptr;
      choice["finish_reason"] = nullptr;
      c["choices"] = OrderedJson::array({choice});
      push(sse(c));
    };
    job->cancelled = [ch] { return ch->cancelled.load(); };
    auto done = std::make_shared<std::future<std::vector<RowResult>>>(job->result.get_future());
    if (chat) {  // the first chunk of each choice carries the role, as OpenAI's do
      for (size_t i = 0; i < job->rows.size(); ++i) {
        OrderedJson c = head;
        c["choices"] = OrderedJson::array({{{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
        push(sse(c));
      }
    }
    if (!scheduler.submit(job)) throw RequestError(503, "the server is busy (request queue full); retry later");
    auto prepared = std::make_shared<PreparedRequest>(std::move(p));
    res.set_chunked_content_provider("text/event-stream", [this, ch, done, head, prepared, chat](size_t, httplib::DataSink& sink) {
      auto write = [&](const std::string& s) {
        if (!sink.is_writable() || !sink.write(s.data(), s.size())) {
          ch->cancelled = true;
          return false;
        }
        return true;
      };
      while (true) {
        std::deque<std::string> batch;
        {
          std::unique_lock lock(ch->mu);
          ch->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return !ch->events.empty(); });
          batch.swap(ch->events);
        }
        for (const auto& e : batch)
          if (!write(e)) return false;
        if (!batch.empty()) continue;
        if (done->wait_for(std::chrono::seconds(0)) != std::future_status::ready) continue;
        {
          std::lock_guard lock(ch->mu);
          if (!ch->events.empty()) continue;  // deltas sent just before completion
        }
        std::vector<RowResult> rows;
        try {
          rows = done->get();
        } catch (const std::exception& e) {
          write("data: " + RequestError(500, std::string("generation failed: ") + e.what()).to_json() + "\n\n");
          sink.done();
          return true;
        }
        for (size_t i = 0; i < rows.size(); ++i) {
          OrderedJson c = head;
          OrderedJson choice = {{"index", i}};
          if (chat) choice["delta"] = OrderedJson::object();
          else choice["text"] = "";
          choice["logprobs"] = nullptr;
          choice["finish_reason"] = rows[i].finish_reason;
          c["choices"] = OrderedJson::array({choice});
          if (!write(sse(c))) return false;
        }
        if (prepared->req.include_usage) {
          OrderedJson c = head;
          c["choices"] = OrderedJson::array();
          c["usage"] = usage(*prepared, rows);
          if (!write(sse(c))) return false;
        }
        write("data: [DONE]\n\n");
        sink.done();
        return true;
      }
    });
  }

  // Runs `body`, turning every failure into an OpenAI error object.
  template <class F>
  void guarded(httplib::Response& res, F&& body) {
    try {
      body();
    } catch (const RequestError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, RequestError(400, e.what()));
    } catch (const std::exception& e) {
      spdlog::warn("serve: request failed: {}", e.what());
      send_error(res, RequestError(500, std::string("internal error: ") + e.what()));
    }
  }

  void routes() {
    http.new_task_queue = [n = opt.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    http.set_payload_max_length(opt.max_body_bytes);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (opt.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
      if (req.get_header_value("Authorization") == "Bearer " + opt.api_key) return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, RequestError(401, "a valid API key is required (Authorization: Bearer <key>)"));
      return httplib::Server::HandlerResponse::Handled;
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { guarded(res, [&] { complete(req, res, true); }); });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { guarded(res, [&] { complete(req, res, false); }); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      OrderedJson m = {{"id", opt.model_name}, {"object", "model"}, {"created", now_seconds()}, {"owned_by", "prefer"}};
      res.set_content(OrderedJson{{"object", "list"}, {"data", OrderedJson::array({m})}}.dump(), "application/json");
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("{\"status\":\"ok\"}", "application/json"); });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, RequestError(500, "internal error"));
    });
    // Statuses set by the HTTP layer itself (unknown path, body too large) get an error object too.
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413)
        send_error(res, RequestError(413, "the request body is larger than this server's limit of " + std::to_string(opt.max_body_bytes) + " bytes (--max_body_mb)"));
      else if (res.status == 404)
        send_error(res, RequestError(404, "no such endpoint: " + req.method + " " + req.path +
                                              " (POST /v1/chat/completions, POST /v1/completions, GET /v1/models)"));
      else
        send_error(res, RequestError(res.status, "the request could not be read (HTTP " + std::to_string(res.status) + ")"));
    });
  }
};

OpenAiServer::OpenAiServer(const model::CausalLM& model, const data::TextModel& text, Scheduler& scheduler, ServerOptions options)
    : impl_(std::make_unique<Impl>(model, text, scheduler, std::move(options))) {}

OpenAiServer::~OpenAiServer() = default;

int OpenAiServer::bind() {
  int port = impl_->opt.port;
  if (port == 0) port = impl_->http.bind_to_any_port(impl_->opt.host);
  else if (!impl_->http.bind_to_port(impl_->opt.host, port)) port = -1;
  if (port < 0) throw Error("cannot listen on " + impl_->opt.host + ":" + std::to_string(impl_->opt.port), {.field = "port", .hint = "is another server using it?"});
  return port;
}

void OpenAiServer::listen() { impl_->http.listen_after_bind(); }

void OpenAiServer::stop() { impl_->http.stop(); }

}  // namespace prefer::serve
