// A caching CPU allocator for LibTorch: the large blocks a training step frees are kept for the next
// step's tensors of (nearly) the same size instead of going back to malloc.
//
// Why: a step allocates and frees gigabytes of activations, gradients and logits chunks of the same
// sizes every time. glibc hands much of that memory back to the kernel and faults it in again, and every
// fault zeroes a page (a 2 MiB one with the huge-page malloc of util/startup_env.h): measured on the
// 2-core Xeon at the DPO benchmark's sizes, zeroing (`clear_page_erms`) was 2.8% of a bf16 step's CPU
// time in the steady state, and raising malloc's trim and mmap thresholds as far as glibc allows did
// not remove it. A cached block is reused as it is, already mapped: with the cache 1.0%, and the
// step's peak 7-10% lower (docs/performance.md, "Sixth round").
//
// What it costs in memory, and the bound that keeps it small: the cache only holds blocks that were
// live before, and on a miss it unmaps cached blocks (largest first) until live + cached stays within
// the highest live total seen so far plus `slack`. Blocks are mappings of their own (mmap), so an
// unmapped block leaves the process at once; the cache's resident memory is at most `slack` over what
// the tensors themselves needed at their peak (a first version that took blocks from malloc left
// evicted blocks resident in malloc's heap: a DPO epoch's peak rose by 0.8 GiB).
//
// Blocks under `min_block` (1 MiB) go to c10's own CPU allocation as before: malloc serves those well.
// Thread-safe: LibTorch frees tensors from any thread (the autograd engine, OpenMP workers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

namespace prefer::model {

class BlockCache {
 public:
  struct Options {
    size_t min_block = size_t{1} << 20;  // smaller requests are not cached
    size_t slack = size_t{64} << 20;     // live + cached <= peak live + slack
  };
  struct Stats {
    size_t live = 0;         // bytes (block capacities) handed out and not yet given back
    size_t cached = 0;       // bytes held for reuse
    size_t peak_live = 0;    // the highest `live` so far
    uint64_t hits = 0;       // requests served from the cache
    uint64_t misses = 0;     // requests that allocated a new block
    uint64_t evicted = 0;    // cached blocks unmapped to keep the bound
  };

  BlockCache() : BlockCache(Options{}) {}
  explicit BlockCache(Options o) : o_(o) {}
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A block of at least n bytes (n >= min_block), page-aligned. Throws std::bad_alloc when the system
  // has no memory left even after the cache is emptied.
  void* take(size_t n);
  // Returns `p` to the cache when it came from take(); false (and nothing done) otherwise.
  bool give(void* p);
  // Unmaps every cached block.
  void release_cached();
  Stats stats() const;
  const Options& options() const { return o_; }

  // The capacity a request of n bytes gets: n rounded up to 1/16 of its power of two (at least 64 KiB),
  // so tensors whose sizes differ by a few tokens share blocks; at most 6.25% more than asked. A
  // request takes the smallest cached block of at least that capacity and at most 1/16 more.
  static size_t capacity_for(size_t n);

 private:
  // With mu_ held: unmaps cached blocks, largest first, until `incoming` more fits the bound.
  void evict_for(size_t incoming);
  // With mu_ held: unmaps the cached block at `it` and forgets it.
  void unmap(std::multimap<size_t, void*>::iterator it);

  Options o_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;         // capacity -> cached block
  std::unordered_map<void*, size_t> owned_;   // every block from take(), live or cached -> capacity
  Stats s_;
};

// Makes LibTorch's CPU tensors come from a process-wide BlockCache (c10::SetCPUAllocator). Idempotent;
// PREFER_CACHING_ALLOCATOR=0 in the environment leaves LibTorch's allocator as it is. Returns whether
// the cache is installed.
bool install_caching_allocator();
// The installed cache, or nullptr.
BlockCache* installed_block_cache();

}  // namespace prefer::model
