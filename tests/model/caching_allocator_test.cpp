// The block cache's reuse and memory bound, and LibTorch's CPU tensors through the installed allocator
// (in a forked child each, so the rest of this binary keeps c10's own allocator).
#include "model/caching_allocator.h"

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

namespace prefer::model {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(BlockCache, CapacityRoundsUpByAtMostOneSixteenth) {
  EXPECT_EQ(BlockCache::capacity_for(kMiB), kMiB);
  EXPECT_EQ(BlockCache::capacity_for(kMiB + 1), kMiB + 64 * 1024);
  EXPECT_EQ(BlockCache::capacity_for(10'000'000), 20 * 524'288u);  // granule 2^23 / 16
  for (size_t n = kMiB; n < 512 * kMiB; n = n * 5 / 4 + 12'345) {
    const size_t c = BlockCache::capacity_for(n);
    EXPECT_GE(c, n);
    EXPECT_LE(static_cast<double>(c), static_cast<double>(n) * 1.0625 + 64 * 1024) << n;
    EXPECT_EQ(c % 64, 0u);
  }
}

TEST(BlockCache, AFreedBlockServesTheNextRequestOfItsSize) {
  BlockCache cache;
  void* p = cache.take(3 * kMiB);
  std::memset(p, 1, 3 * kMiB);
  EXPECT_TRUE(cache.give(p));
  EXPECT_EQ(cache.stats().cached, 3 * kMiB);
  EXPECT_EQ(cache.take(3 * kMiB - 1000), p);  // a few tokens shorter: the same capacity
  const auto s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.cached, 0u);
  EXPECT_EQ(s.live, 3 * kMiB);
  EXPECT_TRUE(cache.give(p));
}

TEST(BlockCache, ABlockMuchLargerThanTheRequestIsNotUsed) {
  BlockCache cache;
  void* big = cache.take(4 * kMiB);
  cache.give(big);
  void* small = cache.take(2 * kMiB);  // 4 MiB would hold 2 MiB idle
  EXPECT_NE(small, big);
  EXPECT_EQ(cache.stats().misses, 2u);
  cache.give(small);
}

TEST(BlockCache, GiveRefusesPointersItDidNotHandOut) {
  BlockCache cache;
  int local = 0;
  EXPECT_FALSE(cache.give(&local));
  void* m = std::malloc(16);
  EXPECT_FALSE(cache.give(m));
  std::free(m);
}

// Whatever the order of sizes, live + cached stays within the peak of live plus the slack.
TEST(BlockCache, LivePlusCachedStaysWithinThePeakPlusSlack) {
  BlockCache cache({.min_block = kMiB, .slack = 4 * kMiB});
  std::vector<void*> held;
  for (int i = 0; i < 10; ++i) held.push_back(cache.take(2 * kMiB));
  for (void* p : held) cache.give(p);
  held.clear();
  EXPECT_EQ(cache.stats().peak_live, 20 * kMiB);
  EXPECT_EQ(cache.stats().cached, 20 * kMiB);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const size_t n = kMiB + rng() % (6 * kMiB);
    if (held.size() < 6) held.push_back(cache.take(n));
    if (rng() % 3 == 0 && !held.empty()) {
      cache.give(held.back());
      held.pop_back();
    }
    const auto s = cache.stats();
    ASSERT_LE(s.live + s.cached, s.peak_live + 4 * kMiB) << i;
  }
  EXPECT_GT(cache.stats().evicted, 0u);
  for (void* p : held) cache.give(p);
  cache.release_cached();
  EXPECT_EQ(cache.stats().cached, 0u);
  EXPECT_EQ(cache.stats().live, 0u);
}

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// An evicted or released block's pages leave the process (a block from malloc would stay in its heap).
TEST(BlockCache, ReleasedBlocksLeaveTheProcess) {
  BlockCache cache;
  void* p = cache.take(64 * kMiB);
  std::memset(p, 7, 64 * kMiB);
  const size_t touched = resident_bytes();
  cache.give(p);
  EXPECT_GE(resident_bytes() + kMiB, touched);  // cached: still resident, ready for reuse
  cache.release_cached();
  EXPECT_LE(resident_bytes() + 60 * kMiB, touched);
}

TEST(BlockCache, ThreadsTakeAndGiveAtOnce) {
  BlockCache cache;
  constexpr int kThreads = 4, kIters = 300;
  std::vector<std::thread> ts;
  std::vector<int> bad(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kIters; ++i) {
        const size_t n = kMiB + rng() % (3 * kMiB);
        auto* p = static_cast<unsigned char*>(cache.take(n));
        std::memset(p, t + 1, n);
        if (p[0] != t + 1 || p[n - 1] != t + 1) ++bad[t];  // another thread wrote into the block
        cache.give(p);
      }
    });
  for (auto& th : ts) th.join();
  for (int b : bad) EXPECT_EQ(b, 0);
  const auto s = cache.stats();
  EXPECT_EQ(s.hits + s.misses, uint64_t{kThreads * kIters});
  EXPECT_EQ(s.live, 0u);
}

// Run in a forked child: installs the allocator for that process only.
bool tensors_come_from_the_installed_cache() {
  if (!install_caching_allocator() || installed_block_cache() == nullptr) return false;
  BlockCache& cache = *installed_block_cache();
  const void* first = nullptr;
  {
    at::Tensor t = at::full({int64_t{1} << 20}, 2.0f);  // 4 MiB
    first = t.data_ptr();
  }
  at::Tensor again = at::full({int64_t{1} << 20}, 3.0f);
  bool ok = again.data_ptr() == first && cache.stats().hits >= 1;
  ok = ok && again.sum().item<double>() == 3.0 * (1 << 20);
  // A matmul whose operands and result come from the cache, against float64.
  at::Tensor a = at::randn({700, 600}), b = at::randn({600, 500});
  at::Tensor c = at::mm(a, b), ref = at::mm(a.to(at::kDouble), b.to(at::kDouble));
  ok = ok && (c.to(at::kDouble) - ref).abs().max().item<double>() < 1e-3;
  // Small tensors are not cached; both sizes go through LibTorch's raw interface (oneDNN's ideep uses it).
  const size_t live = cache.stats().live;
  at::Tensor small = at::ones({16});
  ok = ok && cache.stats().live == live;
  c10::Allocator* alloc = c10::GetCPUAllocator();
  for (size_t n : {size_t{256}, 5 * kMiB}) {
    void* p = alloc->raw_allocate(n);
    std::memset(p, 0, n);
    alloc->raw_deallocate(p);
  }
  return ok;
}

bool the_environment_turns_it_off() {
  ::setenv("PREFER_CACHING_ALLOCATOR", "0", 1);
  const bool off = !install_caching_allocator() && installed_block_cache() == nullptr;
  at::Tensor t = at::ones({int64_t{1} << 20});
  return off && t.sum().item<double>() == double(1 << 20);
}

TEST(CachingAllocatorDeathTest, LibTorchTensorsComeFromTheCacheOnceInstalled) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(tensors_come_from_the_installed_cache() ? 0 : 1), ::testing::ExitedWithCode(0), "");
}

TEST(CachingAllocatorDeathTest, TheEnvironmentCanTurnItOff) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(the_environment_turns_it_off() ? 0 : 1), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace prefer::model
