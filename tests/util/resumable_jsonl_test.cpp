#include "util/resumable_jsonl.h"

#include "test_util.h"
#include "util/file.h"

namespace prefer {

namespace fs = std::filesystem;

TEST(ResumableJsonl, ContinuesAfterTheLastRecordedUnitAndDropsAHalfLine) {
  test::TempDir tmp;
  const fs::path out = tmp / "o.jsonl";
  {
    ResumableJsonl w(out, Json{{"seed", 1}});
    EXPECT_FALSE(w.resumed());
    w.commit_unit("{\"a\":1}\n", 1, {{"n", 1}});
    // A crash mid-unit: half a line written, never recorded.
    std::FILE* f = std::fopen(w.partial_path().c_str(), "ab");
    std::fputs("{\"half", f);
    std::fclose(f);
  }
  EXPECT_FALSE(fs::exists(out)) << "the final name appears only when complete";
  {
    ResumableJsonl w(out, Json{{"seed", 1}});
    EXPECT_TRUE(w.resumed());
    EXPECT_EQ(w.units_done(), 1);
    EXPECT_EQ(w.counters()["n"], 1);
    w.commit_unit("{\"b\":2}\n", 2, {{"n", 2}});
    w.finish();
  }
  EXPECT_EQ(read_file(out), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_FALSE(fs::exists(out.string() + ".progress.json"));
  EXPECT_FALSE(fs::exists(out.string() + ".partial"));
}

TEST(ResumableJsonl, OtherOptionsRefuseToMixTwoRuns) {
  test::TempDir tmp;
  const fs::path out = tmp / "o.jsonl";
  {
    ResumableJsonl w(out, Json{{"seed", 1}});
    w.commit_unit("{}\n", 1, Json::object());
  }
  EXPECT_ERROR_WITH(ResumableJsonl(out, Json{{"seed", 2}}), "other options");
  // A fresh start (no progress file) truncates an old partial file.
  fs::remove(out.string() + ".progress.json");
  ResumableJsonl w(out, Json{{"seed", 2}});
  EXPECT_FALSE(w.resumed());
  w.finish();
  EXPECT_EQ(read_file(out), "");
}

}  // namespace prefer
