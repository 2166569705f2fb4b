// Round trip and refusal tests of the trace formats (v2 written, v1 read). Layer: workloads tests.
#include "workloads/trace_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "workloads/trace_builder.h"

namespace allocmark {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "amt_" + std::to_string(getpid()) + "_" + name;
}

// Two threads, every op kind, a cross-thread free and realloc, a phase end.
Trace sample_trace() {
  TraceBuilder b;
  const uint32_t t0 = b.thread(100), t1 = b.thread(200);
  const uint32_t a = b.new_object(), c = b.new_object(), d = b.new_object(), e = b.new_object(),
                 f = b.new_object();
  EXPECT_TRUE(b.malloc(t0, a, 48));
  EXPECT_TRUE(b.calloc(t1, c, 4, 16));
  EXPECT_TRUE(b.aligned_alloc(t0, d, 4096, 100));
  EXPECT_TRUE(b.realloc(t1, a, 4000));  // a crosses from t0 to t1
  EXPECT_TRUE(b.access(t1, a, 10, 20));
  EXPECT_TRUE(b.realloc_from_null(t0, e, 7));
  EXPECT_TRUE(b.free(t0, c, kFlagSizedFree));  // c crosses from t1 to t0
  EXPECT_TRUE(b.malloc(t1, f, 1));
  EXPECT_TRUE(b.phase_end(t1));  // frees f: a belongs to the phase of t0, which allocated it
  EXPECT_TRUE(b.thread_exit(t1));
  EXPECT_TRUE(b.free(t0, d));
  b.set_metadata_json(R"({"source":"test"})");
  return b.finish();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(TraceFile, RoundTripKeepsEveryEventField) {
  Trace original = sample_trace();
  TraceSummary before;
  TraceError err;
  ASSERT_TRUE(check_trace(original, &before, &err)) << err.message();
  const std::string path = temp_path("roundtrip.amt");
  ASSERT_TRUE(write_trace(original, path, &err)) << err.message();
  Trace loaded;
  TraceSummary after;
  ASSERT_TRUE(read_trace(path, &loaded, &err, &after)) << err.message();
  ASSERT_EQ(loaded.threads.size(), 2u);
  EXPECT_EQ(loaded.object_count, original.object_count);
  EXPECT_EQ(loaded.metadata_json, R"({"source":"test"})");
  ASSERT_EQ(loaded.schedule.size(), original.schedule.size());
  for (size_t t = 0; t < 2; ++t) {
    ASSERT_EQ(loaded.threads[t].events.size(), original.threads[t].events.size());
    for (size_t i = 0; i < loaded.threads[t].events.size(); ++i) {
      const Event& x = original.threads[t].events[i];
      const Event& y = loaded.threads[t].events[i];
      EXPECT_EQ(x.op, y.op) << t << ":" << i;
      EXPECT_EQ(x.obj, y.obj);
      EXPECT_EQ(x.size, y.size);
      EXPECT_EQ(x.aux, y.aux);
      EXPECT_EQ(x.flags, y.flags);
      EXPECT_EQ(x.align_log2, y.align_log2);
      EXPECT_EQ(x.dep_thread, y.dep_thread);
      EXPECT_EQ(x.dep_index, y.dep_index);
    }
  }
  EXPECT_EQ(after.peak_live_bytes, before.peak_live_bytes);
  EXPECT_EQ(after.cross_thread_frees, 1u);  // c; the realloc of a is not a free
  EXPECT_EQ(after.by_op[static_cast<int>(Op::kPhaseEnd)], 1u);
  EXPECT_EQ(after.final_live_objects, 2u);  // a and e were never freed
  EXPECT_GE(after.dependencies, 2u);
  std::remove(path.c_str());
}

TEST(TraceFile, PeakLiveFollowsRecordedOrder) {
  TraceBuilder b;
  const uint32_t t = b.thread(1);
  const uint32_t x = b.new_object(), y = b.new_object();
  b.malloc(t, x, 100);
  b.free(t, x);
  b.malloc(t, y, 60);
  Trace trace = b.finish();
  TraceSummary s;
  TraceError err;
  ASSERT_TRUE(check_trace(trace, &s, &err));
  EXPECT_EQ(s.peak_live_bytes, 100u);
  EXPECT_EQ(s.final_live_bytes, 60u);
}

TEST(TraceBuilder, RefusesMisuse) {
  TraceBuilder b;
  const uint32_t t = b.thread(1);
  const uint32_t x = b.new_object();
  EXPECT_FALSE(b.free(t, x));
  EXPECT_NE(b.error().find("not live"), std::string::npos);
  EXPECT_FALSE(b.aligned_alloc(t, x, 24, 8));
  EXPECT_NE(b.error().find("power of two"), std::string::npos);
  ASSERT_TRUE(b.malloc(t, x, 8));
  EXPECT_FALSE(b.malloc(t, x, 8));
  ASSERT_TRUE(b.free(t, x));
  EXPECT_FALSE(b.free(t, x));
  EXPECT_FALSE(b.malloc(t, x, 8));  // ids are single-use
  EXPECT_FALSE(b.calloc(t, b.new_object(), 1ull << 40, 1ull << 40));
}

class TraceFileRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    Trace t = sample_trace();
    TraceError err;
    path_ = temp_path("good.amt");
    ASSERT_TRUE(write_trace(t, path_, &err));
    good_ = read_bytes(path_);
  }
  void TearDown() override { std::remove(path_.c_str()); }
  // Writes `bytes`, reads it back, and returns the refusal message ("" if accepted).
  std::string refusal(const std::string& bytes) {
    write_bytes(path_, bytes);
    Trace t;
    TraceError err;
    return read_trace(path_, &t, &err) ? "" : err.message();
  }
  std::string path_, good_;
};

TEST_F(TraceFileRefusal, EmptyFile) {
  EXPECT_NE(refusal("").find("shorter than the 64-byte header"), std::string::npos);
}

TEST_F(TraceFileRefusal, BadMagic) {
  std::string b = good_;
  b[0] = 'X';
  EXPECT_NE(refusal(b).find("bad magic"), std::string::npos);
}

TEST_F(TraceFileRefusal, FutureVersion) {
  std::string b = good_;
  b[8] = 3;
  EXPECT_NE(refusal(b).find("version 3"), std::string::npos);
}

TEST_F(TraceFileRefusal, TruncatedAnywhere) {
  for (size_t cut : {good_.size() - 1, good_.size() / 2, size_t{70}}) {
    const std::string msg = refusal(good_.substr(0, cut));
    EXPECT_NE(msg.find("truncated"), std::string::npos) << cut << ": " << msg;
    EXPECT_NE(msg.find(path_), std::string::npos);
  }
}

TEST_F(TraceFileRefusal, FlippedPayloadByteFailsChecksum) {
  std::string b = good_;
  b[b.size() - 3] ^= 0x40;
  EXPECT_NE(refusal(b).find("checksum"), std::string::npos);
}

TEST_F(TraceFileRefusal, HugeCountsAreRefusedBeforeAllocating) {
  std::string b = good_;
  for (int i = 32; i < 40; ++i) b[i] = static_cast<char>(0xff);  // event count 2^64-1
  EXPECT_NE(refusal(b).find("more events than payload bytes"), std::string::npos);
}

TEST_F(TraceFileRefusal, AHugeThreadCountIsRefusedBeforeAllocating) {
  // Found by fuzz_trace_reader: 270 M threads claimed cost gigabytes of per-thread state.
  std::string b = good_;
  const uint32_t threads = 0x10270001;
  std::memcpy(b.data() + 16, &threads, 4);
  EXPECT_NE(refusal(b).find("more threads than events"), std::string::npos) << refusal(b);
}

TEST_F(TraceFileRefusal, HeaderPayloadSizeMustMatchThePayload) {
  // The checksum does not cover the header. The streaming reader never sizes a buffer by this
  // field (its window is fixed), so a lie costs nothing before it is found at the end.
  std::string b = good_;
  const uint64_t lie = 64u << 20;
  std::memcpy(b.data() + 40, &lie, 8);
  const std::string msg = refusal(b);
  EXPECT_NE(msg.find("payload is smaller than the header says"), std::string::npos) << msg;
}

TEST_F(TraceFileRefusal, SemanticErrorsNameThreadAndEvent) {
  // A hand-made trace whose second event frees an object that is not live.
  Trace t;
  t.threads.resize(1);
  Event e{};
  e.op = Op::kMalloc;
  e.obj = 0;
  e.size = 8;
  t.threads[0].events.push_back(e);
  e.op = Op::kFree;
  e.obj = 1;
  t.threads[0].events.push_back(e);
  t.object_count = 2;
  TraceError err;
  ASSERT_TRUE(write_trace(t, path_, &err));
  Trace back;
  ASSERT_FALSE(read_trace(path_, &back, &err));
  EXPECT_NE(err.message().find("thread 0 event 1"), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("never allocated"), std::string::npos) << err.message();
}

}  // namespace
}  // namespace allocmark
