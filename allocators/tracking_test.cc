// Unit tests for Tracking: counters, peak, histogram, leak report, error detection.
// Layer: allocators tests.
#include "allocators/tracking.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "allocators/arena.h"
#include "allocators/pool.h"
#include "allocators/test_util.h"

namespace allocmark {
namespace {

TrackingOptions quiet() { return TrackingOptions{.print_errors = false}; }

std::string read_report(const TrackingCore& core) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  core.report(fds[1]);
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fds[0]);
  return out;
}

TEST(Tracking, CountsPeakAndHistogram) {
  Tracking<Pool> t(quiet());
  void* a = t.allocate(100, 0);
  void* b = t.allocate(1000, 0);
  t.deallocate(a, 100, 0);
  void* c = t.allocate(10, 0);
  const TrackingCounters k = t.counters();
  EXPECT_EQ(k.allocations, 3u);
  EXPECT_EQ(k.frees, 1u);
  EXPECT_EQ(k.live_blocks, 2u);
  EXPECT_EQ(k.live_bytes, 1010u);
  EXPECT_EQ(k.peak_bytes, 1100u);
  EXPECT_EQ(k.histogram[7], 1u);   // 100 in 64..127
  EXPECT_EQ(k.histogram[10], 1u);  // 1000 in 512..1023
  EXPECT_EQ(k.histogram[4], 1u);   // 10 in 8..15
  t.deallocate(b, 1000, 0);
  t.deallocate(c, 10, 0);
  EXPECT_EQ(t.counters().live_bytes, 0u);
}

TEST(Tracking, DetectsDoubleFreeAndDoesNotForwardIt) {
  Tracking<Pool> t(quiet());
  void* a = t.allocate(64, 0);
  t.deallocate(a, 64, 0);
  t.deallocate(a, 64, 0);
  EXPECT_EQ(t.counters().double_frees, 1u);
  // The pool's free list was not corrupted: two allocations give two different blocks.
  void* x = t.allocate(64, 0);
  void* y = t.allocate(64, 0);
  EXPECT_NE(x, y);
}

TEST(Tracking, DetectsInvalidFree) {
  Tracking<Pool> t(quiet());
  alignas(16) char on_stack[64];
  t.deallocate(on_stack, 4, 0);
  EXPECT_EQ(t.counters().invalid_frees, 1u);
}

TEST(Tracking, DetectsSizeMismatchAndFreesWithRecordedSize) {
  Tracking<Pool> t(quiet());
  void* a = t.allocate(64, 0);
  t.deallocate(a, 2000, 0);
  EXPECT_EQ(t.counters().size_mismatches, 1u);
  EXPECT_EQ(t.counters().live_blocks, 0u);
  EXPECT_EQ(t.allocate(64, 0), a);  // went back to the 64-byte class, not 2048
  void* b = t.allocate(64, 128);
  t.deallocate(b, 64, 0);
  EXPECT_EQ(t.counters().size_mismatches, 2u);
}

TEST(Tracking, PrintsAClearErrorLine) {
  Tracking<Pool> t;
  void* a = t.allocate(64, 0);
  t.deallocate(a, 64, 0);
  ::testing::internal::CaptureStderr();
  t.deallocate(a, 64, 0);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("double free"), std::string::npos) << err;
}

TEST(Tracking, LeakReportListsLiveBlocks) {
  Tracking<Pool> t(TrackingOptions{.print_errors = false, .leaks_listed = 1});
  t.allocate(123, 0);
  t.allocate(456, 0);
  void* f = t.allocate(789, 0);
  t.deallocate(f, 789, 0);
  TrackingCore core(quiet());
  int x;
  core.on_allocate(&x, 4, 0);
  const std::string r = read_report(core);
  EXPECT_NE(r.find("1 blocks (4 bytes) still live"), std::string::npos) << r;
  EXPECT_NE(r.find("leak "), std::string::npos) << r;
}

TEST(Tracking, UnsizedFreeUsesRecordedSize) {
  Tracking<Pool> t(quiet());
  void* a = t.allocate(3000, 0);
  EXPECT_EQ(t.usable_size(a), 3000u);
  t.deallocate_unsized(a);
  EXPECT_EQ(t.counters().size_mismatches, 0u);
  EXPECT_EQ(t.counters().live_blocks, 0u);
}

TEST(Tracking, ReallocMovesTheRecord) {
  Tracking<Arena> t(quiet());
  void* a = t.allocate(10, 0);
  void* other = t.allocate(1, 0);
  (void)other;
  void* b = t.reallocate(a, 10, 5000, 0);
  EXPECT_EQ(t.usable_size(b), 5000u);
  EXPECT_EQ(t.counters().live_bytes, 5001u);
  t.reset();
  EXPECT_EQ(t.counters().live_blocks, 0u);
}

TEST(Tracking, ManyBlocksGrowTheTable) {
  Tracking<Pool> t(quiet());
  std::vector<void*> v;
  for (int i = 0; i < 50000; ++i) v.push_back(t.allocate(16, 0));
  EXPECT_EQ(t.counters().live_blocks, 50000u);
  for (void* p : v) t.deallocate(p, 16, 0);
  const TrackingCounters k = t.counters();
  EXPECT_EQ(k.live_blocks, 0u);
  EXPECT_EQ(k.double_frees + k.invalid_frees + k.size_mismatches, 0u);
}

TEST(Tracking, StressFourThreadsFindsNoErrors) {
  Tracking<Pool> t(quiet());
  EXPECT_EQ(testing::stress(t, 4, 10000, 200, 8 << 10, true), 0u);
  const TrackingCounters k = t.counters();
  EXPECT_EQ(k.double_frees + k.invalid_frees + k.size_mismatches, 0u);
  EXPECT_EQ(k.live_blocks, 0u);
}

}  // namespace
}  // namespace allocmark
