// Memory over time: a sampler thread that records RSS and the replay's live bytes together.
// Layer: harness. Its thread and buffer exist before the baseline RSS is read.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "base/mmap_allocator.h"
#include "harness/worker/proc_stats.h"

namespace allocmark {

// RSS and the replay's live bytes over time, one entry per sample.
struct Timeline {
  std::vector<uint64_t> t_ns, rss;
  std::vector<int64_t> live;
};

// Samples every `interval` (100 us, or 10 us for a sampler with a core to itself); when its
// buffer fills it drops every other sample and doubles the interval, so a run of 10 ms (1 ms
// with a core of its own) or more ends with 100 to 2048 samples spread evenly. Cost: one pread of
// /proc/self/statm per sample (2-3 microseconds on the sampler's own thread).
class TimelineSampler {
 public:
  using LiveFn = int64_t (*)(const void* ctx);
  TimelineSampler(const RssReader& rss, LiveFn live, const void* ctx);
  ~TimelineSampler();

  std::thread& thread() { return thread_; }  // for CPU placement before start()
  // Before start(): the first sampling interval. Below 50 us the sampler polls the clock instead
  // of sleeping, which costs a core: only for a sampler that has one to itself.
  void set_initial_interval(uint64_t ns) { interval_ns_ = ns; }
  void start();  // t = 0 is now
  void stop();   // takes a last sample and joins
  uint64_t peak_rss() const { return peak_rss_; }
  size_t samples() const { return used_; }
  Timeline timeline() const;

 private:
  struct Sample {
    uint64_t t_ns;
    uint64_t rss;
    int64_t live;
  };
  void loop();
  void take(uint64_t now);

  const RssReader& rss_;
  LiveFn live_;
  const void* ctx_;
  MmapVector<Sample> buf_;
  size_t used_ = 0;
  uint64_t t0_ = 0;
  uint64_t interval_ns_ = 100000;
  uint64_t peak_rss_ = 0;
  std::atomic<uint32_t> state_{0};  // 0 waiting, 1 running, 2 stop
  std::thread thread_;
};

}  // namespace allocmark
