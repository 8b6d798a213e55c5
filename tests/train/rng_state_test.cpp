#include "train/rng_state.h"

#include <ATen/ATen.h>

#include "test_util.h"
#include "util/json.h"

namespace prefer::train {

TEST(RngState, RestoredGeneratorRepeatsTheSameDraws) {
  test::TempDir tmp;
  at::manual_seed(123);
  at::randn({10});  // move the generator away from a freshly seeded state
  save_rng_state(tmp / "rng_state.json", {.seed = 42, .epoch = 2, .position = 17});
  const at::Tensor first = at::randn({64});
  const at::Tensor dropout_mask = at::bernoulli(at::full({64}, 0.5));
  at::manual_seed(999);  // anything in between
  at::rand({5});
  DataOrder d = restore_rng_state(tmp / "rng_state.json");
  EXPECT_TRUE(at::equal(at::randn({64}), first));
  EXPECT_TRUE(at::equal(at::bernoulli(at::full({64}, 0.5)), dropout_mask));
  EXPECT_EQ(d.seed, 42u);
  EXPECT_EQ(d.epoch, 2u);
  EXPECT_EQ(d.position, 17u);
}

TEST(RngState, FileIsJsonWithTheCpuState) {
  test::TempDir tmp;
  save_rng_state(tmp / "r.json", {.seed = UINT64_MAX});
  Json j = read_json_file(tmp / "r.json");
  EXPECT_EQ(j["format"], "prefer-rng-state");
  EXPECT_EQ(j["data"]["seed"].get<uint64_t>(), UINT64_MAX);  // uint64 survives exactly
  // LibTorch's CPU generator state: the mt19937 state and the cached normal samples, 5056 bytes.
  EXPECT_EQ(base64_decode(j["cpu"].get<std::string>()).size(), 5056u);
}

TEST(RngState, RejectsBadFiles) {
  test::TempDir tmp;
  write_json_file(tmp / "a.json", {{"cpu", "AAAA"}});
  EXPECT_ERROR_WITH(restore_rng_state(tmp / "a.json"), "a.json", "not an RNG state file");
  write_json_file(tmp / "b.json", {{"format", "prefer-rng-state"}, {"cpu", "AAAA"}});
  EXPECT_ERROR_WITH(restore_rng_state(tmp / "b.json"), "b.json", "'cpu'", "LibTorch rejects");
  write_json_file(tmp / "c.json", {{"format", "prefer-rng-state"}, {"cpu", "A*=="}});
  EXPECT_ERROR_WITH(restore_rng_state(tmp / "c.json"), "c.json", "'cpu'", "invalid base64");
  write_json_file(tmp / "d.json", {{"format", "prefer-rng-state"}});
  EXPECT_ERROR_WITH(restore_rng_state(tmp / "d.json"), "d.json", "'cpu'");
}

// RFC 4648 section 10 test vectors.
TEST(RngState, Base64MatchesRfc4648) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(base64_encode(plain[i], std::strlen(plain[i])), coded[i]);
    EXPECT_EQ(base64_decode(coded[i]), plain[i]);
  }
  EXPECT_ERROR_WITH(base64_decode("Zm9"), "multiple of 4");
  EXPECT_ERROR_WITH(base64_decode("Z=9v"), "invalid base64");
}

}  // namespace prefer::train
