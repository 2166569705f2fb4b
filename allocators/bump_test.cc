// Unit tests for Bump: alignment, zero and huge sizes, exhaustion, rollback, realloc, threads.
// Layer: allocators tests. The embedded (no-mmap) case is in bump_embedded_test.cc.
#include "allocators/bump.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "allocators/test_util.h"

namespace allocmark {
namespace {

TEST(Bump, DefaultConstructedReservesDefaultCapacity) {
  Bump b;
  EXPECT_EQ(b.capacity(), BumpOptions{}.capacity);
  void* p = b.allocate(100, 0);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0xAB, 100);
  EXPECT_TRUE(b.owns(p));
}

TEST(Bump, EveryPowerOfTwoAlignmentUpTo64KiB) {
  Bump b(BumpOptions{.capacity = 16 << 20});
  for (std::size_t align = 1; align <= (64 << 10); align <<= 1) {
    for (std::size_t n : {std::size_t{1}, std::size_t{3}, align, align + 1}) {
      void* p = b.allocate(n, align);
      ASSERT_NE(p, nullptr) << "align " << align << " n " << n;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "align " << align;
      std::memset(p, 0x5A, n);
    }
  }
}

TEST(Bump, DefaultAlignmentIsMaxAlign) {
  Bump b;
  for (int i = 0; i < 100; ++i) {
    void* p = b.allocate(1 + i % 7, 0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(std::max_align_t), 0u);
  }
}

TEST(Bump, ZeroSizeGivesDistinctPointers) {
  Bump b;
  std::set<void*> seen;
  for (int i = 0; i < 64; ++i) {
    void* p = b.allocate(0, 0);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(seen.insert(p).second);
  }
}

TEST(Bump, HugeSizesReturnNull) {
  Bump b(BumpOptions{.capacity = 1 << 20});
  EXPECT_EQ(b.allocate(SIZE_MAX, 0), nullptr);
  EXPECT_EQ(b.allocate(SIZE_MAX - 4096, 4096), nullptr);
  EXPECT_EQ(b.allocate((1 << 20) + 1, 0), nullptr);
  EXPECT_EQ(b.allocate(100, std::size_t{1} << 62), nullptr);
  // Still usable afterwards.
  EXPECT_NE(b.allocate(100, 0), nullptr);
}

TEST(Bump, ExhaustionReturnsNullThenResetRecovers) {
  Bump b(BumpOptions{.capacity = 64 << 10, .block_size = 4096});
  int count = 0;
  while (b.allocate(1024, 0) != nullptr) ++count;
  EXPECT_EQ(count, 64);  // single thread: sub-blocks are contiguous, nothing is wasted
  EXPECT_EQ(b.allocate(1, 0), nullptr);
  b.reset();
  EXPECT_NE(b.allocate(1024, 0), nullptr);
}

TEST(Bump, FreeOfMostRecentRollsBack) {
  Bump b;
  void* p = b.allocate(100, 0);
  b.deallocate(p, 100, 0);
  EXPECT_EQ(b.allocate(100, 0), p);
  // Freeing an older block does not roll back.
  void* q = b.allocate(50, 0);
  b.deallocate(p, 100, 0);
  void* r = b.allocate(10, 0);
  EXPECT_GT(reinterpret_cast<uintptr_t>(r), reinterpret_cast<uintptr_t>(q));
}

TEST(Bump, ReallocOfMostRecentGrowsInPlace) {
  Bump b(BumpOptions{.capacity = 64 << 20, .block_size = 4096});
  auto* p = static_cast<char*>(b.allocate(100, 0));
  testing::fill(p, 100, 7);
  // Within the sub-block, then far beyond it (the sub-block is extended at the shared top).
  EXPECT_EQ(b.reallocate(p, 100, 3000, 0), p);
  EXPECT_EQ(b.reallocate(p, 3000, 1 << 20, 0), p);
  EXPECT_EQ(testing::verify(p, 100, 7), 100u);
  // Not the most recent any more: moves and copies.
  void* other = b.allocate(8, 0);
  ASSERT_NE(other, nullptr);
  auto* q = static_cast<char*>(b.reallocate(p, 1 << 20, 2 << 20, 0));
  ASSERT_NE(q, nullptr);
  EXPECT_NE(q, p);
  EXPECT_EQ(testing::verify(q, 100, 7), 100u);
  // Realloc that cannot fit returns null and keeps the block.
  EXPECT_EQ(b.reallocate(q, 2 << 20, std::size_t{1} << 40, 0), nullptr);
  EXPECT_EQ(testing::verify(q, 100, 7), 100u);
}

TEST(Bump, ResetStartsOverAndIsSeenByOtherThreads) {
  Bump b;
  void* first = b.allocate(64, 0);
  std::thread([&] { EXPECT_NE(b.allocate(64, 0), nullptr); }).join();
  b.reset();
  EXPECT_EQ(b.allocate(64, 0), first);
  EXPECT_EQ(b.stats().bytes_in_use, BumpOptions{}.block_size);
}

TEST(Bump, TwoInstancesOnOneThreadKeepSeparateCursors) {
  Bump a(BumpOptions{.capacity = 1 << 20});
  Bump b(BumpOptions{.capacity = 1 << 20});
  for (int i = 0; i < 1000; ++i) {
    void* p = a.allocate(16, 0);
    void* q = b.allocate(16, 0);
    ASSERT_TRUE(a.owns(p));
    ASSERT_TRUE(b.owns(q));
  }
  EXPECT_LE(a.used(), 64u << 10);  // no sub-block abandoned per switch
}

TEST(Bump, StatsCountTheReservation) {
  Bump b(BumpOptions{.capacity = 8 << 20});
  const AllocatorStats st = b.stats();
  EXPECT_EQ(st.bytes_reserved, 8u << 20);
  EXPECT_EQ(st.os_maps, 1u);
}

TEST(Bump, StressSingleThread) {
  Bump b(BumpOptions{.capacity = 1ull << 32});
  EXPECT_EQ(testing::stress(b, 1, 20000, 200, 64 << 10, false), 0u);
}

TEST(Bump, StressFourThreadsCrossThreadFrees) {
  Bump b(BumpOptions{.capacity = 1ull << 32, .block_size = 4096});
  EXPECT_EQ(testing::stress(b, 4, 10000, 200, 16 << 10, true), 0u);
}

TEST(Bump, ThreadsGetDisjointBlocks) {
  Bump b(BumpOptions{.capacity = 64 << 20, .block_size = 1024});
  std::vector<std::vector<uintptr_t>> got(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i)
        got[t].push_back(reinterpret_cast<uintptr_t>(b.allocate(48, 0)));
    });
  }
  for (auto& t : ts) t.join();
  std::vector<uintptr_t> all;
  for (auto& v : got) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 1; i < all.size(); ++i) ASSERT_GE(all[i] - all[i - 1], 48u);
}

}  // namespace
}  // namespace allocmark
