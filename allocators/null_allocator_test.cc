// Unit tests for NullAllocator: satisfies the contract, never fails, hands out one shared page.
// Layer: allocators tests.
#include "allocators/null_allocator.h"

#include <gtest/gtest.h>

#include <cstring>

namespace allocmark {
namespace {

TEST(NullAllocator, ReturnsTheSameAlignedScratchPage) {
  NullAllocator a;
  void* p = a.allocate(16, 0);
  void* q = a.allocate(4096, 65536);
  EXPECT_EQ(p, q);  // shared: the harness must not rely on contents
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  std::memset(q, 0, NullAllocator::kScratchSize);
  a.deallocate(p, 16, 0);
  EXPECT_EQ(a.reallocate(p, 16, 32, 0), p);
  EXPECT_EQ(a.stats().bytes_in_use, 0u);
}

}  // namespace
}  // namespace allocmark
