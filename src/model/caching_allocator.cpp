#include "model/caching_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>
#include <string>

#include "util/startup_env.h"

namespace prefer::model {

namespace {

// Blocks are mappings of their own, not malloc's: an evicted block's pages leave the process at once,
// where free() would leave them in malloc's heap, resident and counted in the peak. With the huge-page
// malloc on (util/startup_env.h) they are advised for transparent huge pages as malloc's are.
void* map_block(size_t cap) {
  static const bool huge = huge_page_malloc();  // the environment is the process's: read it once
  void* p = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (huge) ::madvise(p, cap, MADV_HUGEPAGE);  // advice only: a failure costs nothing
  return p;
}

}  // namespace

BlockCache::~BlockCache() { release_cached(); }

size_t BlockCache::capacity_for(size_t n) {
  const size_t granule = std::max<size_t>(size_t{64} << 10, std::bit_floor(std::max<size_t>(n, 1)) / 16);
  return (n + granule - 1) / granule * granule;
}

void* BlockCache::take(size_t n) {
  const size_t cap = capacity_for(n);
  std::lock_guard<std::mutex> lock(mu_);
  // Best fit among the cached blocks, up to 1/16 larger than asked (more would hold memory idle).
  if (auto it = free_.lower_bound(cap); it != free_.end() && it->first <= cap + cap / 16) {
    void* p = it->second;
    s_.cached -= it->first;
    s_.live += it->first;
    s_.peak_live = std::max(s_.peak_live, s_.live);
    ++s_.hits;
    free_.erase(it);
    return p;
  }
  evict_for(cap);
  void* p = map_block(cap);
  if (p == nullptr) {  // the system is short: what the cache holds goes back first
    for (; !free_.empty(); ++s_.evicted) unmap(free_.begin());
    p = map_block(cap);
    if (p == nullptr) throw std::bad_alloc();
  }
  owned_.emplace(p, cap);
  s_.live += cap;
  s_.peak_live = std::max(s_.peak_live, s_.live);
  ++s_.misses;
  return p;
}

void BlockCache::evict_for(size_t incoming) {
  const size_t limit = std::max(s_.peak_live, s_.live + incoming) + o_.slack;
  for (; !free_.empty() && s_.live + incoming + s_.cached > limit; ++s_.evicted) unmap(std::prev(free_.end()));
}

void BlockCache::unmap(std::multimap<size_t, void*>::iterator it) {
  ::munmap(it->second, it->first);
  owned_.erase(it->second);
  s_.cached -= it->first;
  free_.erase(it);
}

bool BlockCache::give(void* p) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = owned_.find(p);
  if (it == owned_.end()) return false;
  s_.live -= it->second;
  s_.cached += it->second;
  free_.emplace(it->second, p);
  return true;
}

void BlockCache::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!free_.empty()) unmap(free_.begin());
}

BlockCache::Stats BlockCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return s_;
}

namespace {

BlockCache* g_cache = nullptr;

void release(void* p) {
  if (p == nullptr) return;
  if (!g_cache->give(p)) c10::free_cpu(p);
}

// Every block, small or large, is one pointer that is both data and context, so LibTorch's raw
// interface (raw_allocate / raw_deallocate, which oneDNN's ideep allocator uses) works as with c10's own:
// raw_deleter's `release` hands a pointer the cache does not own to c10's free.
class CachingCpuAllocator final : public c10::Allocator {
 public:
  // c10::Allocator::allocate is const before LibTorch 2.3 and not from 2.3 on: both are defined, and the
  // one the base declares is the override (model/torch_compat.h lists this difference).
  c10::DataPtr allocate(size_t n) const { return make(n); }
  c10::DataPtr allocate(size_t n) { return make(n); }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  // Pure virtual from 2.3 on; an unused member before.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

 private:
  // A small block's deleter is c10's own free: its tensors never take the cache's lock to go.
  static c10::DataPtr make(size_t n) {
    if (n < g_cache->options().min_block) {
      void* p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, c10::Device(c10::DeviceType::CPU)};
    }
    void* p = g_cache->take(n);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
};

}  // namespace

bool install_caching_allocator() {
  static const bool installed = [] {
    const char* off = std::getenv("PREFER_CACHING_ALLOCATOR");
    if (off != nullptr && std::string(off) == "0") return false;
    // Never destroyed: tensors may be freed during static destruction, after main returns.
    g_cache = new BlockCache();
    c10::SetCPUAllocator(new CachingCpuAllocator(), /*priority=*/1);
    return true;
  }();
  return installed;
}

BlockCache* installed_block_cache() { return g_cache; }

}  // namespace prefer::model
