#include "util/hash.h"

#include "test_util.h"

namespace prefer {

TEST(Hash, Fnv1aReferenceValues) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(hash_bytes(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(hash_bytes("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(hash_bytes("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(Hasher().update("foo").update("bar").digest(), hash_bytes("foobar"));
  EXPECT_EQ(hex64(0xabcull), "0000000000000abc");
}

TEST(Hash, Files) {
  test::TempDir tmp;
  test::write_bytes(tmp / "f", "foobar");
  EXPECT_EQ(hash_file(tmp / "f"), 0x85944171f73967e8ull);
  EXPECT_ERROR_WITH(hash_file(tmp / "none"), "cannot open");
}

}  // namespace prefer
