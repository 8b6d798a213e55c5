#include "util/mmap.h"

#include <cstring>

#include "test_util.h"
#include "util/error.h"

namespace prefer {

TEST(MappedFile, MapsTheWholeFile) {
  test::TempDir tmp;
  test::write_bytes(tmp / "a", "hello mmap");
  MappedFile m(tmp / "a");
  EXPECT_EQ(m.size(), 10u);
  EXPECT_EQ(m.view(), "hello mmap");
  MappedFile moved = std::move(m);
  EXPECT_EQ(moved.view(), "hello mmap");
  EXPECT_EQ(m.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
}

TEST(MappedFile, EmptyFileHasNoData) {
  test::TempDir tmp;
  test::write_bytes(tmp / "e", "");
  MappedFile m(tmp / "e");
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.view(), "");
}

TEST(MappedFile, ErrorsNameThePath) {
  test::TempDir tmp;
  EXPECT_ERROR_WITH(MappedFile(tmp / "missing.safetensors"), "missing.safetensors", "cannot open");
  EXPECT_ERROR_WITH(MappedFile(tmp.path()), "not a regular file");
}

}  // namespace prefer
