// The replay engine: runs a decoded trace against one allocator, templated so in-house fast
// paths inline. Layer: harness (uses allocators/ concepts and workloads/ model).
//
// Two modes. `serial`: one OS thread follows the recorded schedule. `threads`: one OS thread per
// trace thread; an event with a dependency blocks (futex) until the event it names has run, so
// cross-thread order is kept without spinning (real traces have hundreds of threads, we have 2
// cores). All replay memory (object table, latency samples) is mmap'd before the baseline RSS.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "allocators/allocator.h"
#include "base/clock.h"
#include "base/mmap_allocator.h"
#include "harness/worker/block_checker.h"
#include "harness/worker/call_clock.h"
#include "harness/worker/latency.h"
#include "workloads/trace.h"

namespace allocmark {

enum class TouchPolicy : uint8_t {
  kNone,   // never write allocated memory
  kFirst,  // one write to the first cache line
  kPages,  // first cache line and one write per page (default: memory becomes resident)
  kFull,   // write every byte (memset)
};
bool parse_touch_policy(const std::string& text, TouchPolicy* out);
const char* touch_policy_name(TouchPolicy p);

enum class ReplayMode : uint8_t { kSerial, kThreads };

struct ReplayConfig {
  ReplayMode mode = ReplayMode::kSerial;
  TouchPolicy touch = TouchPolicy::kPages;
  uint32_t latency_period = 61;   // sample one event in this many (prime: avoids aliasing)
  size_t touch_limit = SIZE_MAX;  // clamp for allocators with fake memory (null)
  bool check = false;             // verify every block (BlockChecker); not a timed run
  bool pin = true;                // one-thread replays: pin to a CPU (harness/cpu_pinning.h)
  // In-call time: the allocator call of one event in this many is bracketed by two reads of
  // `call_clock` (1 = every event but the latency-sampled ones; 0 = off). See harness/README.md.
  uint32_t in_call_period = 1;
  // Latency samples reserved per thread for this many events (0: the thread's event count).
  // A streamed trace (harness/worker/stream_replay.h) holds no events up front.
  uint64_t expected_events = 0;
  CallClock call_clock;  // default: clock_gettime, nothing subtracted (make_call_clock sets it)
};

// Where a replay stopped early.
// Fixed buffers: an allocator that returns null may keep doing so, so recording the failure
// must not allocate.
struct ReplayFailure {
  bool failed = false;
  char status[16] = "";   // "oom"
  char detail[384] = "";  // holds BlockChecker::problem() whole
};

// Per-object slot of the replay table: 16 bytes, so a 10M-object trace needs 160 MB of table.
struct Slot {
  void* ptr;
  uint64_t size;
};
static_assert(sizeof(Slot) == 16);

// Per-thread counters, each on its own cache line; written by the owner only, read by the
// sampler thread (relaxed: a timeline sample may be one event stale, never torn).
struct alignas(64) ThreadCounters {
  std::atomic<uint32_t> progress{0};  // events done, published for dependency targets (futex word)
  std::atomic<uint32_t> waiters{0};
  std::atomic<int64_t> live_bytes{0};
  std::atomic<uint64_t> events_done{0};
  // In-call time: owner-written once per range, read after the replay.
  uint64_t in_call_ticks = 0;  // sum of the timed calls' clock readings (pair cost included)
  uint64_t in_call_timed = 0;  // events whose call was timed
  uint32_t in_call_countdown = 1;
};
static_assert(sizeof(ThreadCounters) == 64);

// memset that skips zero lengths. glibc's memset takes ~125 ns for n == 0 on the reference
// Xeon (AVX-512, ERMS, FSRM; 2 ns for n == 1: /tmp-style loop over a function pointer, 10^7
// calls), and the replay asks for zero bytes often: calloc emulated for the null allocator
// (touch limit 0) made mstress's "harness" row 35 ns per event. One well-predicted branch.
inline void fill_bytes(void* p, int value, uint64_t n) {
  if (n) std::memset(p, value, n);
}

inline long futex(std::atomic<uint32_t>* addr, int op, uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, nullptr, nullptr, 0);
}

// Marks events that other threads wait for, so only those publish progress (a seq_cst store and
// a waiter check cost ~20 cycles; most events are nobody's dependency).
void mark_dependency_targets(Trace& trace);
inline constexpr uint32_t kReservedIsTarget = 1;

// How often the allocator call is in-call timed by default (harness/README.md, "Replay"). Every
// call (1) where the in-call time is what ranks the replay: threaded, with more trace threads
// than cores, whose wall time measures thread hand-offs. Elsewhere wall time ranks, and timing
// every call would add a read pair's throughput cost (~25-30 ns with rdtsc on the reference
// machine, as much as glibc's whole event) to it: one call in kInCallSampledPeriod is timed
// (apart from the latency period) and the sum scaled. The period stretches with the thread's
// length, from 59 up to 509, to keep ~2,000 timed calls: on the Xeon a timed call costs ~120 ns
// of throughput, so one in 59 added 2 ns per event, 40 % of the null replay of churn (1.2 M
// events: 4.8 -> 3.0 ns/event without it), while a short trace needs the samples (mstress, 60 K
// events, read in-call above wall time at one in 509: a few slow callocs, scaled up).
inline constexpr uint32_t kInCallSampledPeriod = 59;
inline constexpr uint32_t kInCallLongPeriod = 509;
inline constexpr uint64_t kInCallTimedCalls = 2000;
inline uint32_t in_call_period_for(ReplayMode mode, size_t trace_threads, unsigned cores,
                                   uint64_t longest_thread_events = 0) {
  if (mode == ReplayMode::kThreads && cores > 0 && trace_threads > cores) return 1;
  const uint64_t stretched = longest_thread_events / kInCallTimedCalls;
  if (stretched <= kInCallSampledPeriod) return kInCallSampledPeriod;
  return static_cast<uint32_t>(std::min<uint64_t>(stretched | 1, kInCallLongPeriod));
}

template <class A>
class Replayer {
 public:
  Replayer(A& alloc, Trace& trace, const ReplayConfig& config)
      : alloc_(alloc), trace_(trace), config_(config) {
    if (config.check) checker_ = std::make_unique<BlockChecker>();
    slots_.resize(trace.object_count);
    std::memset(slots_.data(), 0, slots_.size() * sizeof(Slot));  // resident before baseline
    counters_.reset(trace.threads.size());
    latency_.reset(trace.threads.size());
    for (size_t t = 0; t < trace.threads.size(); ++t) {
      const uint64_t expected =
          config.expected_events ? config.expected_events : trace.threads[t].events.size();
      latency_[t].reserve_for(expected / config.latency_period + 1);
      // Resident before the baseline: samples written during the replay are not heap growth.
      std::memset(latency_[t].samples.data(), 0, latency_[t].samples.size() * sizeof(uint64_t));
      latency_[t].countdown = 1 + static_cast<uint32_t>((t * 7919) % config.latency_period);
      if (config.in_call_period > 1)
        counters_[t].in_call_countdown =
            1 + static_cast<uint32_t>((t * 104729) % config.in_call_period);
    }
  }

  // Threaded mode: call prepare() before reading the baseline RSS (it starts the threads).
  void prepare() {
    if (config_.mode == ReplayMode::kThreads && threads_.empty()) start_threads();
  }

  // Runs the whole trace; returns wall nanoseconds of the timed region. Not inlined, so
  // `valgrind --tool=callgrind --toggle-collect='allocmark::Replayer<A>::run()'` counts the
  // replay alone (bench/replay_instructions.sh).
  [[gnu::noinline]] uint64_t run() {
    return config_.mode == ReplayMode::kSerial ? run_serial() : run_threads();
  }

  // Streamed serial replay (harness/worker/stream_replay.h): one decoded chunk in recorded
  // order, its object ids already mapped to slots below slot_count(). Returns the chunk's wall
  // nanoseconds; *ok false when an allocator call failed (failure() says which).
  [[gnu::noinline]] uint64_t run_chunk(const Event* events, const MmapVector<ScheduleRun>& runs,
                                       bool* ok) {
    const uint64_t t0 = now_ns();
    *ok = true;
    for (const ScheduleRun& run : runs) {
      const uint64_t first = counters_[run.thread].events_done.load(std::memory_order_relaxed);
      if (!run_events(run.thread, events, first, run.count)) {
        *ok = false;
        break;
      }
      events += run.count;
    }
    return now_ns() - t0;
  }
  size_t slot_count() const { return slots_.size(); }
  // Grows the slot table to n entries, new ones resident and empty (between chunks, untimed).
  void ensure_slots(size_t n) {
    if (n <= slots_.size()) return;
    const size_t old = slots_.size();
    slots_.resize(n);
    std::memset(slots_.data() + old, 0, (n - old) * sizeof(Slot));
  }

  // Frees every object still live (after timing), so "memory given back" can be measured.
  void drain() {
    for (Slot& s : slots_) {
      if (s.ptr) {
        alloc_.deallocate(s.ptr, s.size & kSizeMask, align_of(s.size));
        s.ptr = nullptr;
      }
    }
  }

  const ReplayFailure& failure() const { return failure_; }
  const MmapArray<ThreadCounters>& counters() const { return counters_; }
  const MmapArray<LatencyRecorder>& latency() const { return latency_; }
  uint64_t resets() const { return resets_; }
  uint64_t events_done() const {
    uint64_t n = 0;
    for (const auto& c : counters_) n += c.events_done.load(std::memory_order_relaxed);
    return n;
  }
  // In-call time over all threads, in ns: per thread, the timed calls' readings less one read
  // pair's cost each (floored at 0), scaled by events done / events timed to stand for every
  // event. `timed` counts the events whose call was timed.
  struct InCall {
    double ns = 0;
    uint64_t timed = 0;
  };
  InCall in_call() const {
    InCall out;
    const CallClock& clock = config_.call_clock;
    for (const auto& c : counters_) {
      const uint64_t done = c.events_done.load(std::memory_order_relaxed);
      out.timed += c.in_call_timed;
      if (!c.in_call_timed) continue;
      const double ticks = static_cast<double>(c.in_call_ticks) -
                           static_cast<double>(c.in_call_timed) * clock.pair_ticks;
      out.ns += std::max(0.0, ticks) * clock.ns_per_tick * static_cast<double>(done) /
                static_cast<double>(c.in_call_timed);
    }
    return out;
  }
  int64_t live_bytes() const {
    int64_t n = 0;
    for (const auto& c : counters_) n += c.live_bytes.load(std::memory_order_relaxed);
    return n;
  }

 private:
  // The slot keeps the alignment exponent in the top byte of size (sizes are < 2^47).
  static constexpr uint64_t kSizeMask = (1ull << 56) - 1;
  static size_t align_of(uint64_t packed) {
    const unsigned lg = static_cast<unsigned>(packed >> 56);
    return lg ? size_t{1} << lg : 0;
  }

  template <TouchPolicy kTouch>
  [[gnu::always_inline]] void touch(void* p, uint64_t size) {
    if constexpr (kTouch == TouchPolicy::kNone) return;
    if (size > config_.touch_limit) size = config_.touch_limit;
    auto* c = static_cast<unsigned char*>(p);
    switch (kTouch) {
      case TouchPolicy::kNone:
        return;
      case TouchPolicy::kFirst:
        if (size) c[0] = 1;
        return;
      case TouchPolicy::kPages:
        if (!size) return;
        c[0] = 1;
        for (uint64_t off = 4096 - (reinterpret_cast<uintptr_t>(c) & 4095); off < size; off += 4096)
          c[off] = 1;
        return;
      case TouchPolicy::kFull:
        fill_bytes(c, 1, size);
        return;
    }
  }

  [[gnu::noinline, gnu::cold]] void fail_oom(uint32_t t, uint64_t i, const Event& e) {
    counters_[t].events_done.store(i, std::memory_order_relaxed);  // this thread got this far
    if (aborted_.exchange(true)) return;
    failure_.failed = true;
    std::snprintf(failure_.status, sizeof failure_.status, "oom");
    std::snprintf(failure_.detail, sizeof failure_.detail,
                  "%s(%llu) returned null at thread %u event %llu after %llu events", op_name(e.op),
                  static_cast<unsigned long long>(e.size), t, static_cast<unsigned long long>(i),
                  static_cast<unsigned long long>(events_done()));
    wake_all();
  }

  [[gnu::noinline, gnu::cold]] void fail_invalid() {
    if (aborted_.exchange(true)) return;
    failure_.failed = true;
    std::snprintf(failure_.status, sizeof failure_.status, "invalid");
    std::snprintf(failure_.detail, sizeof failure_.detail, "%s", checker_->problem());
    wake_all();
  }

  void wake_all() {
    for (auto& c : counters_) {
      c.progress.fetch_add(0, std::memory_order_seq_cst);
      futex(&c.progress, FUTEX_WAKE_PRIVATE, INT32_MAX);
    }
  }

  // Blocks until thread `dt` has run event `di`. Spins first, then sleeps on the futex. With no
  // more replay threads than cores the other thread is running, so a longer spin (a few
  // microseconds) saves the futex round trip (~5-10 us); with more threads than cores spinning
  // would steal the core the awaited thread needs, so it is kept short.
  [[gnu::noinline]] bool wait_for(uint32_t dt, uint32_t di) {
    ThreadCounters& c = counters_[dt];
    for (uint32_t spin = 0; spin < spin_limit_; ++spin) {
      if (c.progress.load(std::memory_order_acquire) > di) return true;
      __builtin_ia32_pause();
    }
    for (;;) {
      if (aborted_.load(std::memory_order_relaxed)) return false;
      c.waiters.fetch_add(1, std::memory_order_seq_cst);
      const uint32_t seen = c.progress.load(std::memory_order_seq_cst);
      if (seen <= di && !aborted_.load(std::memory_order_relaxed))
        futex(&c.progress, FUTEX_WAIT_PRIVATE, seen);
      c.waiters.fetch_sub(1, std::memory_order_relaxed);
      if (c.progress.load(std::memory_order_acquire) > di) return true;
    }
  }

  [[gnu::always_inline]] void publish(ThreadCounters& c, uint32_t done) {
    c.progress.store(done, std::memory_order_seq_cst);
    if (c.waiters.load(std::memory_order_seq_cst))
      futex(&c.progress, FUTEX_WAKE_PRIVATE, INT32_MAX);
  }

  // One event. Returns false when the allocator failed (oom recorded).
  // kTouch and kCheck are template parameters so the common run (pages, no check) carries no
  // per-event tests for them: the replay loop of the null allocator is ~33 instructions per
  // event (callgrind, see bench/README.md), most of it the switch and the slot bookkeeping.
  // Runs f() (an allocator call); with kTime, adds its clock reading to `ticks`.
  template <bool kTime, class F>
  [[gnu::always_inline]] auto timed(uint64_t& ticks, F&& f) {
    if constexpr (kTime) {
      const uint64_t t0 = config_.call_clock.read();
      auto r = f();
      ticks += std::min(config_.call_clock.read() - t0, config_.call_clock.cap_ticks);
      return r;
    } else {
      return f();
    }
  }

  template <TouchPolicy kTouch, bool kCheck, bool kTime = false>
  [[gnu::always_inline]] bool apply(Slot* slots, uint32_t t, uint64_t i, const Event& e,
                                    ThreadCounters& c, uint64_t& ticks) {
    Slot& s = slots[e.obj == kNoObject ? 0 : e.obj];
    switch (e.op) {
      case Op::kMalloc:
      case Op::kCalloc:
      case Op::kAlignedAlloc: {
        const size_t align = e.align_log2 ? size_t{1} << e.align_log2 : 0;
        // In-call time covers what the trace's call costs with this allocator: a calloc
        // emulated by allocate + memset includes the memset.
        void* p = timed<kTime>(ticks, [&] {
          void* q;
          if constexpr (requires { alloc_.calloc(size_t{}, size_t{}); }) {
            q = e.op == Op::kCalloc ? alloc_.calloc(e.aux, e.aux ? e.size / e.aux : 0)
                                    : alloc_.allocate(e.size, align);
          } else {
            q = alloc_.allocate(e.size, align);
            if (q && e.op == Op::kCalloc)
              fill_bytes(q, 0, std::min<uint64_t>(e.size, config_.touch_limit));
          }
          return q;
        });
        if (!p && e.size) return fail_oom(t, i, e), false;
        if constexpr (kCheck) {
          if (p && !checker_->on_allocate(t, i, e, p, e.size, align, e.op == Op::kCalloc))
            return fail_invalid(), false;
        } else {
          // calloc'd blocks too: the program writes into them like into malloc'd ones. Left
          // untouched, an allocator that hands out fresh zero pages (jemalloc's calloc) skipped
          // the page faults the program pays when it writes, and led mstress by that alone.
          touch<kTouch>(p, e.size);
        }
        s.ptr = p;
        s.size = e.size | (uint64_t{e.align_log2} << 56);
        c.live_bytes.store(c.live_bytes.load(std::memory_order_relaxed) + e.size,
                           std::memory_order_relaxed);
        return true;
      }
      case Op::kRealloc: {
        const uint64_t old = (e.flags & kFlagFromNull) ? 0 : s.size & kSizeMask;
        void* old_ptr = (e.flags & kFlagFromNull) ? nullptr : s.ptr;
        // The block keeps the alignment it was allocated with: sized free needs it (a pool
        // may pick the class by size and alignment), and so does the allocator's realloc.
        const uint64_t align_bits = (e.flags & kFlagFromNull) ? 0 : s.size & ~kSizeMask;
        const size_t align = align_of(align_bits);
        if constexpr (kCheck) {
          if (old_ptr && !checker_->on_release(t, i, e, old_ptr, old)) return fail_invalid(), false;
        }
        // An emulated realloc (allocate, copy, free) is timed whole, copy included.
        void* p = timed<kTime>(ticks, [&] {
          void* q;
          if constexpr (Reallocating<A>) {
            q = alloc_.reallocate(old_ptr, old, e.size, align);
          } else {
            q = alloc_.allocate(e.size, align);
            if (q && old_ptr) {
              std::memcpy(q, old_ptr,
                          std::min<uint64_t>(std::min(old, e.size), config_.touch_limit));
              alloc_.deallocate(old_ptr, old, align);
            }
          }
          return q;
        });
        if (!p && e.size) return fail_oom(t, i, e), false;
        if constexpr (kCheck) {
          const bool ok = old_ptr ? checker_->on_reallocate(t, i, e, p, old, e.size)
                                  : checker_->on_allocate(t, i, e, p, e.size, align, false);
          if (!ok) return fail_invalid(), false;
        } else if (e.size > old && old < config_.touch_limit) {
          touch<kTouch>(static_cast<char*>(p) + old,
                        std::min<uint64_t>(e.size, config_.touch_limit) - old);
        }
        s.ptr = p;
        s.size = e.size | align_bits;
        c.live_bytes.store(c.live_bytes.load(std::memory_order_relaxed) + e.size - old,
                           std::memory_order_relaxed);
        return true;
      }
      case Op::kFree:
        if constexpr (kCheck) {
          if (!checker_->on_release(t, i, e, s.ptr, s.size & kSizeMask))
            return fail_invalid(), false;
        }
        if constexpr (Resettable<A>) {
          // Arena-style allocators release phase objects in bulk at kPhaseEnd.
          if ((e.flags & kFlagPhaseFree) && phase_reset_ok_) {
            s.ptr = nullptr;
            c.live_bytes.store(c.live_bytes.load(std::memory_order_relaxed) - e.size,
                               std::memory_order_relaxed);
            return true;
          }
        }
        timed<kTime>(ticks, [&] {
          alloc_.deallocate(s.ptr, s.size & kSizeMask, align_of(s.size));
          return 0;
        });
        s.ptr = nullptr;
        c.live_bytes.store(c.live_bytes.load(std::memory_order_relaxed) - e.size,
                           std::memory_order_relaxed);
        return true;
      case Op::kAccess:
        // Writes the bytes the trace names (clamped for allocators with fake memory); a check
        // run keeps the fill pattern instead.
        if (!kCheck && e.aux < config_.touch_limit)
          fill_bytes(static_cast<char*>(s.ptr) + e.aux, static_cast<int>(i),
                     std::min<uint64_t>(e.size, config_.touch_limit - e.aux));
        return true;
      case Op::kPhaseEnd:
        if constexpr (Resettable<A>) {
          if (phase_reset_ok_) {
            timed<kTime>(ticks, [&] {
              alloc_.reset();
              return 0;
            });
            ++resets_;
          }
        }
        return true;
      case Op::kThreadExit:
        if constexpr (HasThreadExit<A>) {
          if (config_.mode == ReplayMode::kThreads)
            timed<kTime>(ticks, [&] {
              alloc_.thread_exit();
              return 0;
            });
        }
        return true;
    }
    return true;
  }

  // Runs events [from, to) of thread t. Latency is sampled every `latency_period` events.
  // In-call timing is off for a check run (not a timed run) and with in_call_period 0.
  bool run_range(uint32_t t, uint64_t from, uint64_t to) {
    return run_events(t, trace_.threads[t].events.data() + from, from, to - from);
  }

  // Runs `count` events of thread t from `events`, the first being the thread's event `first`
  // (in memory: inside the thread's stream; streamed: inside a decoded chunk).
  bool run_events(uint32_t t, const Event* events, uint64_t first, uint64_t count) {
    if (config_.check) return run_as<TouchPolicy::kNone, true, false>(t, events, first, count);
    if (config_.in_call_period == 0) return run_touch<false>(t, events, first, count);
    return run_touch<true>(t, events, first, count);
  }

  template <bool kInCall>
  bool run_touch(uint32_t t, const Event* events, uint64_t first, uint64_t count) {
    switch (config_.touch) {
      case TouchPolicy::kNone:
        return run_as<TouchPolicy::kNone, false, kInCall>(t, events, first, count);
      case TouchPolicy::kFirst:
        return run_as<TouchPolicy::kFirst, false, kInCall>(t, events, first, count);
      case TouchPolicy::kPages:
        return run_as<TouchPolicy::kPages, false, kInCall>(t, events, first, count);
      case TouchPolicy::kFull:
        return run_as<TouchPolicy::kFull, false, kInCall>(t, events, first, count);
    }
    return false;
  }

  template <TouchPolicy kTouch, bool kCheck, bool kInCall>
  bool run_as(uint32_t t, const Event* events, uint64_t first, uint64_t count) {
    Slot* slots = slots_.data();  // a local: stores through slots cannot reload it
    ThreadCounters& c = counters_[t];
    LatencyRecorder& lat = latency_[t];
    uint32_t countdown = lat.countdown;
    uint32_t call_countdown = c.in_call_countdown;
    uint64_t ticks = 0, timed_calls = 0;
    // Indexed by the event's index in its thread (failures and dependency targets use it); the
    // compiler folds `events - first` into one base, as when it indexed the whole stream.
    const uint64_t last = first + count;
    for (uint64_t i = first; i < last; ++i) {
      const Event& e = events[i - first];
      if (e.flags & kFlagHasDep) {
        if (config_.mode == ReplayMode::kThreads && !wait_for(e.dep_thread, e.dep_index))
          return false;
      }
      bool ok;
      if (--countdown == 0) [[unlikely]] {
        countdown = config_.latency_period;
        // Not in-call timed: its clock reads would land inside the latency sample.
        const uint64_t t0 = now_ns();
        ok = apply<kTouch, kCheck>(slots, t, i, e, c, ticks);
        lat.record(e.op, now_ns() - t0);
      } else if (kInCall && --call_countdown == 0) {
        call_countdown = config_.in_call_period;
        ++timed_calls;
        ok = apply<kTouch, kCheck, kInCall>(slots, t, i, e, c, ticks);
      } else {
        ok = apply<kTouch, kCheck>(slots, t, i, e, c, ticks);
      }
      if (!ok) return false;
      if (e.reserved & kReservedIsTarget) publish(c, static_cast<uint32_t>(i + 1));
    }
    // Once per range, not per event: only the serial round robin and failure reports read it,
    // and both run on this thread or after it.
    c.events_done.store(first + count, std::memory_order_relaxed);
    lat.countdown = countdown;
    if constexpr (kInCall) {
      c.in_call_ticks += ticks;
      c.in_call_timed += timed_calls;
      c.in_call_countdown = call_countdown;
    }
    return true;
  }

  uint64_t run_serial() {
    const uint64_t t0 = now_ns();
    if (!trace_.schedule.empty()) {
      MmapVector<uint64_t> done(trace_.threads.size(), 0);
      for (const auto& run : trace_.schedule) {
        if (!run_range(run.thread, done[run.thread], done[run.thread] + run.count)) break;
        done[run.thread] += run.count;
      }
    } else {
      // No recorded order: a dependency-respecting round robin (validated at load).
      MmapVector<uint64_t> done(trace_.threads.size(), 0);
      bool progress = true;
      while (progress) {
        progress = false;
        for (uint32_t t = 0; t < trace_.threads.size(); ++t) {
          const auto& ev = trace_.threads[t].events;
          uint64_t end = done[t];
          while (end < ev.size()) {
            const Event& e = ev[end];
            if ((e.flags & kFlagHasDep) &&
                counters_[e.dep_thread].events_done.load(std::memory_order_relaxed) <= e.dep_index)
              break;
            if (!run_range(t, end, end + 1)) return now_ns() - t0;
            ++end;
          }
          if (end > done[t]) progress = true;
          done[t] = end;
        }
      }
    }
    return now_ns() - t0;
  }

  // Threaded mode starts every replay thread here, parked at a gate, so their stacks, TLS and
  // the allocator's per-thread set-up exist before the baseline RSS is read; run() opens it.
  void start_threads() {
    const size_t n = trace_.threads.size();
    spin_limit_ = n <= std::max(1u, std::thread::hardware_concurrency()) ? 4096 : 64;
    threads_.reserve(n);
    for (uint32_t t = 0; t < n; ++t) {
      threads_.emplace_back([this, t] {
        ready_.fetch_add(1);
        while (gate_.load(std::memory_order_acquire) == 0) futex(&gate_, FUTEX_WAIT_PRIVATE, 0);
        if (!run_range(t, 0, trace_.threads[t].events.size())) {
          aborted_.store(true);
          wake_all();
        }
        // Release waiters of this thread for good (they may wait on events never published
        // because an earlier failure stopped us).
        publish(counters_[t], 0xffffffffu);
      });
    }
    while (ready_.load() < n) std::this_thread::yield();
  }

  uint64_t run_threads() {
    if (threads_.empty()) start_threads();
    const uint64_t t0 = now_ns();
    gate_.store(1, std::memory_order_release);
    futex(&gate_, FUTEX_WAKE_PRIVATE, INT32_MAX);
    for (auto& th : threads_) th.join();
    const uint64_t wall = now_ns() - t0;
    threads_.clear();
    return wall;
  }

  A& alloc_;
  Trace& trace_;
  ReplayConfig config_;
  MmapVector<Slot> slots_;
  MmapArray<ThreadCounters> counters_;
  MmapArray<LatencyRecorder> latency_;
  std::atomic<bool> aborted_{false};
  uint32_t spin_limit_ = 64;
  std::vector<std::thread> threads_;
  std::atomic<uint32_t> gate_{0};
  std::atomic<uint32_t> ready_{0};
  ReplayFailure failure_;
  std::unique_ptr<BlockChecker> checker_;
  uint64_t resets_ = 0;

 public:
  // Bulk release is only safe when a phase end leaves nothing else live (the allocator's reset
  // frees everything): TraceSummary::phase_ends_empty, from the trace's check, before timing.
  bool phase_reset_ok_ = false;
};

}  // namespace allocmark
