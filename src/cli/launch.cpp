// `prefer launch`: torchrun without Python. Starts --nproc_per_node workers of any program with
// torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR,
// MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE), hosts their store on node 0 (so it outlives any worker),
// forwards SIGINT/SIGTERM, and when a worker fails stops the others and exits non-zero naming the
// failed rank with its last lines of output.
//
// Output: rank 0's stdout passes through; every worker's stderr is forwarded line by line with a
// "[rank R]" prefix; other ranks' stdout (the same progress and summaries) is dropped.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <csignal>
#include <deque>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "train/distributed.h"
#include "util/error.h"

namespace prefer::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

struct Options {
  int nproc_per_node = 1, nnodes = 1, node_rank = 0, master_port = 29500;
  std::string master_addr = "127.0.0.1";
  double grace = 30;
  std::vector<std::string> program;
};

struct Worker {
  int rank = 0, local_rank = 0;
  pid_t pid = -1;
  int err_fd = -1;       // read end of its stderr
  std::string partial;   // a line not yet ended
  std::deque<std::string> last;  // its last lines
  bool done = false;
  int status = 0;
};

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "stopped";
}

bool failed(int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); }

pid_t spawn(const Options& o, Worker& w, const std::string& exe) {
  int fds[2];
  if (::pipe(fds) != 0) throw Error("cannot create a pipe for a worker's output");
  pid_t pid = ::fork();
  if (pid < 0) throw Error("cannot start a worker (fork failed)");
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: a terminal's Ctrl-C reaches the launcher, which forwards it once
    const int world = o.nnodes * o.nproc_per_node;
    auto set = [](const char* k, const std::string& v) { ::setenv(k, v.c_str(), 1); };
    set("RANK", std::to_string(w.rank));
    set("WORLD_SIZE", std::to_string(world));
    set("LOCAL_RANK", std::to_string(w.local_rank));
    set("LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node));
    set("GROUP_RANK", std::to_string(o.node_rank));
    set("GROUP_WORLD_SIZE", std::to_string(o.nnodes));
    set("ROLE_RANK", std::to_string(w.rank));
    set("ROLE_WORLD_SIZE", std::to_string(world));
    set("MASTER_ADDR", o.master_addr);
    set("MASTER_PORT", std::to_string(o.master_port));
    set("TORCHELASTIC_USE_AGENT_STORE", "True");
    set("TORCHELASTIC_RESTART_COUNT", "0");
    ::close(fds[0]);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
    if (w.rank != 0) {
      int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) ::dup2(null, STDOUT_FILENO);
    }
    std::vector<char*> argv;
    for (const auto& a : o.program) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // "prefer" means this executable, wherever it lives.
    if (o.program[0] == "prefer") ::execv(exe.c_str(), argv.data());
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  w.err_fd = fds[0];
  return pid;
}

// Forwards what a worker wrote to stderr, a whole line at a time, and keeps its last lines.
void drain(Worker& w, bool prefix) {
  char buf[4096];
  while (true) {
    ssize_t n = ::read(w.err_fd, buf, sizeof buf);
    if (n <= 0) break;
    w.partial.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = w.partial.find('\n')) != std::string::npos) {
      std::string line = w.partial.substr(0, nl);
      w.partial.erase(0, nl + 1);
      std::cerr << (prefix ? fmt::format("[rank {}] ", w.rank) : "") << line << "\n";
      w.last.push_back(line);
      if (w.last.size() > 12) w.last.pop_front();
    }
  }
  std::cerr.flush();
}

int run_launch(const Options& o) {
  if (o.program.empty()) throw Error("needs the program to run after --, e.g. prefer launch --nproc_per_node 2 -- prefer dpo ...");
  if (o.node_rank >= o.nnodes) throw Error(fmt::format("must be below --nnodes ({})", o.nnodes), {.field = "node_rank"});
  const int world = o.nnodes * o.nproc_per_node;
  // Node 0 hosts the store, which every worker (of every node) joins as a client.
  std::shared_ptr<void> store;
  if (o.node_rank == 0) store = train::host_store(o.master_port, world, std::chrono::seconds(300));
  char exe[4096];
  ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  const std::string self = len > 0 ? std::string(exe, static_cast<size_t>(len)) : "prefer";

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::vector<Worker> workers(static_cast<size_t>(o.nproc_per_node));
  for (int l = 0; l < o.nproc_per_node; ++l) {
    Worker& w = workers[static_cast<size_t>(l)];
    w.local_rank = l;
    w.rank = o.node_rank * o.nproc_per_node + l;
    w.pid = spawn(o, w, self);
    std::cerr << fmt::format("prefer launch: started rank {} (pid {})\n", w.rank, w.pid);
  }
  const bool prefix = o.nproc_per_node > 1 || o.nnodes > 1;
  const Worker* first_failure = nullptr;
  int forwarded = 0;
  std::chrono::steady_clock::time_point stop_deadline{};
  bool stopping = false;
  auto stop_all = [&](int sig) {
    for (auto& w : workers)
      if (!w.done) ::kill(w.pid, sig);
  };
  size_t running = workers.size();
  while (running > 0) {
    std::vector<pollfd> fds;
    for (auto& w : workers)
      if (w.err_fd >= 0) fds.push_back({w.err_fd, POLLIN, 0});
    if (!fds.empty()) ::poll(fds.data(), fds.size(), 200);
    else std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (auto& w : workers)
      if (w.err_fd >= 0) drain(w, prefix);
    if (g_signal != 0 && g_signal != forwarded) {  // Ctrl-C / SIGTERM: every worker checkpoints and stops
      forwarded = g_signal;
      stop_all(g_signal);
    }
    for (auto& w : workers) {
      if (w.done) continue;
      int status = 0;
      if (::waitpid(w.pid, &status, WNOHANG) != w.pid) continue;
      drain(w, prefix);
      w.done = true;
      w.status = status;
      --running;
      if (failed(status) && first_failure == nullptr) {
        first_failure = &w;
        if (forwarded == 0 && running > 0) {
          std::cerr << fmt::format("prefer launch: rank {} {}; stopping the other workers\n", w.rank, describe(status));
          stop_all(SIGTERM);
          stopping = true;
          stop_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.grace * 1000));
        }
      }
    }
    if (stopping && running > 0 && std::chrono::steady_clock::now() > stop_deadline) {
      stop_all(SIGKILL);
      stopping = false;
    }
  }
  for (auto& w : workers)
    if (w.err_fd >= 0) ::close(w.err_fd);
  if (first_failure == nullptr) return 0;
  // Ctrl-C / SIGTERM: the workers stopping with 128 + signal after their checkpoint is not a failure.
  bool all_stopped = forwarded != 0;
  for (const auto& w : workers)
    all_stopped = all_stopped && (!failed(w.status) || (WIFEXITED(w.status) && WEXITSTATUS(w.status) == 128 + forwarded));
  if (all_stopped) {
    std::cerr << fmt::format("prefer launch: stopped by signal {} ({}); every worker finished its step and wrote a checkpoint\n", forwarded, strsignal(forwarded));
    return 128 + forwarded;
  }
  std::cerr << fmt::format("prefer launch: failed: rank {} (pid {}) {}", first_failure->rank, first_failure->pid, describe(first_failure->status));
  if (!first_failure->last.empty()) {
    std::cerr << "; its last lines:\n";
    for (const auto& l : first_failure->last) std::cerr << "  " << l << "\n";
  } else {
    std::cerr << "\n";
  }
  if (WIFEXITED(first_failure->status) && WEXITSTATUS(first_failure->status) != 0) return WEXITSTATUS(first_failure->status);
  return 1;
}

}  // namespace

void add_launch_command(CLI::App& app, GlobalOptions& g) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("launch", "Run a program on several workers, as torchrun does: prefer launch --nproc_per_node 2 -- prefer dpo ...");
  cmd->add_option("--nproc_per_node", o->nproc_per_node, "Workers on this machine")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--nnodes", o->nnodes, "Machines taking part")->capture_default_str()->check(CLI::Range(1, 65536));
  cmd->add_option("--node_rank", o->node_rank, "This machine's index (0 hosts the store)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--master_addr", o->master_addr, "Address of node 0")->capture_default_str();
  cmd->add_option("--master_port", o->master_port, "Port of the store on node 0")->capture_default_str()->check(CLI::Range(1, 65535));
  cmd->add_option("--grace", o->grace, "Seconds the other workers get to stop after one fails, before SIGKILL")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("program", o->program, "The program and its arguments, after --")->expected(-1);
  cmd->callback([o, &g] {
    apply_global_options(g);
    if (int code = run_launch(*o); code != 0) throw ExitCode{code};
  });
}

}  // namespace prefer::cli
