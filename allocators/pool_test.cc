// Unit tests for Pool: class boundaries, alignment, large blocks, reuse, thread caches,
// cross-thread frees, empty slab release, stress. Layer: allocators tests.
#include "allocators/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "allocators/os.h"
#include "allocators/test_util.h"

namespace allocmark {
namespace {

TEST(Pool, ClassTableIsSortedAndCoversMaxSmall) {
  Pool p;
  ASSERT_GT(p.class_count(), 8u);
  for (std::size_t i = 1; i < p.class_count(); ++i) {
    EXPECT_GT(p.class_size(i), p.class_size(i - 1));
    EXPECT_EQ(p.class_size(i) % 16, 0u);
  }
  EXPECT_EQ(p.class_size(p.class_count() - 1), p.options().max_small);
  // Fragmentation bound from 4 classes per doubling: size / request < 1.25 above 128 bytes.
  for (std::size_t n = 129; n <= p.options().max_small; n += 7) {
    const int c = p.class_of(n, 0);
    ASSERT_GE(c, 0);
    EXPECT_GE(p.class_size(c), n);
    EXPECT_LT(static_cast<double>(p.class_size(c)) / n, 1.25 + 1e-9) << n;
  }
}

TEST(Pool, SizesNearEveryClassBoundary) {
  Pool p;
  std::vector<testing::Block> live;
  for (std::size_t c = 0; c < p.class_count(); ++c) {
    const std::size_t sz = p.class_size(c);
    for (std::size_t n : {sz - 1, sz, sz + 1}) {
      void* b = p.allocate(n, 0);
      ASSERT_NE(b, nullptr) << n;
      EXPECT_GE(p.usable_size(b), n);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 16, 0u);
      testing::fill(b, n, n);
      live.push_back({b, n, 0, n});
    }
  }
  for (auto& b : live) {
    ASSERT_EQ(testing::verify(b.p, b.n, b.tag), b.n) << b.n;
    p.deallocate(b.p, b.n, 0);
  }
}

TEST(Pool, EveryPowerOfTwoAlignmentUpTo64KiB) {
  Pool p;
  for (std::size_t align = 1; align <= (64 << 10); align <<= 1) {
    for (std::size_t n : {std::size_t{1}, std::size_t{24}, align, 3 * align, std::size_t{40000}}) {
      void* b = p.allocate(n, align);
      ASSERT_NE(b, nullptr) << n << " " << align;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % align, 0u) << n << " " << align;
      std::memset(b, 0x11, n);
      p.deallocate(b, n, align);
    }
  }
}

TEST(Pool, ZeroSizeGivesDistinctLiveBlocks) {
  Pool p;
  std::set<void*> seen;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(seen.insert(p.allocate(0, 0)).second);
  for (void* b : seen) p.deallocate(b, 0, 0);
}

TEST(Pool, HugeSizesReturnNull) {
  Pool p;
  EXPECT_EQ(p.allocate(SIZE_MAX, 0), nullptr);
  EXPECT_EQ(p.allocate(SIZE_MAX / 2, 4096), nullptr);
  EXPECT_EQ(p.allocate(std::size_t{1} << 50, 0), nullptr);  // the OS refuses 1 PiB
  EXPECT_EQ(p.allocate(64, std::size_t{1} << 62), nullptr);
  void* b = p.allocate(64, 0);
  EXPECT_NE(b, nullptr);
  p.deallocate(b, 64, 0);
}

TEST(Pool, LargeBlocksAreMappedAndUnmapped) {
  Pool p(PoolOptions{.large_cache_bytes = 0});  // no cache: a free goes straight to munmap
  const uint64_t before = os::counters().unmaps.load();
  void* b = p.allocate(1 << 20, 0);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(p.owns_small(b));
  EXPECT_GE(p.usable_size(b), 1u << 20);
  std::memset(b, 7, 1 << 20);
  p.deallocate_unsized(b);
  EXPECT_EQ(os::counters().unmaps.load(), before + 1);
}

TEST(Pool, FreedLargeBlocksAreReusedFromTheCache) {
  Pool p;
  void* a = p.allocate(1 << 20, 0);
  ASSERT_NE(a, nullptr);
  std::memset(a, 7, 1 << 20);
  const uint64_t maps = os::counters().maps.load(), unmaps = os::counters().unmaps.load();
  p.deallocate(a, 1 << 20, 0);
  EXPECT_EQ(p.cached_large(), 1u);
  EXPECT_GE(p.cached_large_bytes(), std::size_t{1} << 20);
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
  // A slightly smaller request fits the same mapping: no mmap, no munmap.
  void* b = p.allocate((1 << 20) - 5000, 0);
  EXPECT_EQ(b, a);
  EXPECT_EQ(p.cached_large(), 0u);
  EXPECT_EQ(os::counters().maps.load(), maps);
  EXPECT_EQ(os::counters().unmaps.load(), unmaps);
  // One much smaller (below 2/3 of the mapping) splits it: the head serves it, the tail stays
  // cached, still no system call.
  p.deallocate_unsized(b);
  void* c = p.allocate(200 << 10, 0);
  EXPECT_EQ(c, b);
  EXPECT_EQ(p.cached_large(), 1u);
  EXPECT_EQ(os::counters().maps.load(), maps);
  EXPECT_EQ(os::counters().unmaps.load(), unmaps);
  const std::size_t whole = p.cached_large_bytes() + p.usable_size(c) + 16;
  // Freed, the head rejoins the tail it was cut from: one entry again, the whole mapping.
  p.deallocate(c, 200 << 10, 0);
  EXPECT_EQ(p.cached_large(), 1u);
  EXPECT_EQ(p.cached_large_bytes(), whole);
  // Over-aligned large blocks bypass the cache.
  void* d = p.allocate(1 << 20, 1 << 16);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(d) % (1 << 16), 0u);
  p.deallocate(d, 1 << 20, 1 << 16);
  EXPECT_EQ(p.cached_large(), 1u);  // unchanged
}

// Pieces split off one cached mapping coalesce as they come back, whatever the order: the
// cache ends with one entry of the whole size, and no system call was made.
TEST(Pool, SplitPiecesCoalesceInTheLargeCache) {
  Pool p;
  void* a = p.allocate(4 << 20, 0);
  ASSERT_NE(a, nullptr);
  p.deallocate(a, 4 << 20, 0);
  const std::size_t whole = p.cached_large_bytes();
  const uint64_t maps = os::counters().maps.load(), unmaps = os::counters().unmaps.load(),
                 remaps = os::counters().remaps.load();
  void* b = p.allocate(300 << 10, 0);
  void* c = p.allocate(500 << 10, 0);
  void* d = p.allocate(700 << 10, 0);
  ASSERT_TRUE(b != nullptr && c != nullptr && d != nullptr);
  EXPECT_EQ(p.cached_large(), 1u);  // the tail
  p.deallocate(c, 500 << 10, 0);    // between two live pieces: nothing to join yet
  EXPECT_EQ(p.cached_large(), 2u);
  p.deallocate(b, 300 << 10, 0);  // joins c
  EXPECT_EQ(p.cached_large(), 2u);
  p.deallocate(d, 700 << 10, 0);  // joins b+c before it and the tail after it
  EXPECT_EQ(p.cached_large(), 1u);
  EXPECT_EQ(p.cached_large_bytes(), whole);
  EXPECT_EQ(os::counters().maps.load(), maps);
  EXPECT_EQ(os::counters().unmaps.load(), unmaps);
  EXPECT_EQ(os::counters().remaps.load(), remaps);
  // The joined mapping serves a request of its whole size in one piece.
  void* e = p.allocate(whole - 4096, 0);
  EXPECT_EQ(e, a);
  EXPECT_EQ(p.cached_large(), 0u);
  p.deallocate(e, whole - 4096, 0);
}

// A request larger than every cached mapping grows the largest (at least a quarter of it) with
// mremap: its bytes and pages come along, and calloc still reads zero throughout.
TEST(Pool, SmallerCachedMappingIsGrownForALargerRequest) {
  Pool p;
  const std::size_t kSmall = 3 << 20, kBig = 9 << 20;
  auto* a = static_cast<unsigned char*>(p.allocate(kSmall, 0));
  ASSERT_NE(a, nullptr);
  std::memset(a, 0x5A, kSmall);
  p.deallocate(a, kSmall, 0);
  ASSERT_EQ(p.cached_large(), 1u);
  const uint64_t maps = os::counters().maps.load(), remaps = os::counters().remaps.load();
  auto* b = static_cast<unsigned char*>(p.allocate(kBig, 0));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(p.cached_large(), 0u);
  EXPECT_EQ(os::counters().maps.load(), maps);  // no mmap: the cached mapping was remapped
  EXPECT_EQ(os::counters().remaps.load(), remaps + 1);
  EXPECT_EQ(b[0], 0x5A);  // the old owner's bytes: malloc does not clear
  std::memset(b, 1, kBig);
  EXPECT_GE(p.usable_size(b), kBig);
  p.deallocate(b, kBig, 0);
  // calloc through the same path (the 6.5 MiB tail left by the split is grown): zero in the
  // reused part and in the grown tail.
  auto* s = static_cast<unsigned char*>(p.allocate(kSmall, 0));  // splits the 9 MiB one
  ASSERT_NE(s, nullptr);
  p.deallocate(s, kSmall, 0);
  auto* z = static_cast<unsigned char*>(p.calloc(1, 2 * kBig));
  ASSERT_NE(z, nullptr);
  for (std::size_t i = 0; i < 2 * kBig; i += 4093) ASSERT_EQ(z[i], 0) << i;
  EXPECT_EQ(z[2 * kBig - 1], 0);
  p.deallocate_unsized(z);
}

// calloc returns zeroes whichever way it gets them: memset (small blocks, short reused
// mappings), a fresh mapping (no write at all), or pages handed back to the kernel (long reused
// mappings, odd head and tail bytes memset).
TEST(Pool, CallocIsZeroedOnFreshAndReusedMemory) {
  Pool p;
  auto all_zero = [](const void* b, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(b);
    for (std::size_t i = 0; i < n; ++i)
      if (c[i] != 0) return false;
    return true;
  };
  EXPECT_EQ(p.calloc(SIZE_MAX / 2, 3), nullptr);  // count * size overflows
  void* z = p.calloc(0, 0);
  EXPECT_NE(z, nullptr);
  p.deallocate_unsized(z);
  // Sizes on both sides of max_small and of the memset limit, with odd lengths so the advice
  // range has a partial head and tail.
  for (std::size_t n : {std::size_t{24}, std::size_t{4000}, std::size_t{30000}, std::size_t{40001},
                        std::size_t{70001}, std::size_t{(1 << 20) + 123},
                        std::size_t{(33 << 20) + 123}}) {  // the last above the memset limit
    for (int round = 0; round < 3; ++round) {  // fresh, then reused from cache or free list
      auto* b = static_cast<unsigned char*>(p.calloc(n / 8 + 1, 8));
      ASSERT_NE(b, nullptr) << n;
      ASSERT_TRUE(all_zero(b, n / 8 * 8 + 8)) << n << " round " << round;
      std::memset(b, 0xA5, n / 8 * 8 + 8);  // dirty it for the next round
      p.deallocate_unsized(b);
    }
  }
}

TEST(Pool, LargeCacheStaysWithinItsBounds) {
  const std::size_t kBytes = 4 << 20;
  Pool p(PoolOptions{.large_cache_bytes = kBytes, .large_cache_count = 8});
  std::vector<void*> v;
  for (int i = 0; i < 40; ++i) {
    v.push_back(p.allocate((100 + 10 * i) << 10, 0));
    ASSERT_NE(v.back(), nullptr);
    std::memset(v.back(), i, (100 + 10 * i) << 10);
  }
  const uint64_t unmaps = os::counters().unmaps.load();
  for (int i = 0; i < 40; ++i) {
    p.deallocate(v[i], (100 + 10 * i) << 10, 0);
    EXPECT_LE(p.cached_large(), 8u);
    EXPECT_LE(p.cached_large_bytes(), kBytes);
  }
  EXPECT_GE(p.cached_large(), 1u);
  // The rest was unmapped (adjacent mappings may have been joined first, so fewer calls).
  EXPECT_GE(os::counters().unmaps.load() - unmaps, 1u);
  EXPECT_LE(os::counters().unmaps.load() - unmaps, 40 - p.cached_large());
  // A mapping above the bound is never cached.
  void* big = p.allocate(kBytes + 1, 0);
  const std::size_t before = p.cached_large_bytes();
  p.deallocate(big, kBytes + 1, 0);
  EXPECT_EQ(p.cached_large_bytes(), before);
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
}

TEST(Pool, LargeReallocGrowthKeepsContents) {
  Pool p;
  // String-like growth: small steps through small classes, then large; contents survive every
  // move, and large growth mostly stays in place (class rounding) or is remapped, not copied.
  std::size_t n = 1000;
  auto* b = static_cast<unsigned char*>(p.allocate(n, 0));
  testing::fill(b, n, 9);
  const uint64_t remaps = os::counters().remaps.load();
  while (n < (3 << 20)) {
    const std::size_t grown = n + n / 16 + 1;
    auto* q = static_cast<unsigned char*>(p.reallocate(b, n, grown, 0));
    ASSERT_NE(q, nullptr) << grown;
    ASSERT_EQ(testing::verify(q, 1000, 9), 1000u) << grown;
    std::memset(q + n, 0x5a, grown - n);
    b = q;
    n = grown;
  }
  EXPECT_GT(os::counters().remaps.load(), remaps);
  // One per class step (4 per doubling, 32 KiB .. 3 MiB is under 7 doublings), not one per page.
  EXPECT_LE(os::counters().remaps.load() - remaps, 28u);
  for (std::size_t i = 1000; i < n; ++i) ASSERT_EQ(b[i], 0x5a) << i;
  // The unsized API (the malloc shim) grows the same way.
  b = static_cast<unsigned char*>(p.reallocate_unsized(b, 2 * n));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(testing::verify(b, 1000, 9), 1000u);
  EXPECT_GE(p.usable_size(b), 2 * n);
  // Shrinking below half copies into a smaller block.
  void* s = p.reallocate(b, 2 * n, 100, 0);
  EXPECT_TRUE(p.owns_small(s));
  EXPECT_EQ(testing::verify(s, 100, 9), 100u);
  p.deallocate(s, 100, 0);
}

TEST(Pool, ReuseAfterFreeIsLifoOnOneThread) {
  Pool p;
  void* a = p.allocate(48, 0);
  p.deallocate(a, 48, 0);
  EXPECT_EQ(p.allocate(48, 0), a);
  p.deallocate(a, 48, 0);
  // Same class, different request size: reused too.
  EXPECT_EQ(p.allocate(40, 0), a);
}

TEST(Pool, UnsizedFreeFindsTheClass) {
  Pool p;
  void* a = p.allocate(1000, 0);
  EXPECT_EQ(p.usable_size(a), p.class_size(p.class_of(1000, 0)));
  p.deallocate_unsized(a);
  EXPECT_EQ(p.allocate(1000, 0), a);
}

TEST(Pool, ReallocKeepsContents) {
  Pool p;
  void* a = p.allocate(20, 0);
  testing::fill(a, 20, 3);
  EXPECT_EQ(p.reallocate(a, 20, 30, 0), a);  // same 32-byte class
  void* b = p.reallocate(a, 30, 5000, 0);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(testing::verify(b, 20, 3), 20u);
  void* c = p.reallocate(b, 5000, 200000, 0);  // to a large block
  EXPECT_EQ(testing::verify(c, 20, 3), 20u);
  void* d = p.reallocate(c, 200000, 10, 0);
  EXPECT_EQ(testing::verify(d, 10, 3), 10u);
  p.deallocate(d, 10, 0);
}

TEST(Pool, EmptySlabsAreReleasedPastKeepEmpty) {
  Pool p(
      PoolOptions{.slab_size = 64 << 10, .cache_count = 8, .keep_empty = 0, .release_delay_ms = 0});
  std::vector<void*> v;
  for (int i = 0; i < 10000; ++i) v.push_back(p.allocate(64, 0));  // ~10 slabs
  EXPECT_GE(p.live_slabs(), 9u);
  for (void* b : v) p.deallocate(b, 64, 0);
  p.thread_exit();
  EXPECT_EQ(p.live_slabs(), 0u);
  EXPECT_GE(p.released_slabs(), 9u);
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
}

TEST(Pool, SurplusEmptySlabsWaitForTheDelay) {
  Pool p(PoolOptions{
      .slab_size = 64 << 10, .cache_count = 8, .keep_empty = 0, .release_delay_ms = 200});
  std::vector<void*> v;
  for (int i = 0; i < 10000; ++i) v.push_back(p.allocate(64, 0));
  for (void* b : v) p.deallocate(b, 64, 0);
  p.thread_exit();
  const std::size_t kept = p.live_slabs();
  EXPECT_GE(kept, 9u);  // emptied just now: still warm
  EXPECT_EQ(p.released_slabs(), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  void* b = p.allocate(64, 0);  // takes one empty slab back
  p.deallocate(b, 64, 0);
  p.thread_exit();                // a flush on the class runs the release check
  EXPECT_EQ(p.live_slabs(), 1u);  // only the slab just emptied again is still waiting
  EXPECT_GE(p.released_slabs(), kept - 1);
}

// An empty slab no class keeps serves the next class that needs one, pages still committed:
// memory freed in one size class is reused by another without new address space or faults.
TEST(Pool, IdleSlabsAreReusedByOtherClasses) {
  Pool p(PoolOptions{
      .slab_size = 64 << 10, .cache_count = 8, .keep_empty = 0, .release_delay_ms = 1 << 20});
  std::vector<void*> v;
  for (int i = 0; i < 10000; ++i) v.push_back(p.allocate(64, 0));  // ~10 slabs of class 64
  for (void* b : v) p.deallocate(b, 64, 0);
  p.thread_exit();
  const std::size_t slabs = p.live_slabs();
  const uint64_t committed = p.stats().bytes_committed;
  EXPECT_GE(slabs, 9u);
  EXPECT_EQ(p.released_slabs(), 0u);
  v.clear();
  for (int i = 0; i < 500; ++i) {  // ~8 slabs of class 1024, re-carved from the idle ones
    v.push_back(p.allocate(1000, 0));
    testing::fill(v.back(), 1000, i);
  }
  EXPECT_EQ(p.live_slabs(), slabs);  // no new slab
  EXPECT_GE(p.stats().bytes_committed, committed);
  EXPECT_LE(p.stats().bytes_committed, slabs * (64 << 10));  // within the same slabs
  for (int i = 0; i < 500; ++i) EXPECT_EQ(testing::verify(v[i], 1000, i), 1000u) << i;
  for (void* b : v) p.deallocate(b, 1000, 0);
  p.thread_exit();
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
}

// A thread cache's overflow is parked whole and taken back whole; parked batches go back to
// their slabs before any class takes fresh memory, and at a thread's exit.
TEST(Pool, OverflowBatchesAreParkedAndReclaimed) {
  Pool p(PoolOptions{
      .slab_size = 64 << 10, .cache_count = 8, .keep_empty = 0, .release_delay_ms = 1 << 20});
  std::vector<void*> v;
  for (int i = 0; i < 4000; ++i) v.push_back(p.allocate(64, 0));  // ~4 slabs
  for (void* b : v) p.deallocate(b, 64, 0);
  EXPECT_EQ(p.parked_batches(), 8u);
  v.clear();
  for (int i = 0; i < 24; ++i) v.push_back(p.allocate(64, 0));  // past the thread's list
  EXPECT_LT(p.parked_batches(), 8u);                            // refills took parked batches back
  for (void* b : v) p.deallocate(b, 64, 0);
  const std::size_t parked = p.parked_batches();
  ASSERT_GT(parked, 0u);
  const std::size_t slabs = p.live_slabs();
  std::vector<void*> big;
  for (int i = 0; i < 400; ++i) big.push_back(p.allocate(1000, 0));  // more than the idle slabs
  EXPECT_EQ(p.parked_batches(), 0u);
  EXPECT_GT(p.live_slabs(), slabs);
  for (void* b : big) p.deallocate(b, 1000, 0);
  for (int i = 0; i < 4000; ++i) p.deallocate(p.allocate(64, 0), 64, 0);
  p.thread_exit();
  EXPECT_EQ(p.parked_batches(), 0u);
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
}

TEST(Pool, KeepEmptyKeepsSlabsWarm) {
  Pool p(
      PoolOptions{.slab_size = 64 << 10, .cache_count = 8, .keep_empty = 2, .release_delay_ms = 0});
  std::vector<void*> v;
  for (int i = 0; i < 10000; ++i) v.push_back(p.allocate(64, 0));
  for (void* b : v) p.deallocate(b, 64, 0);
  p.thread_exit();
  EXPECT_EQ(p.live_slabs(), 2u);
}

TEST(Pool, CrossThreadFreeReachesTheSlab) {
  Pool p(PoolOptions{.slab_size = 64 << 10, .keep_empty = 0, .release_delay_ms = 0});
  std::vector<void*> v;
  std::thread([&] {
    for (int i = 0; i < 5000; ++i) v.push_back(p.allocate(128, 0));
  }).join();  // the allocating thread is gone; its cache was flushed at exit
  for (void* b : v) p.deallocate(b, 128, 0);
  p.thread_exit();
  EXPECT_EQ(p.live_slabs(), 0u);
}

// Hoard's cache-scratch: a block handed to a thread that has not allocated its class is not
// what that thread's next allocation returns, so it does not write into its giver's lines.
TEST(Pool, HandedOverBlockIsNotReusedByItsNewThread) {
  Pool p;
  void* mine = p.allocate(16, 0);
  void* given = p.allocate(16, 0);
  void* reused = nullptr;
  std::thread([&] {
    p.deallocate(given, 16, 0);
    reused = p.allocate(16, 0);
    p.deallocate(reused, 16, 0);
  }).join();
  EXPECT_NE(reused, given);
  EXPECT_NE(reinterpret_cast<uintptr_t>(reused) / 64, reinterpret_cast<uintptr_t>(mine) / 64)
      << "the new thread's block shares a cache line with the giver's";
  // Once a thread allocates a class, frees go to its cache as before (LIFO reuse).
  void* again = p.allocate(16, 0);
  p.deallocate(again, 16, 0);
  EXPECT_EQ(p.allocate(16, 0), again);
}

TEST(Pool, ThreadCachesGiveEachThreadItsOwnBlocks) {
  Pool p;
  std::vector<std::vector<void*>> got(2);
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) got[t].push_back(p.allocate(32, 0));
    });
  }
  for (auto& t : ts) t.join();
  std::set<void*> all(got[0].begin(), got[0].end());
  for (void* b : got[1]) EXPECT_TRUE(all.insert(b).second);
}

TEST(Pool, PoolDestroyedBeforeThreadExitIsSafe) {
  std::atomic<int> stage{0};
  auto* p = new Pool();
  std::thread t([&] {
    void* b = p->allocate(64, 0);
    p->deallocate(b, 64, 0);  // the thread's cache now holds a block of *p
    stage = 1;
    while (stage != 2) std::this_thread::yield();
  });
  while (stage != 1) std::this_thread::yield();
  delete p;
  stage = 2;
  t.join();  // the exit destructor must see the pool is gone
  Pool q;    // and a new pool on the same thread works
  EXPECT_NE(q.allocate(64, 0), nullptr);
}

TEST(Pool, SlabExhaustionReturnsNull) {
  Pool p(PoolOptions{.slab_size = 64 << 10, .reserve = 1 << 20});
  int n = 0;
  while (p.allocate(4096, 0) != nullptr) ++n;
  EXPECT_EQ(n, 16 * 16);               // 16 slabs of 16 blocks
  void* big = p.allocate(1 << 20, 0);  // large blocks are independent of the slab region
  EXPECT_NE(big, nullptr);
  p.deallocate(big, 1 << 20, 0);
}

// Freed blocks go back to their slab's bitmap by index (offset times a reciprocal): every
// block of every class, up to the last of a 16 MiB slab, must come back out as itself.
TEST(Pool, EveryFreedBlockIsReusedInEveryClass) {
  for (const std::size_t slab : {std::size_t{64} << 10, std::size_t{16} << 20}) {
    Pool p(PoolOptions{
        .slab_size = slab, .max_small = 64 << 10, .cache_count = 2, .release_delay_ms = 1 << 20});
    std::mt19937_64 rng(slab);
    for (std::size_t cls = 0; cls < p.class_count(); ++cls) {
      const std::size_t sz = p.class_size(cls);
      const std::size_t n = std::min<std::size_t>(2 * slab / sz + 3, 5000);
      std::vector<void*> v;
      for (std::size_t i = 0; i < n; ++i) v.push_back(p.allocate(sz, 0));
      ASSERT_EQ(std::count(v.begin(), v.end(), nullptr), 0) << sz;
      std::set<void*> before(v.begin(), v.end());
      ASSERT_EQ(before.size(), n) << sz;
      std::shuffle(v.begin(), v.end(), rng);
      for (void* b : v) p.deallocate(b, sz, 0);
      const std::size_t slabs = p.live_slabs();
      v.clear();
      for (std::size_t i = 0; i < n; ++i) v.push_back(p.allocate(sz, 0));
      EXPECT_EQ(std::set<void*>(v.begin(), v.end()), before) << "class " << sz;
      EXPECT_EQ(p.live_slabs(), slabs) << "class " << sz;
      for (void* b : v) p.deallocate(b, sz, 0);
    }
  }
}

TEST(Pool, StressSingleThread) {
  Pool p;
  EXPECT_EQ(testing::stress(p, 1, 40000, 500, 64 << 10, false), 0u);
  p.thread_exit();
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
}

TEST(Pool, StressFourThreadsCrossThreadFrees) {
  Pool p(PoolOptions{
      .slab_size = 64 << 10, .cache_count = 16, .keep_empty = 0, .release_delay_ms = 0});
  EXPECT_EQ(testing::stress(p, 4, 20000, 300, 16 << 10, true), 0u);
  p.thread_exit();
  EXPECT_EQ(p.stats().bytes_in_use, 0u);
}

}  // namespace
}  // namespace allocmark
