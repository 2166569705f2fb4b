// Tests of the --check verifier: the first bad block is named with both objects. Layer: harness.
#include "harness/worker/block_checker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace allocmark {
namespace {

Event malloc_event(uint32_t obj, uint64_t size) {
  Event e{};
  e.op = Op::kMalloc;
  e.obj = obj;
  e.size = size;
  return e;
}

TEST(BlockChecker, OverlapNamesBothObjects) {
  BlockChecker checker;
  std::vector<unsigned char> heap(256);
  ASSERT_TRUE(checker.on_allocate(0, 10, malloc_event(7, 64), heap.data(), 64, 0, false));
  // The same block again, as an allocator handing out the previous block would.
  EXPECT_FALSE(checker.on_allocate(0, 11, malloc_event(8, 32), heap.data(), 32, 0, false));
  const std::string problem = checker.problem();
  EXPECT_NE(problem.find("thread 0 event 11"), std::string::npos) << problem;
  EXPECT_NE(problem.find("object 8"), std::string::npos) << problem;
  EXPECT_NE(problem.find("overlaps live object 7"), std::string::npos) << problem;
}

TEST(BlockChecker, MisalignedBlockIsRefused) {
  BlockChecker checker;
  alignas(64) unsigned char buf[128];
  EXPECT_FALSE(checker.on_allocate(1, 3, malloc_event(1, 64), buf + 1, 64, 0, false));
  EXPECT_NE(std::string(checker.problem()).find("not aligned to 16"), std::string::npos);
}

TEST(BlockChecker, WriteIntoLiveBlockIsFoundAtFree) {
  BlockChecker checker;
  std::vector<unsigned char> heap(64);
  const Event e = malloc_event(3, 64);
  ASSERT_TRUE(checker.on_allocate(0, 0, e, heap.data(), 64, 0, false));
  heap[17] ^= 0xff;
  Event f = e;
  f.op = Op::kFree;
  EXPECT_FALSE(checker.on_release(0, 1, f, heap.data(), 64));
  EXPECT_NE(std::string(checker.problem()).find("byte 17"), std::string::npos);
}

}  // namespace
}  // namespace allocmark
