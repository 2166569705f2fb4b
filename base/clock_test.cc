// The clocks (base/clock.h): monotonic order, the coarse clock's ticks, a plausible wall clock.
// Layer: base tests.
#include "base/clock.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace allocmark {
namespace {

TEST(Clock, MonotonicNeverGoesBackAndCoarseFollows) {
  const uint64_t a = now_ns();
  const uint64_t b = now_ns();
  EXPECT_LE(a, b);
  const uint32_t ms = coarse_ms();
  usleep(20000);
  EXPECT_GE(static_cast<uint32_t>(coarse_ms() - ms), 10u);
  EXPECT_GT(realtime_ns(), uint64_t{1600000000} * 1000000000u);  // after 2020
}

}  // namespace
}  // namespace allocmark
