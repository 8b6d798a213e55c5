#include "util/file.h"

#include "test_util.h"
#include "util/error.h"

namespace prefer {

TEST(File, ReadsBytesExactly) {
  test::TempDir tmp;
  std::string bytes("a\0b\r\n\xff", 6);
  test::write_bytes(tmp / "f.bin", bytes);
  EXPECT_EQ(read_file(tmp / "f.bin"), bytes);
}

TEST(File, MissingFileNamesThePath) {
  test::TempDir tmp;
  EXPECT_ERROR_WITH(read_file(tmp / "nope.json"), "nope.json", "cannot open");
  EXPECT_ERROR_WITH(read_file(tmp.path()), "is a directory");
  EXPECT_ERROR_WITH(require_exists(tmp / "model", "model folder"), "model folder does not exist", "model");
}

}  // namespace prefer
