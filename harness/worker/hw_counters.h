// Hardware counters (cycles, instructions, cache and branch misses) via perf_event_open, for the
// whole worker including threads it starts. Layer: harness (worker side). Where the kernel or the
// machine refuses (containers, VMs without a PMU, perf_event_paranoid), they are cleanly absent.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace allocmark {

// What the counters read: values in kNames order where they opened, else why not.
struct HwCounterValues {
  static constexpr std::array<const char*, 4> kNames = {"cycles", "instructions", "cache_misses",
                                                         "branch_misses"};
  std::optional<std::array<uint64_t, 4>> values;
  std::string why_unavailable;
};

class HwCounters {
 public:
  HwCounters();  // opens the counters disabled; never fails, see available()
  ~HwCounters();
  HwCounters(const HwCounters&) = delete;
  HwCounters& operator=(const HwCounters&) = delete;

  bool available() const { return available_; }
  const std::string& why_unavailable() const { return why_; }
  void start();
  void stop();
  HwCounterValues values() const;

 private:
  static constexpr int kCount = 4;
  int fds_[kCount] = {-1, -1, -1, -1};
  uint64_t values_[kCount] = {};
  bool available_ = false;
  std::string why_;
};

}  // namespace allocmark
