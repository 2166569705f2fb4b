// Replay engine tests: cross-thread order kept in threaded mode, oom recorded, phase resets.
// Layer: harness tests.
#include "harness/worker/replay.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <set>

#include "harness/worker/malloc_api.h"
#include "workloads/trace_builder.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

// Records which blocks are live and counts frees of blocks it never handed out (which is what a
// replay that lost the cross-thread order would do).
class CheckingAllocator {
 public:
  void* allocate(std::size_t n, std::size_t) noexcept {
    void* p = std::malloc(n ? n : 1);
    std::lock_guard<std::mutex> g(mu_);
    live_.insert(p);
    return p;
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept {
    std::lock_guard<std::mutex> g(mu_);
    if (!live_.erase(p)) ++bad_frees_;
    std::free(p);
  }
  size_t bad_frees() const { return bad_frees_; }
  size_t live() const { return live_.size(); }

 private:
  std::mutex mu_;
  std::set<void*> live_;
  size_t bad_frees_ = 0;
};

// Producer threads allocate, a consumer thread frees everything: every free is cross-thread.
Trace producer_consumer(uint32_t producers, uint32_t per_producer) {
  TraceBuilder b;
  std::vector<uint32_t> t;
  for (uint32_t i = 0; i <= producers; ++i) t.push_back(b.thread(i));
  std::vector<uint32_t> objs;
  for (uint32_t round = 0; round < per_producer; ++round) {
    for (uint32_t p = 0; p < producers; ++p) {
      const uint32_t o = b.new_object();
      EXPECT_TRUE(b.malloc(t[p], o, 16 + round % 100));
      objs.push_back(o);
    }
    if (round % 8 == 7) {
      for (uint32_t o : objs) EXPECT_TRUE(b.free(t[producers], o));
      objs.clear();
    }
  }
  for (uint32_t o : objs) EXPECT_TRUE(b.free(t[producers], o));
  return b.finish();
}

TEST(Replay, ThreadedModeKeepsCrossThreadOrder) {
  Trace trace = producer_consumer(3, 4000);
  TraceSummary s;
  TraceError err;
  ASSERT_TRUE(check_trace(trace, &s, &err));
  ASSERT_EQ(s.cross_thread_frees, 12000u);
  mark_dependency_targets(trace);
  CheckingAllocator alloc;
  ReplayConfig config;
  config.mode = ReplayMode::kThreads;
  Replayer<CheckingAllocator> r(alloc, trace, config);
  r.run();
  EXPECT_FALSE(r.failure().failed);
  EXPECT_EQ(alloc.bad_frees(), 0u);
  EXPECT_EQ(alloc.live(), 0u);
  EXPECT_EQ(r.events_done(), trace.event_count());
  EXPECT_EQ(r.live_bytes(), 0);
}

TEST(Replay, SerialModeFollowsSchedule) {
  Trace trace = producer_consumer(2, 1000);
  TraceSummary s;
  TraceError err;
  ASSERT_TRUE(check_trace(trace, &s, &err));
  CheckingAllocator alloc;
  ReplayConfig config;
  config.mode = ReplayMode::kSerial;
  Replayer<CheckingAllocator> r(alloc, trace, config);
  r.run();
  EXPECT_EQ(alloc.bad_frees(), 0u);
  EXPECT_EQ(r.events_done(), trace.event_count());
}

struct FailingAllocator {
  int left = 100;
  void* allocate(std::size_t n, std::size_t) noexcept {
    return --left < 0 ? nullptr : std::malloc(n ? n : 1);
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { std::free(p); }
};

TEST(Replay, NullFromAllocatorIsRecordedAsOom) {
  Trace trace = producer_consumer(1, 1000);
  TraceSummary s;
  TraceError err;
  ASSERT_TRUE(check_trace(trace, &s, &err));
  mark_dependency_targets(trace);
  for (ReplayMode mode : {ReplayMode::kSerial, ReplayMode::kThreads}) {
    FailingAllocator alloc;
    ReplayConfig config;
    config.mode = mode;
    Replayer<FailingAllocator> r(alloc, trace, config);
    r.run();  // must return even though the consumer waits on events that never run
    ASSERT_TRUE(r.failure().failed);
    EXPECT_STREQ(r.failure().status, "oom");
    EXPECT_NE(std::string(r.failure().detail).find("returned null"), std::string::npos);
    EXPECT_LT(r.events_done(), trace.event_count());
    r.drain();
  }
}

struct ResettableAllocator : MallocApi {
  int resets = 0;
  void reset() noexcept { ++resets; }
};

TEST(Replay, PhaseEndResetsOnlyWhenSafe) {
  TraceBuilder b;
  const uint32_t t = b.thread(0);
  for (int phase = 0; phase < 3; ++phase) {
    for (int i = 0; i < 10; ++i) b.malloc(t, b.new_object(), 32);
    b.phase_end(t);
  }
  Trace trace = b.finish();
  EXPECT_TRUE(phase_ends_leave_heap_empty(trace, ReplayMode::kSerial));
  TraceBuilder b2;
  const uint32_t t2 = b2.thread(0);
  b2.malloc(t2, b2.new_object(), 8);  // long-lived, allocated before the phase...
  b2.phase_end(t2);                   // ...so it is a phase object and freed: still safe
  b2.malloc(t2, b2.new_object(), 8);
  Trace trace2 = b2.finish();
  EXPECT_TRUE(phase_ends_leave_heap_empty(trace2, ReplayMode::kSerial));
  TraceBuilder b3;
  const uint32_t x = b3.thread(0), y = b3.thread(1);
  b3.malloc(y, b3.new_object(), 8);
  b3.phase_end(x);  // another thread's object is live
  Trace trace3 = b3.finish();
  EXPECT_FALSE(phase_ends_leave_heap_empty(trace3, ReplayMode::kSerial));
}

}  // namespace
}  // namespace allocmark
