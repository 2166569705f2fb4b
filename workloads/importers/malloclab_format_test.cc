// Tests of the CS:APP malloc-lab `.rep` importer: both header forms, CRLF, every request kind,
// and one-line refusals. Layer: workloads tests.
#include "workloads/importers/malloclab_format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "workloads/importers/import_test_util.h"

namespace allocmark {
namespace {

using testing_util::import_text;
using testing_util::ImportResult;
using testing_util::short_error;

// The example of the lab's traces/README, in its 4-line header form.
constexpr const char* kReadmeExample =
    "20000\n3\n8\n1\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n";

TEST(MallocLabImport, FourLineHeader) {
  const ImportResult r = import_text("malloclab", kReadmeExample, "x.rep");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.summary.threads, 1u);
  EXPECT_EQ(r.summary.events, 8u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kMalloc)], 3u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kRealloc)], 2u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kFree)], 3u);
  EXPECT_EQ(r.summary.peak_live_bytes, 768u + 128);
  EXPECT_EQ(r.summary.final_live_objects, 0u);
  EXPECT_NE(r.trace.metadata_json.find("\"weight\":1"), std::string::npos);
}

TEST(MallocLabImport, ThreeNumberHeaderAndCrlf) {
  const ImportResult r =
      import_text("malloclab", "3\r\n4\r\n0\r\na 0 8\r\na 2 99999999999\r\nf 0\r\nf 2\r\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.summary.peak_live_bytes, 8u + 99999999999u);  // 64-bit sizes
  EXPECT_NE(r.trace.metadata_json.find("\"weight\":0"), std::string::npos);
}

TEST(MallocLabImport, HeaderOnOneLineAsFscanfAllows) {
  const ImportResult r = import_text("malloclab", "0 1 2 1\na 0 1\nf 0\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.summary.events, 2u);
}

TEST(MallocLabImport, NullFreeReallocOfDeadIdAndReallocToZero) {
  const ImportResult r = import_text("malloclab",
                                     "0\n2\n6\n1\n"
                                     "f -1\n"    // free(NULL): skipped, counted
                                     "r 0 10\n"  // realloc(NULL, 10)
                                     "r 0 0\n"   // realloc(p, 0) = free
                                     "a 0 5\n"   // the id is free again: a new object
                                     "a 1 7\n"
                                     "f 1\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.stats.count(Repair::kNullFree), 1u);
  EXPECT_EQ(r.stats.first_line(Repair::kNullFree), 5u);
  EXPECT_NE(
      r.trace.metadata_json.find("\"repairs\":{\"null_free\":{\"count\":1,\"first_line\":5}}"),
      std::string::npos)
      << r.trace.metadata_json;
  EXPECT_EQ(r.summary.objects, 3u);
  EXPECT_EQ(r.summary.final_live_bytes, 5u);
  const Event& first = r.trace.threads[0].events[0];
  EXPECT_EQ(first.op, Op::kRealloc);
  EXPECT_TRUE(first.flags & kFlagFromNull);
  EXPECT_EQ(r.trace.threads[0].events[1].op, Op::kFree);
}

struct BadCase {
  const char* text;
  const char* error;
};

TEST(MallocLabImport, RefusesBadInputWithOneLine) {
  const BadCase cases[] = {
      {"", "in.txt:0: expected a header of 3 or 4 numbers (ids, ops, ...), got end of line"},
      {"a 0 1\n", "in.txt:1: expected a header of 3 or 4 numbers (ids, ops, ...), got 'a 0 1'"},
      {"1\n2\na 0 1\n",
       "in.txt:3: expected 3 or 4 header numbers, then request lines, got 'a 0 1'"},
      {"1\n2\n3\n4\n5\n", "in.txt:5: expected a request line (a, r or f), got '5'"},
      {"0\n1\n2\n1\na 0 1\n", "in.txt:5: header says 2 requests, the file has 1 (truncated?)"},
      {"0\n1\n1\n1\na 0 1\nf 0\n", "in.txt:6: more requests than the header's 1"},
      {"0\n1\n1\n1\nx 0 1\n", "in.txt:5: expected a request (a, r or f), got 'x'"},
      {"0\n1\n1\n1\na 1 1\n", "in.txt:5: expected an id below the header's id count 1, got '1'"},
      {"0\n1\n1\n1\na 0\n", "in.txt:5: expected a size (decimal), got end of line"},
      {"0\n1\n1\n1\na 0 99999999999999999999999\n",
       "in.txt:5: expected a size (decimal), got '99999999999999999999999'"},
      {"0\n1\n1\n1\na 0 281474976710657\n",
       "in.txt:5: expected a size of at most 2^47, got '281474976710657'"},
      {"0\n1\n1\n1\na 0 1 2\n", "in.txt:5: expected end of line, got '2'"},
      {"0\n1\n1\n1\nf 0\n", "in.txt:5: 'f 0' of an id that is not allocated (double free?)"},
      {"0\n1\n3\n1\na 0 1\nf 0\nf 0\n",
       "in.txt:7: 'f 0' of an id that is not allocated (double free?)"},
      {"0\n1\n2\n1\na 0 1\na 0 1\n", "in.txt:6: 'a 0' while id 0 is still allocated"},
      {"0\n1\n1\n1\nf -2\n", "in.txt:5: expected a request id (decimal), got '-2'"},
      {"0\n99999999999999999999\n1\n1\n",
       "in.txt:2: expected a header number (decimal), got '99999999999999999999'"},
      {"\x01\x02\xff\n",
       "in.txt:1: expected a header of 3 or 4 numbers (ids, ops, ...), got "
       "'\\x01\\x02\\xff'"},
  };
  for (const BadCase& c : cases) {
    const ImportResult r = import_text("malloclab", c.text);
    EXPECT_FALSE(r.ok) << c.text;
    EXPECT_EQ(short_error(r), c.error) << c.text;
  }
}

}  // namespace
}  // namespace allocmark
