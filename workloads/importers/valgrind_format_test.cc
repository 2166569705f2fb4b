// Tests of the valgrind --trace-malloc=yes importer on real logs (testdata/valgrind) and on bad
// input. Layer: workloads tests.
#include "workloads/importers/valgrind_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "workloads/importers/import_test_util.h"

namespace allocmark {
namespace {

using testing_util::expect_standard_repairs;
using testing_util::import_text;
using testing_util::ImportResult;
using testing_util::short_error;

const std::string kDir = std::string(ALLOCMARK_SOURCE_DIR) + "/workloads/testdata/valgrind/";

struct Imported {
  Trace trace;
  ImportStats stats;
  TraceSummary summary;
};

Imported import_file(const std::string& name) {
  Imported r;
  std::string error;
  EXPECT_TRUE(import_valgrind(kDir + name, &r.trace, &r.stats, &error)) << error;
  TraceError te;
  EXPECT_TRUE(check_trace(r.trace, &r.summary, &te)) << te.message();
  return r;
}

TEST(ValgrindImport, RealCLog) {
  const Imported r = import_file("sample_c.log");
  const TraceSummary& s = r.summary;
  EXPECT_EQ(s.threads, 1u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kMalloc)], 3u);  // 100, realloc(NULL, 50), leak
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kCalloc)], 1u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kAlignedAlloc)], 4u);  // memalign x3, valloc
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kRealloc)], 1u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kFree)], 7u);  // realloc(c, 0); a, b, d, e, f, g
  EXPECT_EQ(s.final_live_objects, 1u);
  EXPECT_EQ(s.final_live_bytes, 33u);
  EXPECT_EQ(s.peak_live_bytes, 1000u + 100 + 50 + 200 + 300 + 512 + 10);
  EXPECT_EQ(r.stats.count(Repair::kUnknownFree), 0u);
  EXPECT_GT(r.stats.count(Repair::kNullFree), 10u);
  EXPECT_EQ(r.stats.first_line(Repair::kNullFree), 17u);
  EXPECT_EQ(r.stats.count(Repair::kFailedAllocation), 1u);  // malloc(SIZE_MAX / 2)
  EXPECT_EQ(r.stats.first_line(Repair::kFailedAllocation), 18u);
  EXPECT_EQ(r.trace.threads[0].events[7].align_log2, 12);  // valloc: page aligned
}

TEST(ValgrindImport, RealCxxLog) {
  const Imported r = import_file("sample_cxx.log");
  const TraceSummary& s = r.summary;
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kMalloc)], 5u);  // pool, new, new[], nothrow new, 16
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kAlignedAlloc)], 2u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kFree)], 7u);
  EXPECT_EQ(s.final_live_objects, 0u);
  const auto& ev = r.trace.threads[0].events;
  ASSERT_EQ(ev.size(), 14u);
  EXPECT_FALSE(ev[0].flags & kFlagCxx);  // libstdc++'s emergency pool, malloc(72704)
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(ev[i].flags & kFlagCxx) << i;
  EXPECT_EQ(ev[3].op, Op::kAlignedAlloc);
  EXPECT_EQ(ev[3].align_log2, 6);
  EXPECT_EQ(ev[3].size, 64u);
  EXPECT_FALSE(ev[6].flags & kFlagCxx);        // malloc(16)
  EXPECT_TRUE(ev[7].flags & kFlagSizedFree);   // _ZdlPvm
  EXPECT_FALSE(ev[8].flags & kFlagSizedFree);  // _ZdaPv
  EXPECT_TRUE(ev[9].flags & kFlagSizedFree);   // _ZdlPvmSt11align_val_t
}

TEST(ValgrindImport, TwoProcessesAreTwoThreads) {
  const ImportResult r = import_text("valgrind",
                                     "--10-- malloc(8) = 0x1000\n"
                                     "--11-- malloc(9) = 0x1000\n"  // same address, other process
                                     "--10-- free(0x1000)\n"
                                     "--11-- free(0x1000)\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.summary.threads, 2u);
  EXPECT_EQ(r.summary.peak_live_bytes, 17u);
  EXPECT_EQ(r.summary.cross_thread_frees, 0u);
}

// Issue 9: every repair is said once per kind, with its count and first line (the line naming
// the call, also when its result comes later), and kept in the trace's metadata.
TEST(ValgrindImport, RepairsAreWarnedOncePerKindAndKeptInMetadata) {
  const ImportResult r = import_text("valgrind",
                                     "==5== Memcheck, a memory error detector\n"
                                     "--5-- malloc(8) = 0x1000\n"
                                     "--5-- free(0x9990)\n"        // unknown free
                                     "--5-- malloc(9) = 0x1000\n"  // still live: lost free
                                     "--5-- realloc(0x7770,16)\n"  // unknown realloc, whose
                                     "--5--  = 0x2000\n"           // result comes later
                                     "--5-- _ZdlPv(0x9980)\n"      // unknown delete, second
                                     "--5-- realloc(0x2000,32) = 0x1000\n"  // onto live 0x1000
                                     "--5-- free(0x1000)\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.stats.skipped_lines, 1u);
  expect_standard_repairs(r, /*reused_line=*/4, /*free_line=*/3, /*realloc_line=*/5);
  EXPECT_EQ(r.summary.final_live_objects, 0u);
  EXPECT_EQ(r.summary.peak_live_bytes, 32u);  // the lost free of 9 B came before the move
}

struct BadCase {
  const char* text;
  const char* error;
};

TEST(ValgrindImport, RefusesBadInputWithOneLine) {
  const BadCase cases[] = {
      {"",
       "in.txt:0: expected '--PID-- malloc(SIZE) = 0xPTR' lines (valgrind --trace-malloc=yes), "
       "got end of line"},
      {"\x01\x02\xff random\n",
       "in.txt:1: expected '--PID-- malloc(SIZE) = 0xPTR' lines "
       "(valgrind --trace-malloc=yes), got end of line"},
      {"--1-- mallocx(8) = 0x10\n",
       "in.txt:1: expected an allocation function (malloc, calloc, realloc, memalign, valloc, "
       "free, "
       "_Znwm, _ZdlPv, ...), got 'mallocx'"},
      {"--1-- malloc(8\n", "in.txt:1: expected ')' closing the arguments, got 'malloc(8'"},
      {"--1-- malloc(x) = 0x10\n",
       "in.txt:1: expected an argument (decimal, 0x hex, or 'al N' / 'size N'), got 'x'"},
      {"--1-- malloc(8) = zz\n", "in.txt:1: expected a result pointer after ' = ', got 'zz'"},
      {"--1-- malloc(8,9) = 0x10\n", "in.txt:1: malloc takes 1 argument, got 2"},
      {"--1-- malloc(99999999999999999999999) = 0x10\n",
       "in.txt:1: expected an argument (decimal, 0x hex, or 'al N' / 'size N'), got "
       "'99999999999999999999999'"},
      {"--1-- malloc(281474976710657) = 0x10\n",
       "in.txt:1: malloc of 281474976710657 bytes: more than 2^47"},
      {"--1-- memalign(al 24, size 8) = 0x10\n",
       "in.txt:1: memalign: alignment 24 is not a power of two up to 2^40"},
      {"--1-- realloc(0x10,0)\n",
       "in.txt:1: expected ' = RESULT' of this call later on (truncated?), got end of line"},
      {"--1--  = 0x10\n", "in.txt:1: expected a call before ' = RESULT', got '= 0x10'"},
      {"--1-- malloc(8) = 0x10 junk\n",
       "in.txt:1: expected another call or ' = RESULT', got 'junk'"},
  };
  for (const BadCase& c : cases) {
    const ImportResult r = import_text("valgrind", c.text);
    EXPECT_FALSE(r.ok) << c.text;
    EXPECT_EQ(short_error(r), c.error) << c.text;
  }
}

}  // namespace
}  // namespace allocmark
