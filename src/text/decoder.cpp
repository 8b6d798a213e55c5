#include "text/decoder.h"

#include <cstdlib>

#include "text/byte_level.h"
#include "text/normalizer.h"
#include "text/regex.h"
#include "text/unicode.h"

namespace prefer::text {

std::string Decoder::decode(std::vector<std::string> tokens) const {
  std::string out;
  for (const auto& s : decode_chain(std::move(tokens))) out += s;
  return out;
}

namespace {

class ByteLevel : public Decoder {
 public:
  explicit ByteLevel(AddedTokenTest is_added) : is_added_(std::move(is_added)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    auto flush = [&] {
      if (!bytes.empty()) out.push_back(decode_utf8_lossy(bytes));
      bytes.clear();
    };
    for (const auto& t : tokens) {
      if (is_added_ && is_added_(t)) {
        flush();
        out.push_back(t);
        continue;
      }
      for (size_t i = 0; i < t.size();) {
        size_t start = i;
        char32_t cp = next_code_point(t, i);
        if (auto b = unicode_to_byte(cp)) bytes += static_cast<char>(*b);
        else bytes.append(t, start, i - start);  // not a byte stand-in: keep its own UTF-8 (as HF does)
      }
    }
    flush();
    return out;
  }

 private:
  AddedTokenTest is_added_;
};

class Metaspace : public Decoder {
 public:
  explicit Metaspace(std::string replacement) : replacement_(std::move(replacement)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    Pattern p = Pattern::literal(replacement_);
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = p.replace_all(tokens[i], " ");
      if (i == 0 && !tokens[i].empty() && tokens[i][0] == ' ') tokens[i].erase(0, 1);
    }
    return tokens;
  }

 private:
  std::string replacement_;
};

// Runs of "<0xHH>" tokens become the UTF-8 text of those bytes (invalid sequences: U+FFFD).
class ByteFallback : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    for (auto& t : tokens) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4]))) {
        bytes += static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16));
        continue;
      }
      if (!bytes.empty()) out.push_back(decode_utf8_lossy(bytes));
      bytes.clear();
      out.push_back(std::move(t));
    }
    if (!bytes.empty()) out.push_back(decode_utf8_lossy(bytes));
    return out;
  }
};

class Fuse : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {all};
  }
};

// Removes up to `start` leading and `stop` trailing occurrences of the character `content`.
class Strip : public Decoder {
 public:
  Strip(std::string content, int64_t start, int64_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      std::vector<std::string> cps = split_code_points(t);
      size_t b = 0, e = cps.size();
      for (int64_t i = 0; i < start_ && b < e && cps[b] == content_; ++i) ++b;
      for (int64_t i = 0; i < stop_ && e > b && cps[e - 1] == content_; ++i) --e;
      std::string s;
      for (size_t k = b; k < e; ++k) s += cps[k];
      t = std::move(s);
    }
    return tokens;
  }

 private:
  std::string content_;
  int64_t start_, stop_;
};

class Replace : public Decoder {
 public:
  Replace(Pattern p, std::string content) : pattern_(std::move(p)), content_(std::move(content)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) t = pattern_.replace_all(t, content_);
    return tokens;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class DecoderSequence : public Decoder {
 public:
  explicit DecoderSequence(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& p : parts_) tokens = p->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const Json& j, const ComponentContext& ctx, const AddedTokenTest& is_added) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, ctx);
  const ErrorContext at = ctx.at();
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(is_added);
  if (type == "Metaspace") return std::make_unique<Metaspace>(opt_string(j, "replacement", at).value_or("\xE2\x96\x81"));
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip")
    return std::make_unique<Strip>(opt_string(j, "content", at).value_or(""), opt_int(j, "start", at).value_or(0),
                                   opt_int(j, "stop", at).value_or(0));
  if (type == "Replace")
    return std::make_unique<Replace>(make_pattern(require_field(j, "pattern", at), ctx), opt_string(j, "content", at).value_or(""));
  if (type == "Sequence") {
    const Json& list = require_field(j, "decoders", at);
    if (!list.is_array()) throw Error("expected a list", ctx.at("decoders"));
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i)
      if (auto d = make_decoder(list[i], ctx.child(".decoders[" + std::to_string(i) + "]"), is_added)) parts.push_back(std::move(d));
    return std::make_unique<DecoderSequence>(std::move(parts));
  }
  throw_unsupported("decoder", type, {"ByteLevel", "Metaspace", "ByteFallback", "Fuse", "Strip", "Replace", "Sequence"}, ctx);
}

}  // namespace prefer::text
