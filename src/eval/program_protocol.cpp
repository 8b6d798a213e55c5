#include "eval/program_protocol.h"

#include <cmath>
#include <cstdlib>

#include "util/error.h"
#include "util/subprocess.h"

namespace prefer::eval {

std::vector<std::string> run_protocol_batch(const ProgramOptions& p, const std::vector<OrderedJson>& items) {
  std::string input;
  for (const auto& item : items) input += item.dump() + "\n";
  ProgramResult r = run_program(p.command, input, p.timeout_s);
  const ErrorContext ctx{.field = p.role + " program '" + p.command + "'"};
  if (r.timed_out)
    throw Error("ran past --command_timeout (" + std::to_string(static_cast<int64_t>(p.timeout_s)) + " s) on a batch of " +
                    std::to_string(items.size()) + " items and was stopped", ctx);
  if (r.exit_code != 0)
    throw Error("exited with status " + std::to_string(r.exit_code) + (r.err.empty() ? "" : "; its stderr ends: " + r.err.substr(r.err.size() > 500 ? r.err.size() - 500 : 0)), ctx);
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t end = r.out.find('\n', pos);
    if (end == std::string::npos) end = r.out.size();
    std::string line = r.out.substr(pos, end - pos);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    lines.push_back(std::move(line));
    pos = end + 1;
  }
  if (lines.size() != items.size())
    throw Error("wrote " + std::to_string(lines.size()) + " lines for " + std::to_string(items.size()) +
                    " items; the protocol is exactly one line per input line, in order", ctx);
  return lines;
}

std::vector<double> run_scoring_batch(const ProgramOptions& program, const std::vector<OrderedJson>& items) {
  const std::vector<std::string> lines = run_protocol_batch(program, items);
  std::vector<double> out;
  for (size_t k = 0; k < lines.size(); ++k) {
    char* stop = nullptr;
    const double v = std::strtod(lines[k].c_str(), &stop);
    if (lines[k].empty() || *stop != '\0' || !std::isfinite(v))
      throw Error("answered '" + lines[k].substr(0, 80) + "' on line " + std::to_string(k + 1) + " of its output; a " + program.role +
                      " score is a finite number",
                  {.line = static_cast<int64_t>(k + 1), .field = program.role + " program '" + program.command + "'"});
    out.push_back(v);
  }
  return out;
}

}  // namespace prefer::eval
