// The one size grammar (base/size_text.h). Layer: base tests.
#include "base/size_text.h"

#include <gtest/gtest.h>

namespace allocmark {
namespace {

uint64_t size_of(const char* text) {
  uint64_t v = 12345;
  EXPECT_EQ(parse_size_text(text, &v), nullptr) << text;
  return v;
}

TEST(SizeText, EverySpellingPeopleType) {
  EXPECT_EQ(size_of("0"), 0u);
  EXPECT_EQ(size_of("4096"), 4096u);
  EXPECT_EQ(size_of("64K"), 64u << 10);
  EXPECT_EQ(size_of("64k"), 64u << 10);
  EXPECT_EQ(size_of("64KB"), 64u << 10);
  EXPECT_EQ(size_of("1MiB"), 1u << 20);
  EXPECT_EQ(size_of("2G"), 2ull << 30);
  EXPECT_EQ(size_of("1T"), 1ull << 40);
}

TEST(SizeText, RefusesWithWhatWasExpected) {
  for (const char* bad :
       {"", "K", "12Q", "1.5M", "-1", "64KiBB", "64 K", "18446744073709551616", "17179869184G"}) {
    uint64_t v = 7;
    EXPECT_NE(parse_size_text(bad, &v), nullptr) << bad;
    EXPECT_EQ(v, 7u) << bad;
  }
  uint64_t v = 0;
  EXPECT_NE(parse_count_text("64K", &v), nullptr);
  EXPECT_EQ(parse_count_text("64", &v), nullptr);
  EXPECT_EQ(v, 64u);
}

static_assert([] {
  uint64_t v = 0;
  return parse_size_text("3M", &v) == nullptr && v == (3u << 20);
}());

}  // namespace
}  // namespace allocmark
