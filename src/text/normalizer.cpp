#include "text/normalizer.h"

#include <vector>

#include "text/regex.h"
#include "text/unicode.h"

namespace prefer::text {

Pattern make_pattern(const Json& j, const ComponentContext& ctx) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) return Pattern::literal(j["String"].get<std::string>());
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    try {
      return Pattern::regex(j["Regex"].get<std::string>());
    } catch (const Error& e) {
      throw Error(e.message(), ctx.at("pattern"));
    }
  }
  throw Error("expected {\"String\": ...} or {\"Regex\": ...}", ctx.at("pattern"));
}

namespace {

class UnicodeForm : public Normalizer {
 public:
  explicit UnicodeForm(NormalForm f) : form_(f) {}
  std::string normalize(std::string_view t) const override { return text::normalize(t, form_); }

 private:
  NormalForm form_;
};

class Lowercase : public Normalizer {
 public:
  std::string normalize(std::string_view t) const override { return to_lower(t); }
};

class Replace : public Normalizer {
 public:
  Replace(Pattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
  std::string normalize(std::string_view t) const override { return pattern_.replace_all(t, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  std::string normalize(std::string_view t) const override { return prepend_ + std::string(t); }

 private:
  std::string prepend_;
};

// Trims JavaScript whitespace, as the reference does (Rust trims Unicode White_Space; the two sets
// differ only in U+0085 and U+FEFF).
class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view t) const override {
    if (left_) t = trim_start_js(t);
    if (right_) t = trim_end_js(t);
    return std::string(t);
  }

 private:
  bool left_, right_;
};

class NormalizerSequence : public Normalizer {
 public:
  explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  std::string normalize(std::string_view t) const override {
    std::string s(t);
    for (const auto& p : parts_)
      if (p) s = p->normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& j, const ComponentContext& ctx) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, ctx);
  if (type == "NFC") return std::make_unique<UnicodeForm>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeForm>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(NormalForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Replace")
    return std::make_unique<Replace>(make_pattern(require_field(j, "pattern", ctx.at()), ctx),
                                     opt_string(j, "content", ctx.at()).value_or(""));
  if (type == "Prepend") return std::make_unique<Prepend>(require_string(j, "prepend", ctx.at()));
  if (type == "Strip")
    return std::make_unique<Strip>(opt_bool(j, "strip_left", ctx.at()).value_or(false),
                                   opt_bool(j, "strip_right", ctx.at()).value_or(false));
  if (type == "Sequence") {
    const Json& list = require_field(j, "normalizers", ctx.at());
    if (!list.is_array()) throw Error("expected a list", ctx.at("normalizers"));
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i)
      parts.push_back(make_normalizer(list[i], ctx.child(".normalizers[" + std::to_string(i) + "]")));
    return std::make_unique<NormalizerSequence>(std::move(parts));
  }
  throw_unsupported("normalizer", type, {"NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Replace", "Prepend", "Strip", "Sequence"},
                    ctx);
}

}  // namespace prefer::text
