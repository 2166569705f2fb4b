// RSS of a whole process tree over time, read from /proc while the program runs: the program's
// memory curve and its peak, the same timeline fields as a replay cell. Layer: harness (program).
//
// The tree is found from the root through /proc/PID/task/TID/children (every thread's children),
// so a child started by any thread counts; RSS is the sum of the members' resident pages
// (statm), shared pages counted once per process as `ps` would. Cost per sample: three small
// /proc reads per process of the tree plus one directory listing, about 60 us of CPU measured
// for a one-process program (python3): at the 10 ms interval program cells use, 0.6 % of one
// core, taken by the parent (sampler_cpu_ns in the result line says how much). Long runs are
// thinned (every other point dropped and the interval doubled) so a timeline never exceeds
// kMaxPoints points.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace allocmark {

class TreeSampler {
 public:
  static constexpr size_t kMaxPoints = 2000;

  // Samples the tree of *root (0 until the child exists) every interval_s until stop().
  TreeSampler(const std::atomic<pid_t>* root, double interval_s);
  ~TreeSampler();
  TreeSampler(const TreeSampler&) = delete;
  TreeSampler& operator=(const TreeSampler&) = delete;

  void stop();  // joins the thread; idempotent

  uint64_t peak_rss_bytes() const { return peak_; }
  size_t samples() const { return samples_; }
  size_t max_processes() const { return max_processes_; }
  uint64_t cpu_ns() const { return cpu_ns_; }                  // the sampler thread's own CPU time
  const std::vector<uint64_t>& t_ns() const { return t_ns_; }  // since the first sample
  const std::vector<uint64_t>& rss() const { return rss_; }

 private:
  void loop();
  void record(uint64_t t, uint64_t bytes);

  const std::atomic<pid_t>* root_;
  uint64_t interval_ns_;
  std::mutex mutex_;  // with wake_: stop() ends the sleep between samples at once
  std::condition_variable wake_;
  bool stop_ = false;
  uint64_t peak_ = 0, cpu_ns_ = 0;
  size_t samples_ = 0, max_processes_ = 0;
  std::vector<uint64_t> t_ns_, rss_;
  std::thread thread_;
};

// Resident bytes of the tree rooted at `root` now, and how many processes it has.
uint64_t tree_rss_bytes(pid_t root, size_t* processes);

}  // namespace allocmark
