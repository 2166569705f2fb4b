// perf_event_open wrapper for the worker. Layer: harness.
#include "harness/worker/hw_counters.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace allocmark {
namespace {

constexpr uint64_t kConfigs[] = {PERF_COUNT_HW_CPU_CYCLES, PERF_COUNT_HW_INSTRUCTIONS,
                                 PERF_COUNT_HW_CACHE_MISSES, PERF_COUNT_HW_BRANCH_MISSES};
constexpr auto& kNames = HwCounterValues::kNames;

int open_counter(uint64_t config) {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_HARDWARE;
  attr.size = sizeof attr;
  attr.config = config;
  attr.disabled = 1;
  attr.inherit = 1;  // threads started later (the replay threads) count too, once joined
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

}  // namespace

HwCounters::HwCounters() {
  for (int i = 0; i < kCount; ++i) {
    fds_[i] = open_counter(kConfigs[i]);
    if (fds_[i] < 0) {
      why_ = std::string("perf_event_open(") + kNames[i] + "): " + strerror(errno);
      for (int j = 0; j < i; ++j) close(fds_[j]);
      for (int& fd : fds_) fd = -1;
      return;
    }
  }
  available_ = true;
}

HwCounters::~HwCounters() {
  for (int fd : fds_)
    if (fd >= 0) close(fd);
}

void HwCounters::start() {
  if (!available_) return;
  for (int fd : fds_) {
    ioctl(fd, PERF_EVENT_IOC_RESET, 0);
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  }
}

void HwCounters::stop() {
  if (!available_) return;
  for (int i = 0; i < kCount; ++i) {
    ioctl(fds_[i], PERF_EVENT_IOC_DISABLE, 0);
    if (read(fds_[i], &values_[i], sizeof values_[i]) != sizeof values_[i]) values_[i] = 0;
  }
}

HwCounterValues HwCounters::values() const {
  HwCounterValues out;
  if (available_) {
    std::array<uint64_t, kCount> v;
    for (int i = 0; i < kCount; ++i) v[i] = values_[i];
    out.values = v;
  } else {
    out.why_unavailable = why_;
  }
  return out;
}

}  // namespace allocmark
