// Unit tests for the options tables: key=value parsing, suffixes, errors, environment, JSON.
// Layer: allocators tests.
#include "allocators/options.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "allocators/arena.h"
#include "allocators/bump.h"

namespace allocmark {
namespace {

TEST(Options, SizesAcceptSuffixes) {
  BumpOptions o;
  std::string err;
  ASSERT_TRUE(parse_option(o, "capacity", "1G", &err)) << err;
  EXPECT_EQ(o.capacity, std::size_t{1} << 30);
  ASSERT_TRUE(parse_option(o, "capacity=64K", &err)) << err;
  EXPECT_EQ(o.capacity, std::size_t{64} << 10);
  ASSERT_TRUE(parse_option(o, "capacity", "3MB", &err)) << err;
  EXPECT_EQ(o.capacity, std::size_t{3} << 20);
  ASSERT_TRUE(parse_option(o, "capacity", "123456", &err)) << err;
  EXPECT_EQ(o.capacity, 123456u);
}

TEST(Options, BadValuesAreRejectedWithOneLine) {
  BumpOptions o;
  const std::size_t before = o.capacity;
  std::string err;
  EXPECT_FALSE(parse_option(o, "capacity", "lots", &err));
  EXPECT_NE(err.find("capacity"), std::string::npos);
  EXPECT_FALSE(parse_option(o, "capacity", "1Q", &err));
  EXPECT_FALSE(parse_option(o, "capacity", "99999999999999999999999", &err));
  EXPECT_FALSE(parse_option(o, "capacity", "", &err));
  EXPECT_FALSE(parse_option(o, "block_size", "3000", &err));  // not a power of two
  EXPECT_NE(err.find("power of two"), std::string::npos);
  EXPECT_FALSE(parse_option(o, "decommit_on_reset", "maybe", &err));
  EXPECT_FALSE(parse_option(o, "nonsense", "1", &err));
  EXPECT_NE(err.find("known: capacity"), std::string::npos);
  EXPECT_FALSE(parse_option(o, "capacity", &err));  // no '='
  EXPECT_EQ(o.capacity, before);
  EXPECT_EQ(err.find('\n'), std::string::npos);
}

TEST(Options, BoolsAndCounts) {
  BumpOptions b;
  ASSERT_TRUE(parse_option(b, "decommit_on_reset", "yes", nullptr));
  EXPECT_TRUE(b.decommit_on_reset);
  ArenaOptions a;
  ASSERT_TRUE(parse_option(a, "warm_chunks", "3", nullptr));
  EXPECT_EQ(a.warm_chunks, 3u);
  EXPECT_FALSE(parse_option(a, "warm_chunks", "3K", nullptr));  // counts take no suffix
}

TEST(Options, EnvironmentOverridesDefaults) {
  ::setenv("ALLOCMARK_BUMP_CAPACITY", "2M", 1);
  ::setenv("ALLOCMARK_BUMP_DECOMMIT_ON_RESET", "1", 1);
  BumpOptions o = options_from_env<BumpOptions>();
  EXPECT_EQ(o.capacity, std::size_t{2} << 20);
  EXPECT_TRUE(o.decommit_on_reset);
  ::setenv("ALLOCMARK_BUMP_BLOCK_SIZE", "bad", 1);
  std::string err;
  BumpOptions p;
  EXPECT_FALSE(load_env(p, &err));
  EXPECT_NE(err.find("ALLOCMARK_BUMP_BLOCK_SIZE"), std::string::npos);
  ::unsetenv("ALLOCMARK_BUMP_CAPACITY");
  ::unsetenv("ALLOCMARK_BUMP_DECOMMIT_ON_RESET");
  ::unsetenv("ALLOCMARK_BUMP_BLOCK_SIZE");
}

TEST(Options, DescribeIsJsonOfValuesInForce) {
  BumpOptions o;
  o.capacity = 4096;
  EXPECT_EQ(describe(o), R"({"capacity":4096,"block_size":65536,"decommit_on_reset":false})");
}

}  // namespace
}  // namespace allocmark
