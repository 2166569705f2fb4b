// Tests of the glibc mtrace() log importer on a real log (testdata/mtrace) and on bad input.
// Layer: workloads tests.
#include "workloads/importers/mtrace_format.h"

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

TEST(MtraceImport, RealLogFromGlibc) {
  Trace trace;
  ImportStats stats;
  std::string error;
  ASSERT_TRUE(
      import_mtrace(std::string(ALLOCMARK_SOURCE_DIR) + "/workloads/testdata/mtrace/sample.log",
                    &trace, &stats, &error))
      << error;
  TraceSummary s;
  TraceError te;
  ASSERT_TRUE(check_trace(trace, &s, &te)) << te.message();
  EXPECT_EQ(stats.lines, 22u);
  EXPECT_EQ(stats.skipped_lines, 0u);
  EXPECT_EQ(stats.count(Repair::kUnknownFree), 1u);  // free(early), allocated before mtrace()
  EXPECT_EQ(stats.first_line(Repair::kUnknownFree), 20u);
  EXPECT_EQ(stats.count(Repair::kFailedAllocation), 2u);  // failed malloc, failed realloc
  EXPECT_EQ(stats.first_line(Repair::kFailedAllocation), 11u);
  EXPECT_EQ(repair_warnings(stats).size(), 2u);
  EXPECT_EQ(s.threads, 1u);
  // malloc, calloc, realloc(NULL), memalign, posix_memalign, aligned_alloc, the leak.
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kMalloc)], 7u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kRealloc)], 2u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kFree)], 6u);  // realloc(c, 0) and a, b, d, e, f
  EXPECT_EQ(s.final_live_objects, 1u);
  EXPECT_EQ(s.final_live_bytes, 33u);
  EXPECT_EQ(s.peak_live_bytes, 1000u + 100 + 50 + 200 + 300 + 512);
}

TEST(MtraceImport, WithoutCallerAndWithSpacesInCaller) {
  const ImportResult r = import_text("mtrace",
                                     "= Start\n"
                                     "+ 0x10 0x20\n"
                                     "@ /opt/my app/lib.so:(f+0x1c)[0x7f00] < 0x10\n"
                                     "@ /opt/my app/lib.so:(f+0x1c)[0x7f00] > 0x30 0x40\n"
                                     "- (nil)\n"
                                     "- 0x30\n"
                                     "= End\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.stats.count(Repair::kNullFree), 1u);
  EXPECT_EQ(r.stats.first_line(Repair::kNullFree), 5u);
  EXPECT_EQ(r.summary.events, 3u);
  EXPECT_EQ(r.summary.peak_live_bytes, 0x40u);
}

// Issue 9: every repair is said once per kind, with its count and first line, and kept in the
// trace's metadata.
TEST(MtraceImport, RepairsAreWarnedOncePerKindAndKeptInMetadata) {
  const ImportResult r = import_text("mtrace",
                                     "= Start\n"
                                     "+ 0x10 0x8\n"
                                     "- 0x999\n"     // unknown free
                                     "+ 0x10 0x9\n"  // 0x10 still live: the log lost its free
                                     "< 0x777\n"
                                     "> 0x20 0x10\n"  // realloc of a pointer never seen
                                     "- 0x998\n"      // unknown free, second
                                     "< 0x20\n"
                                     "> 0x10 0x30\n"  // moves onto the live 0x10
                                     "- 0x10\n"
                                     "= End\n");
  ASSERT_TRUE(r.ok) << r.error;
  expect_standard_repairs(r, /*reused_line=*/4, /*free_line=*/3, /*realloc_line=*/6);
  EXPECT_EQ(r.summary.final_live_objects, 0u);
  EXPECT_EQ(r.summary.peak_live_bytes, 0x30u);  // the lost free of 9 B came before the move
}

struct BadCase {
  const char* text;
  const char* error;
};

TEST(MtraceImport, RefusesBadInputWithOneLine) {
  const BadCase cases[] = {
      {"", "in.txt:0: expected '= Start' (an mtrace log), got end of line"},
      {"+ 0x10 0x20\n", "in.txt:1: expected '= Start' (an mtrace log), got '+ 0x10 0x20'"},
      {"= Start\n* 0x10\n", "in.txt:2: expected a record (+, -, <, >, !, =), got '*'"},
      {"= Start\n+ 0x10\n", "in.txt:2: expected a size (hex with 0x), got end of line"},
      {"= Start\n+ 0x10 32\n", "in.txt:2: expected a size (hex with 0x), got '32'"},
      {"= Start\n+ 0x10 0x999999999999999999999\n",
       "in.txt:2: expected a size (hex with 0x), got '0x999999999999999999999'"},
      {"= Start\n+ 0x10 0x1000000000001\n",
       "in.txt:2: expected a size of at most 2^47, got '0x1000000000001'"},
      {"= Start\n+ 0x10 0x20\n< 0x10\n",
       "in.txt:3: expected '> NEWPTR SIZE' after this '<' (truncated?), got end of line"},
      {"= Start\n+ 0x10 0x20\n< 0x10\n- 0x10\n",
       "in.txt:4: expected '> NEWPTR SIZE' after '<', got '-'"},
      {"= Start\n> 0x10 0x20\n", "in.txt:2: expected '<' before '>', got '>'"},
      {"= Start\n@ ./x:0x11 + 0x10 0x20\n",
       "in.txt:2: expected a caller '@ WHERE[0xADDR] ' before the record, got '@ ./x:0x11 + 0x10 "
       "0x20'"},
      {"= Start\n+ 0x10 0x20 0x30\n", "in.txt:2: expected end of line, got '0x30'"},
      {"= Begin\n", "in.txt:1: expected '= Start' or '= End', got '= Begin'"},
      {"\xff\xfe\x00\x01", "in.txt:1: expected '= Start' (an mtrace log), got '\\xff\\xfe'"},
  };
  for (const BadCase& c : cases) {
    const ImportResult r = import_text("mtrace", c.text);
    EXPECT_FALSE(r.ok) << c.text;
    EXPECT_EQ(short_error(r), c.error) << c.text;
  }
}

}  // namespace
}  // namespace allocmark
