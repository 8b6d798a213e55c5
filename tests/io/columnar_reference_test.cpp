// Arrow IPC and Parquet files written by the real libraries (apache-arrow, parquet-wasm = arrow-rs,
// hyparquet-writer) through tools/reference/columnar.mjs, which also reads each file back with them
// (apache-arrow, hyparquet): prefer's readers must give the same rows. Needs scripts/setup.sh.
#include <cstdio>

#include "io/records.h"
#include "test_util.h"

namespace prefer::io {
namespace fs = std::filesystem;

namespace {

// Equal as JSON values, numbers compared as doubles (JS has one number type; hyparquet leaves out
// null list cells, which therefore count as null).
bool same(const OrderedJson& ours, const OrderedJson& ref) {
  if (ours.is_number() && ref.is_number()) return ours.get<double>() == ref.get<double>();
  if (ours.is_array() && ref.is_array()) {
    if (ours.size() != ref.size()) return false;
    for (size_t i = 0; i < ours.size(); ++i)
      if (!same(ours[i], ref[i])) return false;
    return true;
  }
  if (ours.is_object() && ref.is_object()) {
    for (auto it = ref.begin(); it != ref.end(); ++it)
      if (!ours.contains(it.key())) return false;
    for (auto it = ours.begin(); it != ours.end(); ++it) {
      const OrderedJson r = ref.contains(it.key()) ? ref[it.key()] : OrderedJson();
      if (!same(it.value(), r)) return false;
    }
    return true;
  }
  return ours == ref;
}

class ColumnarReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(test::reference_dir() / "node_modules" / "apache-arrow"))
        << "the npm reference packages are missing: run scripts/setup.sh (needs Node.js and npm)";
    dir_ = new test::TempDir();
    std::string cmd = "cd '" + test::reference_dir().string() + "' && node columnar.mjs '" + test::fixture("columnar/rows.json").string() + "' '" +
                      (dir_->path() / "out").string() + "'";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ASSERT_EQ(::pclose(p), 0) << cmd;
    reference_ = new OrderedJson(OrderedJson::parse(out));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete reference_;
  }
  static test::TempDir* dir_;
  static OrderedJson* reference_;
};
test::TempDir* ColumnarReference::dir_ = nullptr;
OrderedJson* ColumnarReference::reference_ = nullptr;

}  // namespace

TEST_F(ColumnarReference, EveryFileReadsAsTheLibrariesReadIt) {
  ASSERT_NE(reference_, nullptr);
  ASSERT_GE(reference_->size(), 19u);
  for (auto it = reference_->begin(); it != reference_->end(); ++it) {
    const fs::path file = dir_->path() / "out" / it.key();
    std::vector<Record> rows = read_records(file);
    const OrderedJson& ref = it.value();
    ASSERT_EQ(rows.size(), ref.size()) << it.key();
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_TRUE(same(rows[i].value, ref[i])) << it.key() << " row " << i + 1 << "\n  ours: " << rows[i].value.dump()
                                               << "\n  ref:  " << ref[i].dump();
      EXPECT_EQ(rows[i].where.line, it.key() == "saved" ? static_cast<int64_t>(i < 2 ? i + 1 : i - 1) : static_cast<int64_t>(i + 1));
    }
  }
}

TEST_F(ColumnarReference, TypedColumnsKeepTheirJsonTypes) {
  ASSERT_NE(reference_, nullptr);
  for (const char* name : {"typed.stream.arrow", "zstd.v2.parquet", "snappy.plain.parquet"}) {
    std::vector<Record> rows = read_records(dir_->path() / "out" / name);
    ASSERT_EQ(rows.size(), 3u) << name;
    const OrderedJson& r = rows[0].value;
    EXPECT_TRUE(r["id"].is_number_integer()) << name;
    EXPECT_TRUE(r["flag"].is_boolean()) << name;
    EXPECT_TRUE(r["chosen"].is_array() && r["chosen"][0]["role"] == "assistant") << name << ": " << r.dump();
    EXPECT_EQ(rows[1].value["prompt"][0]["content"], "Answer in French.") << name;
    EXPECT_TRUE(rows[1].value["topic"].is_null()) << name;
    EXPECT_TRUE(rows[2].value["tags"].is_null()) << name;
    EXPECT_EQ(rows[1].value["tags"], OrderedJson::array()) << name;
  }
}

}  // namespace prefer::io
