// The memory-over-time sampler. Layer: harness.
#include "harness/worker/timeline.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "harness/worker/replay.h"  // futex()

namespace allocmark {

constexpr size_t kTimelineCapacity = 2048;
constexpr uint64_t kSleepThresholdNs = 50000;

TimelineSampler::TimelineSampler(const RssReader& rss, LiveFn live, const void* ctx)
    : rss_(rss), live_(live), ctx_(ctx) {
  buf_.resize(kTimelineCapacity);
  thread_ = std::thread([this] { loop(); });
}

TimelineSampler::~TimelineSampler() {
  if (thread_.joinable()) stop();
}

void TimelineSampler::start() {
  t0_ = now_ns();
  take(t0_);  // the sampler thread is still parked: no race on the buffer
  state_.store(1, std::memory_order_release);
  futex(&state_, FUTEX_WAKE_PRIVATE, 1);
}

void TimelineSampler::stop() {
  state_.store(2, std::memory_order_release);
  futex(&state_, FUTEX_WAKE_PRIVATE, 1);
  thread_.join();
  take(now_ns());
}

void TimelineSampler::take(uint64_t now) {
  if (used_ == buf_.size()) {
    for (size_t i = 0; i < used_ / 2; ++i) buf_[i] = buf_[2 * i + 1];
    used_ /= 2;
    interval_ns_ *= 2;
  }
  const uint64_t rss = rss_.rss_bytes();
  if (rss > peak_rss_) peak_rss_ = rss;
  buf_[used_++] = {now - t0_, rss, live_(ctx_)};
}

void TimelineSampler::loop() {
  while (state_.load(std::memory_order_acquire) == 0) futex(&state_, FUTEX_WAIT_PRIVATE, 0);
  while (state_.load(std::memory_order_acquire) == 1) {
    const uint64_t now = now_ns();
    take(now);
    if (interval_ns_ < kSleepThresholdNs) {
      // Short intervals (a sampler on a core of its own): wait by polling the clock, since a
      // timed futex wait rounds up to the kernel's 50 us timer slack.
      const uint64_t next = now + interval_ns_;
      while (now_ns() < next && state_.load(std::memory_order_relaxed) == 1) __builtin_ia32_pause();
      continue;
    }
    timespec ts{0, static_cast<long>(interval_ns_)};
    while (ts.tv_nsec >= 1000000000) {
      ts.tv_sec += 1;
      ts.tv_nsec -= 1000000000;
    }
    // Sleep on the futex so stop() wakes us at once.
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, 1, &ts, nullptr,
            0);
  }
}

Timeline TimelineSampler::timeline() const {
  Timeline out;
  out.t_ns.reserve(used_);
  out.rss.reserve(used_);
  out.live.reserve(used_);
  for (size_t i = 0; i < used_; ++i) {
    out.t_ns.push_back(buf_[i].t_ns);
    out.rss.push_back(buf_[i].rss);
    out.live.push_back(buf_[i].live);
  }
  return out;
}

}  // namespace allocmark
