// Unit tests for Tracking: counters, peak, histogram, call sites (capture, grouping, order),
// the leak report (lost vs reachable), error lines. Layer: allocators tests.
#include "allocators/tracking.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>

#include "allocators/arena.h"
#include "allocators/pool.h"
#include "allocators/test_util.h"

// Call sites for the tests. External linkage so dladdr can name them (tracking_test is linked
// with -rdynamic); noinline so each is a frame of its own.
namespace allocmark::tracking_test_sites {

void* g_kept[2];  // roots for the reachability test

[[gnu::noinline]] void* allocate_at_site_a(Tracking<Pool>& t, std::size_t n) {
  void* p = t.allocate(n, 0);
  asm volatile("" ::: "memory");  // no tail call: this frame must stay on the stack
  return p;
}

[[gnu::noinline]] void* allocate_at_site_b(Tracking<Pool>& t, std::size_t n) {
  void* p = t.allocate(n, 0);
  asm volatile("" ::: "memory");
  return p;
}

[[gnu::noinline]] void free_at_site_c(Tracking<Pool>& t, void* p) {
  t.deallocate_unsized(p);
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void free_at_site_d(Tracking<Pool>& t, void* p) {
  t.deallocate_unsized(p);
  asm volatile("" ::: "memory");
}

// Allocates and drops the only pointer: a leak.
[[gnu::noinline]] void leak_one_block(Tracking<Pool>& t, std::size_t n) {
  void* p = t.allocate(n, 0);
  std::memset(p, 0x5a, n);
  asm volatile("" ::: "memory");
}

// A lost 64-byte block holding the only pointer to a 500-byte one: both lost.
[[gnu::noinline]] void leak_a_chain(Tracking<Pool>& t) {
  auto* holder = static_cast<void**>(t.allocate(64, 0));
  std::memset(holder, 0, 64);
  holder[0] = t.allocate(500, 0);
  asm volatile("" ::: "memory");
}

// A 96-byte block kept in a global, holding the only pointer to a 700-byte one: both reachable.
[[gnu::noinline]] void keep_a_chain(Tracking<Pool>& t) {
  auto* holder = static_cast<void**>(t.allocate(96, 0));
  std::memset(holder, 0, 96);
  holder[1] = t.allocate(700, 0);
  g_kept[1] = holder;
  asm volatile("" ::: "memory");
}

// Zeroes the stack below the caller. A conservative scan reads the caller's frames, whose unused
// slots may still hold block addresses copied there by earlier, deeper calls (the leak helpers,
// an earlier scan's sort): the reachability test scrubs them first so it measures the scan.
[[gnu::noinline]] void scrub_stack() {
  volatile char junk[64 << 10];
  for (std::size_t i = 0; i < sizeof junk; ++i) junk[i] = 0;
}

[[gnu::noinline]] CallStack capture_here(const TrackingCore& core) {
  CallStack s;
  core.capture(&s);
  asm volatile("" ::: "memory");
  return s;
}

}  // namespace allocmark::tracking_test_sites

namespace allocmark {
namespace {

using namespace tracking_test_sites;
using Reach = TrackingCore::Reach;

TrackingOptions quiet() { return TrackingOptions{.print_errors = false}; }

CallStack stack_of(std::initializer_list<uintptr_t> pcs) {
  CallStack s;
  for (uintptr_t pc : pcs) s.pc[s.depth++] = pc;
  return s;
}

bool same(const CallStack& a, const CallStack& b) {
  if (a.depth != b.depth) return false;
  for (uint32_t i = 0; i < a.depth; ++i) {
    if (a.pc[i] != b.pc[i]) return false;
  }
  return true;
}

std::string text_of(const CallStack& s) {
  Symbolizer sym(false);
  char buf[4096];
  sym.format(s, buf, sizeof buf);
  return buf;
}

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
  TrackingCore core(TrackingOptions{.print_errors = false, .reachability = false});
  int x;
  core.on_allocate(&x, 4, 0);
  const std::string r = read_report(core);
  EXPECT_NE(r.find("1 blocks (4 bytes) still live"), std::string::npos) << r;
  EXPECT_NE(r.find("still live: 4 bytes in 1 block from 1 call site"), std::string::npos) << r;
  EXPECT_NE(r.find("4 bytes in 1 block from an unknown call site"), std::string::npos) << r;
}

// Blocks at fake addresses (never dereferenced with reachability off) and synthetic stacks.
alignas(16) char g_fake_heap[64 * 16];
void* fake_block(int i) { return &g_fake_heap[i * 16]; }

TEST(Tracking, SitesGroupByStackLargestFirst) {
  TrackingCore core(quiet());
  const CallStack a = stack_of({0x1000, 0x2000});
  const CallStack b = stack_of({0x3000});
  const CallStack c = stack_of({0x1000});  // a's first frame only: another site
  for (int i = 0; i < 3; ++i) core.on_allocate(fake_block(i), 100, 0, &a);
  core.on_allocate(fake_block(3), 1000, 0, &b);
  for (int i = 4; i < 9; ++i) core.on_allocate(fake_block(i), 10, 0, &c);
  core.on_allocate(fake_block(9), 7, 0);  // no stack: the unknown site
  core.on_allocate(fake_block(10), 7, 0, nullptr);
  const CallStack d = stack_of({0x5000});  // seen only at a free: a site with nothing live
  std::size_t rn, ra;
  ASSERT_TRUE(core.on_free(fake_block(0), 100, 0, &rn, &ra, &d));  // a: 200 bytes in 2 left

  TrackingCore::SiteTotal out[8];
  TrackingCore::SiteTotal rest;
  ASSERT_EQ(core.sites(Reach::kLive, out, 8, &rest), 4u);
  EXPECT_EQ(out[0].bytes, 1000u);
  EXPECT_EQ(out[0].blocks, 1u);
  EXPECT_TRUE(same(out[0].stack, b));
  EXPECT_EQ(out[1].bytes, 200u);
  EXPECT_EQ(out[1].blocks, 2u);
  EXPECT_TRUE(same(out[1].stack, a));
  EXPECT_EQ(out[2].bytes, 50u);
  EXPECT_EQ(out[2].blocks, 5u);
  EXPECT_TRUE(same(out[2].stack, c));
  EXPECT_EQ(out[3].bytes, 14u);
  EXPECT_EQ(out[3].blocks, 2u);
  EXPECT_EQ(out[3].stack.depth, 0u);
  EXPECT_EQ(rest.bytes, 0u);

  // Only two listed: the rest is summed.
  ASSERT_EQ(core.sites(Reach::kLive, out, 2, &rest), 4u);
  EXPECT_EQ(out[1].bytes, 200u);
  EXPECT_EQ(rest.bytes, 64u);
  EXPECT_EQ(rest.blocks, 7u);
}

TEST(Tracking, SiteTiesBreakByBlocksThenFirstSeen) {
  TrackingCore core(quiet());
  const CallStack a = stack_of({0xa000}), b = stack_of({0xb000}), c = stack_of({0xc000});
  core.on_allocate(fake_block(0), 100, 0, &c);  // c first seen, one block of 100
  core.on_allocate(fake_block(1), 100, 0, &b);  // b: one block of 100, seen after c
  core.on_allocate(fake_block(2), 50, 0, &a);   // a: two blocks of 50
  core.on_allocate(fake_block(3), 50, 0, &a);
  TrackingCore::SiteTotal out[3];
  ASSERT_EQ(core.sites(Reach::kLive, out, 3, nullptr), 3u);
  EXPECT_TRUE(same(out[0].stack, a));  // same bytes: more blocks first
  EXPECT_TRUE(same(out[1].stack, c));  // same bytes and blocks: seen first
  EXPECT_TRUE(same(out[2].stack, b));
}

TEST(Tracking, ReportListsSitesLargestFirstThenTotals) {
  TrackingCore core(TrackingOptions{
      .print_errors = false, .leaks_listed = 2, .file_lines = false, .reachability = false});
  const CallStack a = stack_of({0x1000, 0x2000}), b = stack_of({0x3000}), c = stack_of({0x4000});
  core.on_allocate(fake_block(0), 300, 0, &a);
  core.on_allocate(fake_block(1), 300, 0, &a);
  core.on_allocate(fake_block(2), 1000, 0, &b);
  core.on_allocate(fake_block(3), 5, 0, &c);
  const std::string r = read_report(core);
  const auto header = r.find("still live: 1605 bytes in 4 blocks from 3 call sites");
  const auto first = r.find("allocmark tracking:   1000 bytes in 1 block from 0x3000\n");
  const auto second = r.find("allocmark tracking:   600 bytes in 2 blocks from 0x1000 <- 0x2000\n");
  const auto more = r.find("... and 1 more call site with 5 bytes in 1 block");
  const auto totals = r.find("4 blocks (1605 bytes) still live; peak 1605 bytes");
  ASSERT_NE(header, std::string::npos) << r;
  ASSERT_NE(first, std::string::npos) << r;
  ASSERT_NE(second, std::string::npos) << r;
  ASSERT_NE(more, std::string::npos) << r;
  ASSERT_NE(totals, std::string::npos) << r;
  EXPECT_LT(header, first);
  EXPECT_LT(first, second);
  EXPECT_LT(second, more);
  EXPECT_LT(more, totals);
  EXPECT_EQ(r.find("0x4000"), std::string::npos) << r;  // not listed
}

TEST(Tracking, StackDepthZeroKeepsNoSites) {
  Tracking<Pool> t(TrackingOptions{.print_errors = false, .stack_depth = 0});
  void* p = allocate_at_site_a(t, 100);
  void* q = allocate_at_site_b(t, 200);
  TrackingCore::SiteTotal out[4];
  ASSERT_EQ(t.core().sites(Reach::kLive, out, 4, nullptr), 1u);
  EXPECT_EQ(out[0].stack.depth, 0u);
  EXPECT_EQ(out[0].bytes, 300u);
  t.deallocate_unsized(p);
  t.deallocate_unsized(q);
}

// Selects the unwinder for the next capture: 0 libgcc, 1 libunwind (false if not installed).
[[gnu::noinline]] bool select_unwinder(int k) {
  if (k == 0) {
    use_libgcc_unwinder();
    return true;
  }
  return use_libunwind();
}

// Both unwinders must give the same frames for the same call, starting at the caller.
TEST(Tracking, CapturesTheCallersStackWithEitherUnwinder) {
  TrackingCore core(quiet());
  CallStack s[2];
  bool have[2] = {false, false};
#pragma GCC unroll 1
  for (int k = 0; k < 2; ++k) {
    asm volatile("" : "+r"(k));  // unknown trip count, no branch: one call instruction for both
    have[k] = select_unwinder(k);
    s[k] = capture_here(core);
  }
  EXPECT_FALSE(using_libunwind() && !have[1]);
  use_libgcc_unwinder();
  ASSERT_EQ(s[0].depth, kMaxStackDepth);
  const std::string text = text_of(s[0]);
  EXPECT_EQ(text.rfind("allocmark::tracking_test_sites::capture_here(", 0), 0u) << text;
  if (have[1]) {
    EXPECT_TRUE(same(s[0], s[1])) << text << "\nvs (depth " << s[1].depth << ")\n" << text_of(s[1]);
  } else {
    std::fprintf(stderr, "libunwind.so.8 not installed: only libgcc's unwinder checked\n");
  }
}

TEST(Tracking, GroupsBlocksByCallSite) {
  Tracking<Pool> t(quiet());
  void* a[2];
#pragma GCC unroll 1
  for (int i = 0; i < 2; ++i) {
    asm volatile("" : "+r"(i));  // one call instruction, so one stack, for both blocks
    a[i] = allocate_at_site_a(t, 100);
  }
  void* b1 = allocate_at_site_b(t, 1000);
  TrackingCore::SiteTotal out[4];
  ASSERT_EQ(t.core().sites(Reach::kLive, out, 4, nullptr), 2u);
  EXPECT_EQ(out[0].bytes, 1000u);
  EXPECT_NE(text_of(out[0].stack).find("allocate_at_site_b"), std::string::npos)
      << text_of(out[0].stack);
  EXPECT_EQ(out[1].bytes, 200u);
  EXPECT_EQ(out[1].blocks, 2u);
  EXPECT_NE(text_of(out[1].stack).find("allocate_at_site_a"), std::string::npos)
      << text_of(out[1].stack);
  EXPECT_EQ(text_of(out[1].stack).find("capture_call_stack"), std::string::npos);
  free_at_site_c(t, a[0]);
  free_at_site_c(t, a[1]);
  ASSERT_EQ(t.core().sites(Reach::kLive, out, 4, nullptr), 1u);
  free_at_site_c(t, b1);
  EXPECT_EQ(t.core().sites(Reach::kLive, out, 4, nullptr), 0u);
}

// The checks of the reachability test, run in a fresh process (below). Exits 0 and prints
// "reachability ok", or exits 1 naming the first check that failed.
void check_reachability() {
  auto require = [](bool ok, const char* what, const std::string& detail = {}) {
    if (ok) return;
    std::fprintf(stderr, "reachability check failed: %s\n%s\n", what, detail.c_str());
    std::_Exit(1);
  };
  Tracking<Pool> t(quiet());
  g_kept[0] = t.allocate(1000, 0);  // first: the pool's region base points at it as well
  leak_one_block(t, 3000);
  leak_a_chain(t);
  keep_a_chain(t);
  TrackingCore::SiteTotal out[8];
  bool scanned = false;
  scrub_stack();
  const std::size_t lost = t.core().sites(Reach::kLost, out, 8, nullptr, &scanned);
  require(scanned, "memory scanned");
  require(lost == 3, "three lost sites");
  require(out[0].bytes == 3000 && out[1].bytes == 500 && out[2].bytes == 64,
          "lost: 3000 (dropped), 500 (held by a lost block), 64 (the lost holder)");
  require(text_of(out[0].stack).find("leak_one_block") != std::string::npos,
          "the lost 3000 bytes come from leak_one_block", text_of(out[0].stack));
  scrub_stack();
  require(t.core().sites(Reach::kReachable, out, 8, nullptr, &scanned) == 3, "three reachable");
  require(out[0].bytes == 1000 && out[1].bytes == 700 && out[2].bytes == 96,
          "reachable: 1000 (global), 700 (held by a kept block), 96 (the kept holder)");
  scrub_stack();
  const std::string r = read_report(t.core());
  const auto lost_at = r.find("lost (no pointer to them found): 3564 bytes in 3 blocks");
  const auto reach_at = r.find("still reachable: 1796 bytes in 3 blocks");
  require(lost_at != std::string::npos && reach_at != std::string::npos && lost_at < reach_at &&
              r.find("3000 bytes in 1 block from ") < reach_at,
          "report: lost section (with the 3000 bytes) before the reachable one", r);
  std::fprintf(stderr, "reachability ok\n");
  std::_Exit(0);
}

// The scan is conservative: in a process that has run other tests, glibc's heap (gtest's, the
// other tests' vectors of block pointers) and cached thread stacks hold stale pointers that can
// alias a new Pool's addresses (mmap reuses freed ranges) and make a lost block look reachable.
// Under the malloc shims the program's heap is the tracked one, of which only live blocks are
// scanned; here the check gets the same clean slate from a fresh process: the threadsafe death
// test style re-executes this binary for this test alone.
TEST(Tracking, ReachabilitySeparatesLostFromReachable) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(check_reachability(), ::testing::ExitedWithCode(0), "reachability ok");
}

TEST(Tracking, DoubleFreeNamesWhereAllocatedAndFirstFreed) {
  Tracking<Pool> t;
  void* p = allocate_at_site_a(t, 48);
  free_at_site_c(t, p);
  ::testing::internal::CaptureStderr();
  free_at_site_d(t, p);
  const std::string err = ::testing::internal::GetCapturedStderr();
  const auto what = err.find("double free of ");
  const auto here = err.find("free_at_site_d");
  const auto allocated = err.find("allocated at ");
  const auto site_a = err.find("allocate_at_site_a");
  const auto first = err.find("first freed at ");
  const auto site_c = err.find("free_at_site_c");
  ASSERT_NE(what, std::string::npos) << err;
  ASSERT_NE(here, std::string::npos) << err;
  ASSERT_NE(allocated, std::string::npos) << err;
  ASSERT_NE(site_a, std::string::npos) << err;
  ASSERT_NE(first, std::string::npos) << err;
  ASSERT_NE(site_c, std::string::npos) << err;
  EXPECT_LT(what, here);
  EXPECT_LT(here, allocated);
  EXPECT_LT(allocated, site_a);
  EXPECT_LT(site_a, first);
  EXPECT_LT(first, site_c);
  EXPECT_NE(err.find("(48 bytes)"), std::string::npos) << err;
}

TEST(Tracking, InvalidFreeNamesTheFreeingCode) {
  Tracking<Pool> t;
  alignas(16) static char not_ours[32];
  ::testing::internal::CaptureStderr();
  free_at_site_d(t, not_ours);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("invalid free (never allocated here) of "), std::string::npos) << err;
  EXPECT_NE(err.find(" at "), std::string::npos) << err;
  EXPECT_NE(err.find("free_at_site_d"), std::string::npos) << err;
}

TEST(Tracking, ResetForgetsLiveBlocksBySite) {
  Tracking<Arena> t(quiet());
  t.allocate(10, 0);
  t.allocate(20, 0);
  TrackingCore::SiteTotal out[4];
  EXPECT_GE(t.core().sites(Reach::kLive, out, 4, nullptr), 1u);
  t.reset();
  EXPECT_EQ(t.core().sites(Reach::kLive, out, 4, nullptr), 0u);
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
