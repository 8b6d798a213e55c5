#include "model/runtime.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <thread>

#include "model/torch_compat.h"

namespace prefer::model {

TEST(Runtime, SetsTheThreadCountExplicitly) {
  const int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  set_num_threads(2);
  EXPECT_EQ(num_threads(), 2);
  set_num_threads(0);  // all cores
  EXPECT_EQ(num_threads(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  set_num_threads(before);
}

TEST(Runtime, VersionMatchesTheHeaders) {
  EXPECT_EQ(torch_version().rfind(std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR), 0), 0u);
  EXPECT_TRUE(PREFER_TORCH_AT_LEAST(1, 13));
  EXPECT_FALSE(PREFER_TORCH_AT_LEAST(99, 0));
}

}  // namespace prefer::model
