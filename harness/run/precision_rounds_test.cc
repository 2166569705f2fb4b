// Tests of the precision rounds' bookkeeping: which cells get another repetition. Layer: harness
// tests.
#include "harness/run/precision_rounds.h"

#include <gtest/gtest.h>

#include <vector>

namespace allocmark {
namespace {

using nlohmann::json;

json line(const std::string& alloc, double ns, const std::string& status = "ok") {
  json l = {{"workload", "w"}, {"threads", 1}, {"allocator", alloc}, {"status", status}};
  if (status == "ok") l["ns_per_op"] = ns;
  return l;
}

TEST(PrecisionTracker, RepeatsUntilTheIntervalIsWithinTheTarget) {
  PrecisionTracker t(0.05, 12);
  EXPECT_TRUE(t.needs_more("w", 1, "glibc"));  // never measured
  // Five tight values: no 95 % interval below six repetitions, so one more is due.
  for (double v : {100, 101, 99, 100, 102}) t.add(line("glibc", v));
  EXPECT_TRUE(t.needs_more("w", 1, "glibc"));
  t.add(line("glibc", 98));  // [98, 102] around 100: ±2 %
  EXPECT_FALSE(t.needs_more("w", 1, "glibc"));
  EXPECT_EQ(t.cells_short_of_target(), 0u);
  // A noisy cell stays due until the cap.
  for (int i = 0; i < 11; ++i) t.add(line("pool", i % 2 ? 80 : 120));
  EXPECT_TRUE(t.needs_more("w", 1, "pool"));
  EXPECT_EQ(t.cells_needing_more(), 1u);
  t.add(line("pool", 100));
  EXPECT_FALSE(t.needs_more("w", 1, "pool"));  // 12 lines: max reps
  EXPECT_EQ(t.cells_short_of_target(), 1u);
}

TEST(PrecisionTracker, FailedCellsAreNotRepeatedAndNoTargetMeansNoRounds) {
  PrecisionTracker t(0.05, 12);
  for (double v : {100, 130, 70}) t.add(line("bump", v));
  t.add(line("bump", 0, "oom"));
  EXPECT_FALSE(t.needs_more("w", 1, "bump"));
  EXPECT_EQ(t.cells_short_of_target(), 1u);
  PrecisionTracker off(0, 12);
  off.add(line("glibc", 100));
  EXPECT_FALSE(off.needs_more("w", 1, "glibc"));
  EXPECT_FALSE(off.needs_more("w", 1, "never"));
  EXPECT_EQ(off.cells_short_of_target(), 0u);
}

}  // namespace
}  // namespace allocmark
