#include "util/atomic_file.h"

#include "test_util.h"
#include "util/error.h"
#include "util/file.h"

namespace prefer {
namespace fs = std::filesystem;

static size_t count_entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, NothingUnderTheFinalNameUntilCommit) {
  test::TempDir tmp;
  {
    AtomicFile f(tmp / "out.json");
    f.write("{\"half\": ");
    EXPECT_FALSE(fs::exists(tmp / "out.json"));
    EXPECT_TRUE(fs::exists(f.temp_path()));
    EXPECT_EQ(f.temp_path().parent_path(), tmp.path());  // same folder, so rename is atomic
    f.write("1}");
    f.commit();
  }
  EXPECT_EQ(read_file(tmp / "out.json"), "{\"half\": 1}");
  EXPECT_EQ(count_entries(tmp.path()), 1u);
}

TEST(AtomicFile, AbandonedWriteLeavesTheOldFileAndNoTemp) {
  test::TempDir tmp;
  write_file_atomic(tmp / "model.safetensors", "old complete content");
  try {
    AtomicFile f(tmp / "model.safetensors");
    f.write("new partial");
    throw std::runtime_error("crash mid-write");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_file(tmp / "model.safetensors"), "old complete content");
  EXPECT_EQ(count_entries(tmp.path()), 1u);
}

TEST(AtomicFile, CommitReplacesAndRejectsReuse) {
  test::TempDir tmp;
  write_file_atomic(tmp / "a", "1");
  write_file_atomic(tmp / "a", "22");
  EXPECT_EQ(read_file(tmp / "a"), "22");
  AtomicFile f(tmp / "b");
  f.commit();
  EXPECT_ERROR_WITH(f.commit(), "commit called twice");
  EXPECT_ERROR_WITH(f.write("x"), "write after commit");
}

TEST(AtomicFile, MissingFolderIsAnError) {
  test::TempDir tmp;
  EXPECT_ERROR_WITH(AtomicFile(tmp / "no" / "such" / "f"), "cannot create file");
}

TEST(AtomicDirectory, AppearsWholeOrNotAtAll) {
  test::TempDir tmp;
  {
    AtomicDirectory d(tmp / "checkpoint-10");
    write_file_atomic(d.staging() / "a.txt", "a");
    EXPECT_FALSE(fs::exists(tmp / "checkpoint-10"));
    d.commit();
  }
  EXPECT_EQ(read_file(tmp / "checkpoint-10" / "a.txt"), "a");
  {
    AtomicDirectory d(tmp / "checkpoint-20");
    write_file_atomic(d.staging() / "a.txt", "a");
    // destroyed without commit: a crash before the checkpoint was complete
  }
  EXPECT_FALSE(fs::exists(tmp / "checkpoint-20"));
  EXPECT_EQ(count_entries(tmp.path()), 1u);
}

TEST(AtomicDirectory, ReplacesAnExistingFolder) {
  test::TempDir tmp;
  fs::create_directories(tmp / "final");
  write_file_atomic(tmp / "final" / "stale.txt", "old");
  AtomicDirectory d(tmp / "final");
  write_file_atomic(d.staging() / "config.json", "{}");
  d.commit();
  EXPECT_TRUE(fs::exists(tmp / "final" / "config.json"));
  EXPECT_FALSE(fs::exists(tmp / "final" / "stale.txt"));
  EXPECT_EQ(count_entries(tmp.path()), 1u);
}

}  // namespace prefer
