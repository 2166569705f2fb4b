// Streaming trace files: chunked reading equals whole reading, generation to a file equals
// generation in memory, v1 files still read, and the live-object table. Layer: workloads tests.
#include "workloads/trace_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_map>

#include "workloads/generator.h"
#include "workloads/live_objects.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "amts_" + std::to_string(getpid()) + "_" + name;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Trace generated(const char* name, uint32_t threads) {
  GeneratorArgs args;
  args.threads = threads;
  Trace t;
  std::string error;
  EXPECT_TRUE(generate_trace(*find_generator(name), args, &t, &error)) << error;
  return t;
}

bool same_event(const Event& a, const Event& b) {
  return a.op == b.op && a.obj == b.obj && a.size == b.size && a.aux == b.aux &&
         a.flags == b.flags && a.align_log2 == b.align_log2 && a.dep_thread == b.dep_thread &&
         a.dep_index == b.dep_index;
}

TEST(TraceStream, ChunksFollowTheRecordedOrderOfTheWholeTrace) {
  const std::string path = temp_path("larson.amt");
  Trace whole = generated("larson", 3);
  TraceError err;
  ASSERT_TRUE(write_trace(whole, path, &err, 3)) << err.message();
  ASSERT_TRUE(read_trace(path, &whole, &err)) << err.message();  // free sizes filled
  TraceReader reader;
  ASSERT_TRUE(reader.open(path, &err)) << err.message();
  EXPECT_EQ(reader.info().version, 2u);
  EXPECT_EQ(reader.info().threads, 3u);
  std::vector<uint64_t> done(3, 0);
  size_t run = 0;
  uint64_t in_run = 0, events = 0;
  EventChunk chunk;
  for (;;) {
    ASSERT_TRUE(reader.next(&chunk, 999, &err)) << err.message();  // runs cross chunk ends
    if (chunk.events.empty()) break;
    const Event* e = chunk.events.data();
    for (const ScheduleRun& r : chunk.runs) {
      for (uint32_t k = 0; k < r.count; ++k, ++e, ++events) {
        ASSERT_LT(run, whole.schedule.size());
        ASSERT_EQ(r.thread, whole.schedule[run].thread);
        Event expected = whole.threads[r.thread].events[done[r.thread]++];
        if (expected.op == Op::kFree) expected.size = 0;  // not stored: the checker fills it
        ASSERT_TRUE(same_event(*e, expected)) << "event " << events;
        if (++in_run == whole.schedule[run].count) ++run, in_run = 0;
      }
    }
  }
  EXPECT_EQ(events, whole.event_count());
}

TEST(TraceStream, GeneratingToAFileWritesWhatGeneratingInMemoryWrites) {
  for (const char* name : {"churn", "phase-reset", "xmalloc"}) {
    GeneratorArgs args;
    args.threads = find_generator(name)->multi_threaded ? 2 : 1;
    const std::string a = temp_path("mem.amt"), b = temp_path("file.amt");
    Trace t;
    std::string error;
    ASSERT_TRUE(generate_trace(*find_generator(name), args, &t, &error)) << error;
    TraceError err;
    ASSERT_TRUE(write_trace(t, a, &err, 3)) << err.message();
    TraceOutput facts;
    ASSERT_TRUE(generate_trace_file(*find_generator(name), args, b, 3, &error, &facts)) << error;
    EXPECT_EQ(file_bytes(a), file_bytes(b)) << name;
    TraceSummary summary;
    ASSERT_TRUE(check_trace_file(b, &summary, &err)) << err.message();
    EXPECT_EQ(facts.events, summary.events) << name;
    EXPECT_EQ(facts.peak_live_bytes, summary.peak_live_bytes) << name;
  }
}

TEST(TraceStream, VersionOneFilesStillRead) {
  const std::string path =
      std::string(ALLOCMARK_SOURCE_DIR) + "/workloads/fuzz/corpus/trace_reader/builder.amt";
  Trace whole;
  TraceSummary a, b;
  TraceError err;
  ASSERT_TRUE(read_trace(path, &whole, &err, &a)) << err.message();
  TraceFileInfo info;
  ASSERT_TRUE(check_trace_file(path, &b, &err, &info)) << err.message();
  EXPECT_EQ(info.version, 1u);
  EXPECT_GT(a.events, 0u);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.peak_live_bytes, b.peak_live_bytes);
  EXPECT_EQ(a.cross_thread_frees, b.cross_thread_frees);
}

TEST(TraceStream, AnUnfinishedWriterLeavesNoFile) {
  const std::string path = temp_path("unfinished.amt");
  {
    TraceWriter w;
    TraceError err;
    ASSERT_TRUE(w.open(path, "{}", 3, &err));
    Event e{};
    e.op = Op::kMalloc;
    e.size = 8;
    w.add(0, e);
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0);
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
}

TEST(TraceStream, FinalMetadataReplacesTheReservedTextAndKeepsTheChecksumRight) {
  const std::string path = temp_path("sealed.amt");
  TraceWriter w;
  TraceError err;
  std::string reserved = R"({"exit_code":0})";
  reserved.resize(64, ' ');
  ASSERT_TRUE(w.open(path, reserved, 3, &err));
  Event e{};
  e.op = Op::kMalloc;
  e.size = 8;
  w.add(0, e);
  ASSERT_TRUE(w.finish(&err, R"({"exit_code":137})")) << err.message();
  TraceReader r;
  ASSERT_TRUE(r.open(path, &err)) << err.message();  // the checksum covers the new text
  EXPECT_EQ(r.info().metadata_json.substr(0, 17), R"({"exit_code":137})");
  EXPECT_EQ(r.info().metadata_json.size(), 64u);
  TraceWriter small;
  ASSERT_TRUE(small.open(path, "{}", 3, &err));
  EXPECT_FALSE(small.finish(&err, R"({"too":"long"})"));
  EXPECT_NE(err.message().find("larger than the room reserved"), std::string::npos);
}

TEST(LiveObjects, AgreesWithAHashMapUnderRandomLives) {
  LiveObjects<uint64_t> live(4);
  std::unordered_map<uint32_t, uint64_t> model;
  std::vector<uint32_t> ids;
  std::mt19937 rng(7);
  uint32_t next = 0;
  for (int step = 0; step < 200000; ++step) {
    if (ids.empty() || rng() % 3 != 0) {
      const uint32_t id = next++ * 7919u;  // sparse ids, colliding homes
      live.insert(id) = step;
      model[id] = step;
      ids.push_back(id);
    } else {
      const size_t k = rng() % ids.size();
      const uint32_t id = ids[k];
      ids[k] = ids.back();
      ids.pop_back();
      ASSERT_NE(live.find(id), nullptr);
      EXPECT_EQ(*live.find(id), model[id]);
      live.erase(id);
      model.erase(id);
      EXPECT_EQ(live.find(id), nullptr);
      EXPECT_TRUE(live.seen(id));
    }
    ASSERT_EQ(live.size(), model.size());
  }
  for (const auto& [id, v] : model) ASSERT_EQ(*live.find(id), v);
  EXPECT_FALSE(live.seen(next * 7919u));
}

// Ids live in dense runs far apart: old survivors and the young objects of a long trace, a
// table size and more apart. Under an identity hash these runs merged into one huge cluster;
// the run hash of live_objects.h must stay correct (and fast: this runs in well under a second).
TEST(LiveObjects, AgreesWithAHashMapForDenseRunsOfIds) {
  LiveObjects<uint64_t> live;
  std::unordered_map<uint32_t, uint64_t> model;
  std::mt19937 rng(11);
  for (uint32_t id = 0; id < 100000; ++id) {  // long-lived: ids 0 .. 10^5
    live.insert(id) = id;
    model[id] = id;
  }
  std::vector<uint32_t> young;
  for (uint32_t id = 1u << 22; id < (1u << 22) + 600000; ++id) {  // churn: a sliding window
    live.insert(id) = id;
    model[id] = id;
    young.push_back(id);
    if (young.size() > 50000) {
      const size_t k = rng() % 256;  // free one of the oldest young ids
      const uint32_t dead = young[k];
      young[k] = young.back();
      young.pop_back();
      ASSERT_NE(live.find(dead), nullptr);
      live.erase(dead);
      model.erase(dead);
    }
  }
  EXPECT_EQ(live.size(), model.size());
  for (const auto& [id, v] : model) {
    ASSERT_NE(live.find(id), nullptr) << id;
    EXPECT_EQ(*live.find(id), v);
  }
}

}  // namespace
}  // namespace allocmark
