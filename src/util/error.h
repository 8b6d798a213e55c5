// prefer::Error — the one exception type of the project.
//
// Every error a user can cause (bad file, bad field, bad flag) is reported as one sentence that names
// where the problem is (file, line, field) and, when we know it, how to fix it (hint). Layers below cli/
// only throw; cli/ catches once, prints what() and exits non-zero.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace prefer {

struct ErrorContext {
  std::string file;   // path of the file concerned, empty when none
  int64_t line = 0;   // 1-based line (JSONL line, JSON/YAML line), 0 when unknown
  std::string field;  // field / tensor / option name, empty when none
  std::string hint;   // what the user can do about it, empty when nothing useful to say
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ErrorContext ctx = {});

  const std::string& message() const { return message_; }
  const std::string& file() const { return ctx_.file; }
  int64_t line() const { return ctx_.line; }
  const std::string& field() const { return ctx_.field; }
  const std::string& hint() const { return ctx_.hint; }
  const ErrorContext& context() const { return ctx_; }

  // A copy of this error with context filled in where it was empty, for callers that know the file
  // while the thrower only knew the field (e.g. a JSON accessor called by a config reader).
  Error with_defaults(const ErrorContext& outer) const;

 private:
  std::string message_;
  ErrorContext ctx_;
};

// "file:line: field 'x': message (hint: ...)" with the empty parts left out.
std::string format_error(const std::string& message, const ErrorContext& ctx);

}  // namespace prefer
