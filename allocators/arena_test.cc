// Unit tests for Arena: alignment, zero/huge sizes, exhaustion, marks, reset, threads.
// Layer: allocators tests.
#include "allocators/arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "allocators/test_util.h"

namespace allocmark {
namespace {

TEST(Arena, EveryPowerOfTwoAlignmentUpTo64KiB) {
  Arena a;
  for (std::size_t align = 1; align <= (64 << 10); align <<= 1) {
    for (std::size_t n : {std::size_t{1}, align, 3 * align + 5}) {
      void* p = a.allocate(n, align);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
      std::memset(p, 1, n);
    }
  }
}

TEST(Arena, ZeroSizeGivesDistinctPointers) {
  Arena a;
  std::set<void*> seen;
  for (int i = 0; i < 64; ++i) EXPECT_TRUE(seen.insert(a.allocate(0, 0)).second);
}

TEST(Arena, HugeSizesReturnNull) {
  Arena a;
  EXPECT_EQ(a.allocate(SIZE_MAX, 0), nullptr);
  EXPECT_EQ(a.allocate(SIZE_MAX / 2, 64), nullptr);
  EXPECT_EQ(a.allocate(16, std::size_t{1} << 62), nullptr);
  EXPECT_NE(a.allocate(16, 0), nullptr);
}

TEST(Arena, MaxBytesExhaustion) {
  Arena a(ArenaOptions{.chunk_size = 64 << 10, .max_bytes = 256 << 10});
  std::size_t got = 0;
  while (a.allocate(1000, 0) != nullptr) got += 1000;
  EXPECT_GT(got, 200u << 10);
  EXPECT_LE(got, 256u << 10);
  EXPECT_EQ(a.allocate(1000, 0), nullptr);  // stays exhausted
  EXPECT_EQ(a.allocate(64 << 10, 0), nullptr);
  a.reset();
  EXPECT_NE(a.allocate(1000, 0), nullptr);
}

TEST(Arena, ResetKeepsOneChunkWarm) {
  Arena a(ArenaOptions{.chunk_size = 64 << 10});
  for (int i = 0; i < 1000; ++i) ASSERT_NE(a.allocate(200, 0), nullptr);
  const uint64_t maps = a.stats().os_maps;
  EXPECT_GE(maps, 3u);
  a.reset();
  EXPECT_EQ(a.chunk_count(), 0u);
  EXPECT_EQ(a.stats().bytes_reserved, 64u << 10);  // one warm chunk
  ASSERT_NE(a.allocate(200, 0), nullptr);          // served by the warm chunk
  EXPECT_EQ(a.stats().os_maps, maps);
}

TEST(Arena, LargeRequestsDoNotWasteTheCurrentChunk) {
  Arena a(ArenaOptions{.chunk_size = 64 << 10});
  auto* small1 = static_cast<char*>(a.allocate(16, 0));
  void* big = a.allocate(1 << 20, 0);
  ASSERT_NE(big, nullptr);
  std::memset(big, 3, 1 << 20);
  auto* small2 = static_cast<char*>(a.allocate(16, 0));
  EXPECT_EQ(small2, small1 + 16);
}

TEST(Arena, MarksNestAndRollBack) {
  Arena a(ArenaOptions{.chunk_size = 64 << 10});
  void* base = a.allocate(100, 0);
  ASSERT_NE(base, nullptr);
  ArenaMark m1 = a.mark();
  void* p1 = a.allocate(100, 0);
  for (int i = 0; i < 2000; ++i) a.allocate(100, 0);  // spills into new chunks
  const std::size_t chunks_mid = a.chunk_count();
  ArenaMark m2 = a.mark();
  void* p2 = a.allocate(100, 0);
  for (int i = 0; i < 2000; ++i) a.allocate(100, 0);
  EXPECT_GT(a.chunk_count(), chunks_mid);
  ASSERT_TRUE(a.rollback(m2));
  EXPECT_EQ(a.chunk_count(), chunks_mid);
  EXPECT_EQ(a.allocate(100, 0), p2);
  ASSERT_TRUE(a.rollback(m1));
  EXPECT_EQ(a.chunk_count(), 1u);
  EXPECT_EQ(a.allocate(100, 0), p1);
  a.reset();
  EXPECT_FALSE(a.rollback(m1));  // stale after reset
}

TEST(Arena, ReallocGrowsLastInPlaceElseCopies) {
  Arena a;
  void* p = a.allocate(100, 0);
  testing::fill(p, 100, 9);
  EXPECT_EQ(a.reallocate(p, 100, 1000, 0), p);
  void* other = a.allocate(1, 0);
  ASSERT_NE(other, nullptr);
  void* q = a.reallocate(p, 1000, 2000, 0);
  EXPECT_NE(q, p);
  EXPECT_EQ(testing::verify(q, 100, 9), 100u);
}

TEST(Arena, MovedBlocksGrowInTheirHeadroom) {
  Arena a;
  // Two buffers growing in turn: neither is the most recent block when it grows.
  std::size_t n = 64;
  void* b[2] = {a.allocate(n, 0), a.allocate(n, 0)};
  testing::fill(b[0], n, 1);
  testing::fill(b[1], n, 2);
  int moves = 0;
  for (int step = 0; step < 400; ++step) {
    const std::size_t grown = n + 16;
    for (int i = 0; i < 2; ++i) {
      void* q = a.reallocate(b[i], n, grown, 0);
      ASSERT_NE(q, nullptr);
      if (q != b[i]) ++moves;
      ASSERT_EQ(testing::verify(q, 64, i + 1), 64u) << step;
      b[i] = q;
    }
    n = grown;
  }
  // 64 -> 6464 bytes in 16-byte steps: with 50 % headroom a move every ~1.5x, not every step.
  EXPECT_LE(moves, 2 * 14);
  EXPECT_GE(moves, 2);
  // Headroom is not handed out twice: blocks allocated now survive the buffers' next growth.
  void* fresh[8];
  for (int i = 0; i < 8; ++i) testing::fill(fresh[i] = a.allocate(64, 0), 64, 10 + i);
  for (int i = 0; i < 2; ++i) {
    b[i] = a.reallocate(b[i], n, n + 16, 0);
    std::memset(b[i], 0xee, n + 16);
  }
  for (int i = 0; i < 8; ++i) EXPECT_EQ(testing::verify(fresh[i], 64, 10 + i), 64u) << i;
  // After a reset the table is forgotten: a block at a reused address copies normally.
  a.reset();
  void* x = a.allocate(100, 0);
  void* y = a.allocate(100, 0);
  testing::fill(x, 100, 3);
  void* z = a.reallocate(x, 100, 5000, 0);
  EXPECT_NE(z, x);
  EXPECT_EQ(testing::verify(z, 100, 3), 100u);
  (void)y;
}

TEST(Arena, PerThreadChunks) {
  Arena a(ArenaOptions{.chunk_size = 64 << 10});
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t) ts.emplace_back([&] { a.allocate(16, 0); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(a.chunk_count(), 3u);
}

TEST(Arena, StressSingleThread) {
  Arena a;
  EXPECT_EQ(testing::stress(a, 1, 20000, 200, 64 << 10, false), 0u);
}

TEST(Arena, StressFourThreadsCrossThreadFrees) {
  Arena a(ArenaOptions{.chunk_size = 64 << 10});
  EXPECT_EQ(testing::stress(a, 4, 10000, 200, 16 << 10, true), 0u);
}

}  // namespace
}  // namespace allocmark
