// Tests of the raw-file converter on hand-made raw files: merge order, realloc halves, unknown
// pointers, exit-snapshot duplicates, thread exits, truncation. Layer: workloads/recorder tests.
#include "workloads/recorder/raw_convert.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "workloads/trace_builder.h"
#include "workloads/trace_file.h"
#include "workloads/trace_stream.h"

namespace allocmark {
namespace {

using raw::RawRecord;

RawRecord rec(uint64_t seq, uint8_t op, uint64_t ptr, uint64_t size = 0, uint64_t aux = 0,
              uint8_t flags = 0) {
  return RawRecord{raw::make_word(seq, op, flags), ptr, size, aux};
}

class RawFile {
 public:
  RawFile() {
    dir_ = std::filesystem::temp_directory_path() /
           ("amk-raw-test-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    raw::FileHeader h{};
    std::memcpy(h.magic, raw::kFileMagic, sizeof h.magic);
    h.pid = 4242;
    h.ppid = 1;
    h.start_ns = 1;
    bytes_.append(reinterpret_cast<const char*>(&h), sizeof h);
  }
  ~RawFile() { std::filesystem::remove_all(dir_); }

  void block(uint32_t thread, const std::vector<RawRecord>& records) {
    raw::BlockHeader b{raw::kBlockMagic, thread, static_cast<uint32_t>(records.size()), thread};
    bytes_.append(reinterpret_cast<const char*>(&b), sizeof b);
    bytes_.append(reinterpret_cast<const char*>(records.data()),
                  records.size() * sizeof records[0]);
  }
  void append_raw(const std::string& s) { bytes_ += s; }

  std::string write() {
    const std::string path = (dir_ / "4242-1.raw").string();
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(bytes_.data(), 1, bytes_.size(), f);
    std::fclose(f);
    return path;
  }
  std::string dir() const { return dir_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string bytes_;
};

struct Converted {
  bool ok = false;
  std::string error;
  Trace trace;
  RecordStats stats;
  TraceSummary summary;
};

Converted convert(RawFile& f) {
  Converted c;
  c.ok = convert_raw_file(f.write(), &c.trace, &c.stats, &c.error);
  if (c.ok) {
    TraceError e;
    EXPECT_TRUE(check_trace(c.trace, &c.summary, &e)) << e.message();
  }
  return c;
}

TEST(RawConvert, MergesThreadsBySequenceWithCrossThreadFree) {
  RawFile f;
  // Thread 2's block is written first (it flushed first), yet order follows sequence numbers.
  f.block(2, {rec(3, raw::kFree, 0x1000), rec(4, raw::kMalloc, 0x3000, 32)});
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 100), rec(2, raw::kCalloc, 0x2000, 8, 4),
              rec(5, raw::kFree, 0x3000, 32, 0, raw::kRawCxx | raw::kRawSized)});
  Converted c = convert(f);
  ASSERT_TRUE(c.ok) << c.error;
  ASSERT_EQ(c.trace.threads.size(), 2u);
  const auto& t0 = c.trace.threads[0].events;
  const auto& t1 = c.trace.threads[1].events;
  ASSERT_EQ(t0.size(), 3u);
  ASSERT_EQ(t1.size(), 2u);
  EXPECT_EQ(t0[0].op, Op::kMalloc);
  EXPECT_EQ(t0[1].op, Op::kCalloc);
  EXPECT_EQ(t0[1].size, 32u);
  EXPECT_EQ(t0[1].aux, 4u);
  EXPECT_EQ(t1[0].op, Op::kFree);
  EXPECT_TRUE(t1[0].flags & kFlagHasDep);
  EXPECT_EQ(t0[2].op, Op::kFree);
  EXPECT_TRUE(t0[2].flags & kFlagSizedFree);
  EXPECT_EQ(c.summary.cross_thread_frees, 2u);
  EXPECT_EQ(c.stats.peak_live_bytes, 132u);  // 100 + 32 live at seq 2
  EXPECT_EQ(c.summary.peak_live_bytes, c.stats.peak_live_bytes);
}

TEST(RawConvert, MovedReallocReleasesOldPointerBeforeTheCall) {
  RawFile f;
  // Thread 1 reallocs 0x1000 -> 0x2000; between its two halves thread 2 gets 0x1000 back from
  // malloc (the old block was freed inside realloc) and frees the block that was at 0x2000.
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 10), rec(4, raw::kReallocFree, 0x1000),
              rec(7, raw::kRealloc, 0x2000, 50, 0x1000)});
  f.block(2, {rec(2, raw::kMalloc, 0x2000, 20), rec(5, raw::kMalloc, 0x1000, 30),
              rec(6, raw::kFree, 0x2000), rec(8, raw::kFree, 0x1000)});
  Converted c = convert(f);
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.stats.implicit_frees, 0u);
  EXPECT_EQ(c.stats.unknown_frees, 0u);
  EXPECT_EQ(c.summary.by_op[static_cast<int>(Op::kRealloc)], 1u);
  EXPECT_EQ(c.summary.final_live_bytes, 50u);
  EXPECT_EQ(c.summary.peak_live_bytes, c.stats.peak_live_bytes);
}

// A realloc that stays in place keeps its object (the converter leaves it bound where it is)
// and its dependencies: thread 2 resizes thread 1's block, thread 1 frees it.
TEST(RawConvert, InPlaceReallocAcrossThreadsKeepsObjectAndDependencies) {
  RawFile f;
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 10)});
  f.block(2, {rec(2, raw::kRealloc, 0x1000, 40, 0x1000)});
  f.block(1, {rec(3, raw::kFree, 0x1000), rec(4, raw::kMalloc, 0x1000, 8)});
  Converted c = convert(f);
  ASSERT_TRUE(c.ok) << c.error;
  ASSERT_EQ(c.trace.threads.size(), 2u);
  const auto& t0 = c.trace.threads[0].events;
  const auto& t1 = c.trace.threads[1].events;
  ASSERT_EQ(t0.size(), 3u);
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_EQ(t1[0].op, Op::kRealloc);
  EXPECT_EQ(t1[0].obj, t0[0].obj);
  EXPECT_TRUE(t1[0].flags & kFlagHasDep);
  EXPECT_EQ(t1[0].dep_thread, 0u);
  EXPECT_EQ(t1[0].dep_index, 0u);
  EXPECT_EQ(t0[1].op, Op::kFree);
  EXPECT_EQ(t0[1].size, 40u);
  EXPECT_TRUE(t0[1].flags & kFlagHasDep);
  EXPECT_EQ(t0[1].dep_thread, 1u);
  EXPECT_EQ(t0[1].dep_index, 0u);
  EXPECT_NE(t0[2].obj, t0[0].obj);  // the address's next block is a new object
  EXPECT_EQ(c.trace.object_count, 2u);
  EXPECT_EQ(c.stats.peak_live_bytes, 40u);
  EXPECT_EQ(c.stats.trace_peak_live_bytes, 40u);
  EXPECT_EQ(c.summary.peak_live_bytes, 40u);
}

// The converter keeps its objects' state itself (TraceBuilder's `held`): the same calls with
// held state and with the builder's own table must build the same trace, byte for byte.
TEST(RawConvert, BuilderWithHeldStateBuildsWhatItsTableBuilds) {
  auto build = [](bool held) {
    TraceBuilder b;
    TraceBuilder::ObjectLife life[4];
    auto h = [&](int i) { return held ? &life[i] : nullptr; };
    const uint32_t t0 = b.thread(10), t1 = b.thread(20);
    EXPECT_TRUE(b.malloc(t0, b.new_object(), 100, kFlagCxx, h(0)));
    EXPECT_TRUE(b.calloc(t0, b.new_object(), 4, 8, h(1)));
    EXPECT_TRUE(b.aligned_alloc(t1, b.new_object(), 64, 128, 0, h(2)));
    EXPECT_TRUE(b.realloc(t1, 0, 300, h(0)));
    EXPECT_TRUE(b.free(t0, 1, 0, h(1)));
    EXPECT_TRUE(b.realloc_from_null(t0, b.new_object(), 50, h(3)));
    EXPECT_TRUE(b.free(t0, 0, kFlagSizedFree, h(0)));
    EXPECT_TRUE(b.free(t1, 3, 0, h(3)));
    EXPECT_EQ(b.peak_live_bytes(), 300u + 128u + 50u);  // after the realloc(NULL)
    return b.finish();
  };
  const Trace table = build(false), held = build(true);
  ASSERT_EQ(table.threads.size(), held.threads.size());
  for (size_t t = 0; t < table.threads.size(); ++t) {
    const auto& a = table.threads[t].events;
    const auto& b = held.threads[t].events;
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(Event)), 0) << "thread " << t << " event " << i;
  }
  ASSERT_EQ(table.schedule.size(), held.schedule.size());
  for (size_t i = 0; i < table.schedule.size(); ++i) {
    EXPECT_EQ(table.schedule[i].thread, held.schedule[i].thread);
    EXPECT_EQ(table.schedule[i].count, held.schedule[i].count);
  }
  EXPECT_EQ(table.object_count, held.object_count);
}

TEST(RawConvert, UnknownPointersAreCountedNotFatal) {
  RawFile f;
  f.block(1, {rec(1, raw::kFree, 0xdead), rec(2, raw::kRealloc, 0x5000, 64, 0xbeef),
              rec(3, raw::kRealloc, 0x6000, 8, 0), rec(4, raw::kMalloc, 0x5000, 16)});
  Converted c = convert(f);
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.stats.unknown_frees, 1u);
  EXPECT_EQ(c.stats.unknown_reallocs, 1u);
  EXPECT_EQ(c.stats.implicit_frees, 1u);  // 0x5000 handed out again without a seen free
  EXPECT_EQ(c.summary.final_live_bytes, 24u);
}

TEST(RawConvert, SnapshotDuplicatesDroppedAndThreadExitPlacedLast) {
  RawFile f;
  // An exit snapshot of thread 2 (a prefix), then its owner's full block, then one record it
  // made after its exit hook ran (direct mode).
  f.block(2, {rec(2, raw::kMalloc, 0x2000, 8)});
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 8)});
  f.block(2, {rec(2, raw::kMalloc, 0x2000, 8), rec(3, raw::kThreadExit, 0)});
  f.block(2, {rec(4, raw::kFree, 0x2000)});
  f.block(1, {rec(5, raw::kFree, 0x1000)});
  Converted c = convert(f);
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.stats.duplicates, 1u);
  const auto& t1 = c.trace.threads[1].events;
  ASSERT_EQ(t1.size(), 3u);
  EXPECT_EQ(t1[2].op, Op::kThreadExit);
  EXPECT_EQ(c.summary.final_live_bytes, 0u);
}

TEST(RawConvert, TruncatedBlockDroppedBadBlockRefused) {
  RawFile f;
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 8)});
  raw::BlockHeader cut{raw::kBlockMagic, 1, 5, 1};  // 5 records announced, 4 bytes follow
  f.append_raw(std::string(reinterpret_cast<const char*>(&cut), sizeof cut) + "abcd");
  Converted c = convert(f);
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.stats.truncated_bytes, 20u);

  RawFile g;
  g.block(1, {rec(1, raw::kMalloc, 0x1000, 8)});
  g.append_raw(std::string(16, 'x'));
  Converted d = convert(g);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find("offset 80: expected a record block"), std::string::npos) << d.error;
}

// Converting while the file grows gives the batch result, and never runs ahead of a thread that
// has announced itself but not yet written the records it holds.
TEST(RawConvert, StreamingWaitsForAnnouncedThreadsAndMatchesBatch) {
  RawFile f;
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 100), rec(2, raw::kMalloc, 0x2000, 50)});
  f.block(2, {});  // thread 2 announced: its records 3.. are still in its buffer
  f.block(1, {rec(5, raw::kFree, 0x1000)});
  const std::string path = f.write();
  RawStreamConverter stream(path);
  std::string error;
  ASSERT_TRUE(stream.advance(false, &error)) << error;
  EXPECT_EQ(stream.records(), 0u);  // thread 2 may still hold numbers below 1
  f.block(2, {rec(3, raw::kMalloc, 0x3000, 7), rec(4, raw::kFree, 0x2000)});
  raw::BlockHeader partial{raw::kBlockMagic, 1, 2, 1};  // being written: not read yet
  f.append_raw(std::string(reinterpret_cast<const char*>(&partial), sizeof partial));
  f.write();
  ASSERT_TRUE(stream.advance(false, &error)) << error;
  EXPECT_EQ(stream.records(), 4u);  // 1..4; 5 waits behind thread 2's empty buffer
  for (const RawRecord& r : {rec(6, raw::kFree, 0x3000), rec(7, raw::kMalloc, 0x4000, 9)})
    f.append_raw(std::string(reinterpret_cast<const char*>(&r), sizeof r));
  f.write();
  ASSERT_TRUE(stream.advance(true, &error)) << error;
  Trace streamed;
  RecordStats stats;
  stream.finish(&streamed, &stats);
  Converted batch = convert(f);
  ASSERT_TRUE(batch.ok) << batch.error;
  EXPECT_EQ(stats.records, 7u);
  EXPECT_EQ(stats.peak_live_bytes, batch.stats.peak_live_bytes);
  EXPECT_EQ(stats.peak_live_bytes, 157u);
  ASSERT_EQ(streamed.schedule.size(), batch.trace.schedule.size());
  for (size_t i = 0; i < streamed.schedule.size(); ++i) {
    EXPECT_EQ(streamed.schedule[i].thread, batch.trace.schedule[i].thread);
    EXPECT_EQ(streamed.schedule[i].count, batch.trace.schedule[i].count);
  }
  TraceError e;
  TraceSummary s;
  ASSERT_TRUE(check_trace(streamed, &s, &e)) << e.message();
  EXPECT_EQ(s.peak_live_bytes, stats.peak_live_bytes);
}

// Streaming to a TraceWriter (what `allocmark record` does) writes the file that the in-memory
// conversion would: same events in the same order, same peak, and the header's pid reaches the
// writer's opener before the first event.
TEST(RawConvert, StreamsToWriterLikeInMemory) {
  RawFile f;
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 100), rec(2, raw::kCalloc, 0x2000, 8, 4)});
  f.block(2, {});
  f.block(2, {rec(3, raw::kFree, 0x1000), rec(4, raw::kThreadExit, 0)});
  f.block(1, {rec(5, raw::kRealloc, 0x2000, 64, 0x2000), rec(6, raw::kFree, 0x2000)});
  const std::string path = f.write();
  const std::string out = f.dir() + "/streamed.amt";
  TraceWriter writer;
  uint32_t pid = 0;
  RawStreamConverter stream(path, [&](const raw::FileHeader& h, std::string* error) {
    pid = h.pid;
    TraceError e;
    if (writer.open(out, "{}", 3, &e)) return &writer;
    *error = e.message();
    return static_cast<TraceWriter*>(nullptr);
  });
  std::string error;
  ASSERT_TRUE(stream.advance(true, &error)) << error;
  EXPECT_EQ(pid, 4242u);
  RecordStats stats;
  stream.finish(nullptr, &stats);
  TraceError e;
  ASSERT_TRUE(writer.finish(&e)) << e.message();
  Converted batch = convert(f);
  ASSERT_TRUE(batch.ok) << batch.error;
  TraceSummary s;
  ASSERT_TRUE(check_trace_file(out, &s, &e)) << e.message();
  EXPECT_EQ(stats.events, batch.trace.event_count());
  EXPECT_EQ(s.peak_live_bytes, stats.peak_live_bytes);
  EXPECT_EQ(stats.trace_peak_live_bytes, stats.peak_live_bytes);
  EXPECT_EQ(stats.trace_threads, 2u);
  Trace back;
  ASSERT_TRUE(read_trace(out, &back, &e)) << e.message();
  ASSERT_EQ(back.threads.size(), batch.trace.threads.size());
  for (size_t t = 0; t < back.threads.size(); ++t) {
    ASSERT_EQ(back.threads[t].events.size(), batch.trace.threads[t].events.size());
    for (size_t i = 0; i < back.threads[t].events.size(); ++i)
      EXPECT_EQ(
          std::memcmp(&back.threads[t].events[i], &batch.trace.threads[t].events[i], sizeof(Event)),
          0);
  }
}

// The recording library marks its first failed write in the header: the conversion stops with
// an error naming the cause, even where the records so far convert.
TEST(RawConvert, FailedWriteInHeaderRefused) {
  RawFile f;
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 8)});
  const std::string path = f.write();
  RawStreamConverter stream(path);
  std::string error;
  ASSERT_TRUE(stream.advance(false, &error)) << error;
  EXPECT_EQ(stream.records(), 1u);
  const uint32_t err = ENOSPC;
  FILE* fp = std::fopen(path.c_str(), "r+b");
  std::fseek(fp, offsetof(raw::FileHeader, write_errno), SEEK_SET);
  std::fwrite(&err, sizeof err, 1, fp);
  std::fclose(fp);
  EXPECT_FALSE(stream.advance(true, &error));
  EXPECT_EQ(stream.write_errno(), static_cast<uint32_t>(ENOSPC));
  EXPECT_NE(error.find("could not write its records (No space left on device)"), std::string::npos)
      << error;
}

TEST(RawConvert, ListGroupsImagesByPid) {
  RawFile f;
  f.block(1, {rec(1, raw::kMalloc, 0x1000, 8)});
  f.write();
  std::vector<RawProcess> procs;
  std::string error;
  ASSERT_TRUE(list_raw_processes(f.dir(), &procs, &error)) << error;
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_EQ(procs[0].pid, 4242u);
  EXPECT_TRUE(procs[0].replaced.empty());
}

}  // namespace
}  // namespace allocmark
