// Readers of the worker's own resource use: RSS from /proc, CPU and faults from getrusage.
// Layer: harness. All reads are syscalls on pre-opened files: no allocation after construction.
#pragma once

#include <cstdint>

namespace allocmark {

class RssReader {
 public:
  RssReader();
  ~RssReader();
  uint64_t rss_bytes() const;  // resident set now (/proc/self/statm)
 private:
  int fd_ = -1;
  uint64_t page_ = 4096;
};

// Resets the kernel's peak-RSS mark (write "5" to /proc/self/clear_refs); false where the
// kernel refuses, in which case VmHWM also covers the time before the replay.
bool reset_peak_rss();
uint64_t peak_rss_bytes();  // VmHWM from /proc/self/status, 0 if unreadable

struct Usage {
  uint64_t user_ns = 0, sys_ns = 0;
  uint64_t minor_faults = 0, major_faults = 0;
  uint64_t voluntary_switches = 0, involuntary_switches = 0;
};
Usage process_usage();
Usage operator-(const Usage& a, const Usage& b);

}  // namespace allocmark
