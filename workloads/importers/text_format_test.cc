// Tests of the text form: exact round trips of builder-made, hand-made and imported traces, and
// one-line refusals of bad input. Layer: workloads tests.
#include "workloads/importers/text_format.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "workloads/importers/android_format.h"
#include "workloads/importers/import_test_util.h"
#include "workloads/trace_builder.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

using testing_util::import_text;
using testing_util::ImportResult;
using testing_util::short_error;

std::string to_text(const Trace& trace) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  std::string error;
  EXPECT_TRUE(export_text(trace, mem, &error)) << error;
  std::fclose(mem);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

// Every field but `reserved`, the schedule, the counts and the metadata.
void expect_same(const Trace& a, const Trace& b) {
  ASSERT_EQ(a.threads.size(), b.threads.size());
  EXPECT_EQ(a.object_count, b.object_count);
  EXPECT_EQ(a.metadata_json, b.metadata_json);
  ASSERT_EQ(a.schedule.size(), b.schedule.size());
  for (size_t i = 0; i < a.schedule.size(); ++i) {
    EXPECT_EQ(a.schedule[i].thread, b.schedule[i].thread) << "run " << i;
    EXPECT_EQ(a.schedule[i].count, b.schedule[i].count) << "run " << i;
  }
  for (size_t t = 0; t < a.threads.size(); ++t) {
    const auto& x = a.threads[t].events;
    const auto& y = b.threads[t].events;
    ASSERT_EQ(x.size(), y.size()) << "thread " << t;
    for (size_t i = 0; i < x.size(); ++i) {
      SCOPED_TRACE("thread " + std::to_string(t) + " event " + std::to_string(i));
      EXPECT_EQ(x[i].op, y[i].op);
      EXPECT_EQ(x[i].obj, y[i].obj);
      EXPECT_EQ(x[i].size, y[i].size);
      EXPECT_EQ(x[i].aux, y[i].aux);
      EXPECT_EQ(x[i].align_log2, y[i].align_log2);
      EXPECT_EQ(x[i].flags, y[i].flags);
      if (x[i].flags & kFlagHasDep) {
        EXPECT_EQ(x[i].dep_thread, y[i].dep_thread);
        EXPECT_EQ(x[i].dep_index, y[i].dep_index);
      }
    }
  }
}

Trace builder_trace() {
  TraceBuilder b;
  const uint32_t t0 = b.thread(100), t1 = b.thread(200), t2 = b.thread(300);
  EXPECT_TRUE(b.malloc(t0, 0, 48));
  EXPECT_TRUE(b.malloc(t0, 1, 64, kFlagCxx));
  EXPECT_TRUE(b.calloc(t1, 2, 4, 12));
  EXPECT_TRUE(b.aligned_alloc(t1, 3, 4096, 100));
  EXPECT_TRUE(b.access(t0, 1, 8, 16));
  EXPECT_TRUE(b.free(t1, 0, kFlagSizedFree));  // cross-thread: dependency on T0
  EXPECT_TRUE(b.realloc(t0, 2, 200));          // cross-thread realloc
  EXPECT_TRUE(b.realloc_from_null(t2, 4, 7));
  EXPECT_TRUE(b.malloc(t2, 5, 1));
  EXPECT_TRUE(b.phase_end(t2));  // frees #4, #5 with kFlagPhaseFree
  EXPECT_TRUE(b.thread_exit(t2));
  EXPECT_TRUE(b.free(t0, 3));
  b.set_metadata_json("{\n  \"source\": \"unit test\",\n  \"path\": \"C:\\\\x\"\n}");
  return b.finish();
}

TEST(TextForm, BuilderTraceRoundTripsExactly) {
  Trace original = builder_trace();
  const std::string text = to_text(original);
  EXPECT_EQ(text,
            "allocmark-text 1\n"
            "threads 3\n"
            "objects 6\n"
            "schedule recorded\n"
            "deps auto\n"
            "metadata {\\n  \"source\": \"unit test\",\\n  \"path\": \"C:\\\\\\\\x\"\\n}\n"
            "T0 malloc #0 48\n"
            "T0 malloc #1 64 cxx\n"
            "T1 calloc #2 48 nmemb=4\n"
            "T1 aligned_alloc #3 100 align=4096\n"
            "T0 access #1 16 at=8\n"
            "T1 free #0 sized\n"
            "T0 realloc #2 200\n"
            "T2 realloc #4 7 from_null\n"
            "T2 malloc #5 1\n"
            "T2 free #4 phase\n"
            "T2 free #5 phase\n"
            "T2 phase_end\n"
            "T2 thread_exit\n"
            "T0 free #3\n");
  const ImportResult back = import_text("text", text);
  ASSERT_TRUE(back.ok) << back.error;
  expect_same(original, back.trace);
  EXPECT_EQ(back.summary.dependencies, 3u);  // free #0, realloc #2, free #3
}

// A trace not made by the builder: a dependency the builder would not add, an empty thread, an
// unused object id, no schedule, odd fields. The text form must still carry it exactly.
TEST(TextForm, HandMadeTraceRoundTripsExactly) {
  Trace t;
  t.threads.resize(3);  // thread 2 has no events
  t.object_count = 3;   // id 2 never used
  t.metadata_json = "";
  auto ev = [](Op op, uint32_t obj, uint64_t size) {
    Event e{};
    e.op = op;
    e.obj = obj;
    e.size = size;
    return e;
  };
  Event m = ev(Op::kMalloc, 0, 10);
  m.align_log2 = 5;  // malloc that asked for an alignment
  m.aux = 3;         // odd but legal
  t.threads[0].events.push_back(m);
  t.threads[0].events.push_back(ev(Op::kMalloc, 1, 0));
  Event wait = ev(Op::kPhaseEnd, kNoObject, 0);
  wait.flags = kFlagHasDep;  // waits for T0's first event: not what the builder would do
  wait.dep_thread = 0;
  wait.dep_index = 0;
  t.threads[1].events.push_back(wait);
  Event f = ev(Op::kFree, 1, 0);
  t.threads[1].events.push_back(f);  // cross-thread free without a dependency
  const std::string text = to_text(t);
  EXPECT_NE(text.find("deps explicit"), std::string::npos);
  EXPECT_NE(text.find("schedule none"), std::string::npos);
  EXPECT_NE(text.find("T1 phase_end dep=T0:0"), std::string::npos) << text;
  const ImportResult back = import_text("text", text);
  ASSERT_TRUE(back.ok) << back.error << "\n" << text;
  Trace expected = std::move(t);
  expected.threads[1].events[1].size = 0;  // free sizes are filled from the object table
  expect_same(expected, back.trace);
}

TEST(TextForm, SystemUiRoundTripsExactly) {
  Trace trace;
  ImportStats stats;
  std::string error;
  ASSERT_TRUE(import_android(std::string(ALLOCMARK_ANDROID_TRACES) + "/systemui.zip", &trace,
                             &stats, &error))
      << error;
  const std::string text = to_text(trace);
  EXPECT_NE(text.find("deps auto"), std::string::npos);
  const ImportResult back = import_text("text", text);
  ASSERT_TRUE(back.ok) << back.error;
  expect_same(trace, back.trace);
  EXPECT_EQ(back.summary.peak_live_bytes, 10441709u);
}

TEST(TextForm, HandWrittenWithCommentsAndDefaults) {
  const ImportResult r = import_text("text",
                                     "# a comment before the magic line\n"
                                     "allocmark-text 1\r\n"
                                     "\n"
                                     "T0 malloc #0 32\n"
                                     "  # indented comment\n"
                                     "T1 free #0\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.summary.threads, 2u);
  EXPECT_EQ(r.summary.objects, 1u);
  EXPECT_EQ(r.summary.cross_thread_frees, 1u);
  EXPECT_EQ(r.summary.dependencies, 1u);  // deps auto by default
  EXPECT_EQ(r.trace.schedule.size(), 2u);
  EXPECT_NE(r.trace.metadata_json.find("\"source\":\"text\""), std::string::npos);
}

struct BadCase {
  const char* text;
  const char* error;
};

TEST(TextForm, RefusesBadInputWithOneLine) {
  const std::string h = "allocmark-text 1\n";
  const BadCase cases[] = {
      {"", "in.txt:0: expected the first line 'allocmark-text 1', got end of line"},
      {"T0 malloc #0 1\n",
       "in.txt:1: expected the first line 'allocmark-text 1', got 'T0 malloc #0 1'"},
      {"allocmark-text 2\n", "in.txt:1: expected text form version 1, got '2'"},
      {"+T0 malloc #0 1\n", nullptr},  // (prefixed below with the header: an unknown header)
      {"T0 mallocx #0 1\n",
       "in.txt:2: expected an operation (malloc, calloc, realloc, free, aligned_alloc, phase_end, "
       "access, thread_exit), got 'mallocx'"},
      {"T0 malloc 0 1\n", "in.txt:2: expected an object '#<id>', got '0'"},
      {"T0 malloc #0\n", "in.txt:2: expected a size (decimal), got end of line"},
      {"T0 malloc #0 99999999999999999999999\n",
       "in.txt:2: expected a size (decimal), got '99999999999999999999999'"},
      {"T0 malloc #0 281474976710657\n",
       "in.txt:2: expected a size of at most 2^47, got '281474976710657'"},
      {"T0 aligned_alloc #0 8 align=24\n",
       "in.txt:2: expected align=<power of two up to 2^40>, got 'align=24'"},
      {"T0 aligned_alloc #0 8\n",
       "in.txt:2: expected align=<power of two> on aligned_alloc, got end of line"},
      {"T0 malloc #0 1\nT0 malloc #0 1\n", "in.txt:3: malloc of #0 which is already live"},
      {"T0 malloc #0 1\nT0 free #0\nT0 free #0\n",
       "in.txt:4: free of #0 which is already freed (double free)"},
      {"T0 free #7\n", "in.txt:2: free of #7 which was never allocated"},
      {"T0 malloc #0 1\nT0 free #0\nT0 malloc #0 1\n",
       "in.txt:4: malloc of #0 which was freed (ids are single-use)"},
      {"T0 thread_exit\nT0 malloc #0 1\n", "in.txt:3: event on T0 after its thread_exit"},
      {"T0 malloc #0 8\nT0 access #0 8 at=4\n", "in.txt:3: access [4, +8) outside #0 of 8 bytes"},
      {"T0 malloc #0 8 dep=T1:0\n",
       "in.txt:2: expected no dep= unless the header says 'deps explicit', got 'dep=T1:0'"},
      {"T0 malloc #0 8 wobbly\n",
       "in.txt:2: expected a flag (from_null, sized, phase, cxx) or key=value, got 'wobbly'"},
      {"T0 malloc #3000000000 1\n",
       "in.txt:2: object ids reach 3000000000 but there are only 1 events (ids must be dense)"},
      {"T99999999 malloc #0 1\n", "in.txt:2: expected a thread 'T<n>' below 2^20, got 'T99999999'"},
      {"threads 1\nT1 malloc #0 1\n",
       "in.txt:3: expected a thread 'T<n>' below the declared thread count, got 'T1'"},
      {"T0 malloc #0 1\nthreads 1\n",
       "in.txt:3: expected an event line 'T<thread> op ...' (headers go first), got 'threads'"},
      {"T0 calloc #0 10 nmemb=3\n", "in.txt:2: calloc size 10 is not a multiple of nmemb=3"},
      {"objects 4000000000\nT0 malloc #0 1\n",
       "in.txt:2: 'objects 4000000000' is more than the 1 events (ids must be dense)"},
      {"threads 99999999\n", "in.txt:2: expected a thread count up to 2^20, got '99999999'"},
  };
  for (const BadCase& c : cases) {
    std::string text = c.text;
    if (!text.starts_with("allocmark") && !text.empty() &&
        !std::string(c.error ? c.error : "").starts_with("in.txt:1:"))
      text = h + text;
    const ImportResult r = import_text("text", text);
    EXPECT_FALSE(r.ok) << text;
    if (c.error) {
      EXPECT_EQ(short_error(r), c.error) << text;
    }
  }
}

TEST(TextForm, ExplicitDependencyMustPointBackwards) {
  const ImportResult r = import_text("text",
                                     "allocmark-text 1\ndeps explicit\n"
                                     "T0 malloc #0 1\n"
                                     "T1 free #0 dep=T0:1\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(short_error(r), "in.txt:4: dep=T0:1 names an event that has not happened yet");
}

}  // namespace
}  // namespace allocmark
