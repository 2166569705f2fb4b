// Tests of the Android memory_replay importer/exporter, including the full systemui recording.
// Layer: workloads tests.
#include "workloads/importers/android_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "workloads/importers/import_test_util.h"
#include "workloads/importers/text_input.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

using testing_util::expect_standard_repairs;
using testing_util::import_text;
using testing_util::ImportResult;
using testing_util::short_error;

const std::string kAndroidDir = ALLOCMARK_ANDROID_TRACES;

TEST(AndroidImport, SystemUiMatchesPublishedFacts) {
  Trace trace;
  ImportStats stats;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(import_android(kAndroidDir + "/systemui.zip", &trace, &stats, &error)) << error;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("systemui: imported in %.3f s\n", seconds);

  EXPECT_EQ(stats.lines, 786454u);
  EXPECT_EQ(stats.skipped_lines, 0u);
  // free(NULL) is the only repair a clean recording needs; messages name the zip's member.
  EXPECT_EQ(stats.count(Repair::kNullFree), 15818u);
  EXPECT_EQ(stats.first_line(Repair::kNullFree), 2990u);
  const std::vector<std::string> warnings = repair_warnings(stats);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], kAndroidDir + "/systemui.zip:systemui.txt:2990: warning: free(NULL): " +
                             "skipped (15818 times, first here)");
  EXPECT_NE(
      trace.metadata_json.find("\"repairs\":{\"null_free\":{\"count\":15818,\"first_line\":2990}}"),
      std::string::npos)
      << trace.metadata_json;

  TraceSummary s;
  TraceError te;
  ASSERT_TRUE(check_trace(trace, &s, &te)) << te.message();
  EXPECT_EQ(s.threads, 393u);
  EXPECT_EQ(s.peak_live_bytes, 10441709u);
  EXPECT_EQ(s.final_live_objects, 53645u);
  EXPECT_EQ(s.final_live_bytes, 8396631u);
  // SOURCE.md counts 364,863 free lines; 15,818 of them are free(NULL), which the trace skips.
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kMalloc)], 383154u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kFree)], 364863u - 15818u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kRealloc)], 29167u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kCalloc)], 7847u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kAlignedAlloc)], 1066u);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kThreadExit)], 357u);
  EXPECT_EQ(s.events, 786454u - 15818u);
  // SOURCE.md: 39,466 blocks freed by a thread other than the one that allocated them. Its
  // counting makes a realloc'd block belong to the reallocating thread; check_trace keeps one
  // object across reallocs and charges it to the thread of its first allocation. The two can
  // differ only for objects reallocated on a foreign thread: in systemui 26 such reallocs touch 5
  // objects, and all 5 are still live at the end, so both counts are 39,466.
  EXPECT_EQ(s.cross_thread_frees, 39466u);
  // Every cross-thread free and realloc carries a dependency.
  EXPECT_GE(s.dependencies, s.cross_thread_frees);
}

// Size of the converted trace in our format (printed for the record, checked for sanity).
TEST(AndroidImport, SystemUiWritesAndReadsBack) {
  Trace trace;
  ImportStats stats;
  std::string error;
  ASSERT_TRUE(import_android(kAndroidDir + "/systemui.zip", &trace, &stats, &error)) << error;
  const std::string out = ::testing::TempDir() + "/systemui_" + std::to_string(::getpid()) + ".amt";
  TraceError te;
  ASSERT_TRUE(write_trace(trace, out, &te)) << te.message();
  std::FILE* f = std::fopen(out.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 0, SEEK_END);
  const long bytes = std::ftell(f);
  std::fclose(f);
  const uint64_t events = trace.event_count();
  std::printf("systemui: %ld bytes written, %.2f bytes/event (%llu events)\n", bytes,
              static_cast<double>(bytes) / static_cast<double>(events),
              static_cast<unsigned long long>(events));
  EXPECT_LT(bytes, 19439623 / 2);  // well below the text it came from
  Trace back;
  ASSERT_TRUE(read_trace(out, &back, &te)) << te.message();
  TraceSummary s;
  ASSERT_TRUE(check_trace(back, &s, &te)) << te.message();
  EXPECT_EQ(s.peak_live_bytes, 10441709u);
  EXPECT_EQ(s.threads, 393u);
  TraceSummary original;
  ASSERT_TRUE(check_trace(trace, &original, &te)) << te.message();
  ASSERT_EQ(back.threads.size(), trace.threads.size());
  for (size_t t = 0; t < trace.threads.size(); ++t) {
    const auto& a = trace.threads[t].events;
    const auto& b = back.threads[t].events;
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)), 0) << "thread " << t;
  }
  std::remove(out.c_str());
}

TEST(AndroidImport, TestSampleFromAosp) {
  Trace trace;
  ImportStats stats;
  std::string error;
  ASSERT_TRUE(import_android(kAndroidDir + "/test.txt", &trace, &stats, &error)) << error;
  ASSERT_EQ(trace.threads.size(), 1u);
  ASSERT_EQ(trace.threads[0].events.size(), 2u);
  const Event& a = trace.threads[0].events[0];
  EXPECT_EQ(a.op, Op::kAlignedAlloc);
  EXPECT_EQ(a.align_log2, 4);
  EXPECT_EQ(a.size, 124u);
  EXPECT_EQ(trace.threads[0].events[1].op, Op::kFree);
}

TEST(AndroidImport, EveryOperationAndQuirk) {
  const ImportResult r = import_text("android",
                                     "1: malloc 0x10 100\n"
                                     "2: calloc 0x20 4 8\n"
                                     "1: memalign 0x30 64 10\n"
                                     "2: free 0x10\n"              // cross-thread free
                                     "1: realloc 0x40 0x30 200\n"  // moves the block
                                     "1: realloc 0x50 0x0 7\n"     // realloc(NULL)
                                     "1: realloc 0x0 0x50 0\n"     // realloc(p, 0) = free
                                     "1: free 0x0\n"               // null free
                                     "1: free 0x999\n"             // unknown free
                                     "2: thread_done 0x0\n"
                                     "2: malloc 0x60 1\n"      // tid 2 reused: new thread
                                     "1: free 0x40 10 20\n");  // with timestamps
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.stats.count(Repair::kNullFree), 1u);
  EXPECT_EQ(r.stats.count(Repair::kUnknownFree), 1u);
  EXPECT_EQ(r.summary.threads, 3u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kMalloc)], 2u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kCalloc)], 1u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kAlignedAlloc)], 1u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kRealloc)], 2u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kFree)], 3u);
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kThreadExit)], 1u);
  EXPECT_EQ(r.summary.cross_thread_frees, 1u);
  EXPECT_EQ(r.summary.final_live_objects, 2u);  // the calloc and the malloc on the new thread
  EXPECT_EQ(r.summary.final_live_bytes, 33u);
  EXPECT_EQ(r.summary.peak_live_bytes, 32u + 200 + 7);  // after the move and realloc(NULL)
  const Event& realloc_null = r.trace.threads[0].events[3];
  EXPECT_EQ(realloc_null.op, Op::kRealloc);
  EXPECT_TRUE(realloc_null.flags & kFlagFromNull);
}

TEST(AndroidImport, FailedAllocationsAndReusedPointersAreCounted) {
  const ImportResult r = import_text("android",
                                     "1: malloc 0x0 100\n"  // failed malloc
                                     "1: malloc 0x10 8\n"
                                     "1: malloc 0x10 9\n"         // missed free of 0x10
                                     "1: realloc 0x0 0x10 50\n"   // failed realloc
                                     "1: realloc 0x20 0x77 5\n"   // unknown old pointer
                                     "1: realloc 0x0 0x88 0\n");  // realloc(unknown, 0): a free
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.stats.skipped_lines, 0u);  // repairs are counted as repairs, not skipped lines
  EXPECT_EQ(r.stats.count(Repair::kFailedAllocation), 2u);
  EXPECT_EQ(r.stats.first_line(Repair::kFailedAllocation), 1u);
  EXPECT_EQ(r.stats.count(Repair::kLivePointerReused), 1u);
  EXPECT_EQ(r.stats.first_line(Repair::kLivePointerReused), 3u);
  EXPECT_EQ(r.stats.count(Repair::kUnknownRealloc), 1u);
  EXPECT_EQ(r.stats.first_line(Repair::kUnknownRealloc), 5u);
  EXPECT_EQ(r.stats.count(Repair::kUnknownFree), 1u);
  EXPECT_EQ(r.stats.first_line(Repair::kUnknownFree), 6u);
  EXPECT_EQ(r.summary.final_live_bytes, 9u + 5);
}

// Issue 9: every repair is said once per kind, with its count and first line, and kept in the
// trace's metadata.
TEST(AndroidImport, RepairsAreWarnedOncePerKindAndKeptInMetadata) {
  const ImportResult r = import_text("android",
                                     "1: malloc 0x10 8\n"
                                     "1: free 0x999\n"     // unknown free, first
                                     "2: malloc 0x10 9\n"  // 0x10 still live: lost free
                                     "1: free 0x998\n"     // unknown free, second
                                     "2: calloc 0x20 2 4\n"
                                     "1: realloc 0x20 0x30 16\n"  // moves onto a live block
                                     "1: free 0x10\n"
                                     "1: free 0x20\n");
  ASSERT_TRUE(r.ok) << r.error;
  expect_standard_repairs(r, /*reused_line=*/3, /*free_line=*/2, /*realloc_line=*/6);
  EXPECT_EQ(r.stats.count(Repair::kNullFree), 0u);
  // The lost frees became frees just before the reuse: 8 B freed on line 3, the calloc on 6.
  EXPECT_EQ(r.summary.by_op[static_cast<int>(Op::kFree)], 4u);
  EXPECT_EQ(r.summary.final_live_objects, 0u);
  EXPECT_EQ(r.summary.peak_live_bytes, 9u + 16);
}

TEST(AndroidImport, CrlfAndBlankLinesAndColonWithoutSpace) {
  const ImportResult r = import_text("android", "7:malloc 0x10 3\r\n\r\n7: free 0x10\r\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.summary.events, 2u);
  EXPECT_EQ(r.stats.skipped_lines, 1u);
}

struct BadCase {
  const char* text;
  const char* error;
};

TEST(AndroidImport, RefusesBadInputWithOneLine) {
  const BadCase cases[] = {
      {"", "in.txt:0: expected a line 'TID: op PTR ...', got end of line"},
      {"1: malloc 0x10 8\n1: mallocx 0x20 8\n",
       "in.txt:2: expected an operation (malloc, calloc, memalign, realloc, free, thread_done), "
       "got 'mallocx'"},
      {"1 malloc 0x10 8\n", "in.txt:1: expected 'TID:', got '1'"},
      {"x: malloc 0x10 8\n", "in.txt:1: expected a thread id (decimal, below 2^32), got 'x'"},
      {"1: malloc 0x10\n", "in.txt:1: expected a size (decimal), got end of line"},
      {"1: malloc 16 8\n", "in.txt:1: expected a pointer (hex with 0x), got '16'"},
      {"1: malloc 0x10 99999999999999999999999\n",
       "in.txt:1: expected a size (decimal), got '99999999999999999999999'"},
      {"1: malloc 0x10 281474976710657\n",
       "in.txt:1: expected a size of at most 2^47, got '281474976710657'"},
      {"1: malloc 0x10 8 9\n", "in.txt:1: expected an end timestamp (ns), got end of line"},
      {"1: malloc 0x10 8 9 10 11\n", "in.txt:1: expected end of line, got '11'"},
      {"1: memalign 0x10 24 8\n",
       "in.txt:1: expected a power-of-two alignment up to 2^40, got '24'"},
      {"1: memalign 0x10 0 8\n", "in.txt:1: expected a power-of-two alignment up to 2^40, got '0'"},
      {"1: memalign 0x10 2199023255552 8\n",
       "in.txt:1: expected a power-of-two alignment up to 2^40, got '2199023255552'"},
      {"1: calloc 0x10 4294967296 4294967296\n",
       "in.txt:1: calloc(4294967296, 4294967296) is larger than 2^47 bytes or 2^32 members"},
      {"1: thread_done 0x0\n1: thread_done 0x0\n1: free 0x0\n", nullptr},  // tid reuse is fine
      {"1: malloc 0xfffffffffffffffff 8\n",
       "in.txt:1: expected a pointer (hex with 0x), got '0xfffffffffffffffff'"},
      {"\x7f\x45\x4c\x46\x02\x01\xfe\xff\n",
       "in.txt:1: expected 'TID:', got '\\x7fELF\\x02\\x01\\xfe\\xff'"},
      {"1: malloc 0x10 8\n1: mal",
       "in.txt:2: expected an operation (malloc, calloc, memalign, "
       "realloc, free, thread_done), got 'mal'"},
  };
  for (const BadCase& c : cases) {
    const ImportResult r = import_text("android", std::string_view(c.text, std::strlen(c.text)));
    if (c.error == nullptr) {
      EXPECT_TRUE(r.ok) << c.text << ": " << r.error;
      continue;
    }
    EXPECT_FALSE(r.ok) << c.text;
    EXPECT_EQ(short_error(r), c.error) << c.text;
  }
}

TEST(AndroidImport, RefusesBrokenZip) {
  std::string zip;
  {
    std::FILE* f = std::fopen((kAndroidDir + "/systemui.zip").c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) zip.append(buf, n);
    std::fclose(f);
  }
  const ImportResult truncated = import_text("android", zip.substr(0, zip.size() / 2), "t.zip");
  EXPECT_FALSE(truncated.ok);
  EXPECT_EQ(short_error(truncated),
            "t.zip: zip archive: no end-of-central-directory record (truncated?)");
  std::string flipped = zip;
  flipped[flipped.size() / 2] ^= 0x55;  // inside the deflate stream
  const ImportResult corrupt = import_text("android", flipped, "c.zip");
  EXPECT_FALSE(corrupt.ok);
  EXPECT_NE(corrupt.error.find("zip archive: "), std::string::npos) << corrupt.error;
}

TEST(AndroidExport, RoundTripsThroughOurModel) {
  const char* text =
      "1: malloc 0x10 100\n"
      "2: calloc 0x20 4 8\n"
      "1: memalign 0x30 64 10\n"
      "2: free 0x10\n"
      "1: realloc 0x40 0x30 200\n"
      "1: realloc 0x50 0x0 7\n"
      "2: thread_done 0x0\n"
      "1: free 0x40\n";
  ImportResult first = import_text("android", text);
  ASSERT_TRUE(first.ok) << first.error;
  std::string exported;
  {
    char* buf = nullptr;
    size_t len = 0;
    std::FILE* mem = open_memstream(&buf, &len);
    std::string error;
    ASSERT_TRUE(export_android(first.trace, mem, &error)) << error;
    std::fclose(mem);
    exported.assign(buf, len);
    std::free(buf);
  }
  EXPECT_EQ(exported,
            "1: malloc 0x10 100\n"
            "2: calloc 0x20 4 8\n"
            "1: memalign 0x30 64 10\n"
            "2: free 0x10\n"
            "1: realloc 0x30 0x30 200\n"
            "1: realloc 0x40 0x0 7\n"
            "2: thread_done 0x0\n"
            "1: free 0x30\n");
  ImportResult second = import_text("android", exported);
  ASSERT_TRUE(second.ok) << second.error;
  ASSERT_EQ(second.trace.threads.size(), first.trace.threads.size());
  for (size_t t = 0; t < first.trace.threads.size(); ++t) {
    const auto& a = first.trace.threads[t].events;
    const auto& b = second.trace.threads[t].events;
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)), 0) << "thread " << t;
  }
}

}  // namespace
}  // namespace allocmark
