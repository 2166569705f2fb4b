// Shared pieces of the generators: a portable seeded PRNG, size distributions, an event emitter
// that keeps the first builder error, and a round-robin driver for per-thread work. Layer:
// workloads.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/generator.h"
#include "workloads/trace_builder.h"

namespace allocmark::gen {

// xoshiro256** seeded through splitmix64. Written out here (not <random>) because the standard
// distributions are implementation-defined: a trace must be byte-identical on every machine.
// Cost: a handful of ALU ops per draw.
class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t stream = 0) {
    uint64_t x = seed ^ (stream * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull);
    for (uint64_t& word : s_) word = splitmix(x);
  }
  uint64_t next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) by multiply-shift (Lemire, without the rejection step: the bias is below
  // n / 2^64, irrelevant here, and skipping it keeps the draw count fixed). n must be > 0.
  uint64_t below(uint64_t n) noexcept {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [lo, hi], inclusive.
  uint64_t range(uint64_t lo, uint64_t hi) noexcept { return lo + below(hi - lo + 1); }
  // Uniform in [0, 1) with 53 bits. Only compare it: arithmetic on it may round differently
  // where the compiler fuses multiply-adds.
  double real() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // True with probability num/den.
  bool chance(uint64_t num, uint64_t den) noexcept { return below(den) < num; }

  // Log-uniform (power law with exponent -1) in [lo, hi]: as many 16..31 byte requests as
  // 1024..2047 ones. Built from integers only (an octave uniformly, then a uniform value inside
  // it) because libm's exp/log may differ in the last bit between machines. lo must be > 0.
  uint64_t log_uniform(uint64_t lo, uint64_t hi) noexcept {
    if (lo >= hi) return lo;
    const int lo_bits = std::bit_width(lo), hi_bits = std::bit_width(hi);
    const int octave = lo_bits + static_cast<int>(below(hi_bits - lo_bits + 1));
    const uint64_t first = std::max<uint64_t>(lo, 1ull << (octave - 1));
    const uint64_t last = std::min<uint64_t>(hi, (1ull << (octave - 1)) * 2 - 1);
    return range(first, last);
  }
  // Density proportional to 1/x^2 on [lo, hi] (glibc bench-malloc-thread), by inverting the CDF
  // x = 1 / (1/lo - u (1/lo - 1/(hi+1))) in 128-bit integers with u = k / 2^32: floating point
  // would differ between machines that fuse multiply-adds and those that do not. lo must be > 0.
  uint64_t inverse_square(uint64_t lo, uint64_t hi) noexcept {
    if (lo >= hi) return lo;
    using U128 = unsigned __int128;
    const U128 k = next() >> 32, top = static_cast<U128>(hi) + 1;
    const U128 num = (static_cast<U128>(lo) * top) << 32;
    const U128 den = (top << 32) - k * (top - lo);
    return clamp(static_cast<uint64_t>(num / den), lo, hi);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix(uint64_t& x) noexcept {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi) noexcept {
    return v < lo ? lo : (v > hi ? hi : v);
  }
  uint64_t s_[4];
};

// Guard against parameters that would run for hours: 2^34 events (17 G) take ~15 minutes to
// write at 20 M events per second. Generators stop early and report it.
inline constexpr uint64_t kMaxEvents = 1ull << 34;
// A trace built in memory takes 32 bytes per event: 256 Mi events is 8 GiB. Longer ones are
// written to a file as they come (generate_trace_file, `trace gen -o`).
inline constexpr uint64_t kMaxEventsInMemory = 256ull << 20;
// Largest single request a generator accepts (trace format allows 2^47; we stay far below).
inline constexpr uint64_t kMaxSize = 1ull << 40;
// Largest object the cache generators write into (access offsets are 32-bit in the format).
inline constexpr uint64_t kMaxAccessSize = 64 * 1024;
// Most trace threads a generator creates (each becomes an OS thread at replay).
inline constexpr uint64_t kMaxThreads = 1024;

// Thin wrapper over TraceBuilder for generators: allocation calls return the new object id, and
// the first failure (a generator bug, or the event cap) is kept while later calls become no-ops,
// so generator loops need no per-event error handling; they poll ok() once per outer step.
class Emitter {
 public:
  Emitter(TraceOutput* out, uint32_t threads) : out_(out), b_(out->writer) {
    for (uint32_t t = 0; t < threads; ++t) b_.thread(t);
    threads_ = threads;
    limit_ = out->writer ? kMaxEvents : kMaxEventsInMemory;
  }
  bool ok() const noexcept { return error_.empty(); }
  uint32_t threads() const noexcept { return threads_; }
  uint32_t add_thread() { return b_.thread(threads_++); }
  uint64_t events() const noexcept { return b_.events(); }

  uint32_t malloc(uint32_t t, uint64_t size) {
    const uint32_t obj = b_.new_object();
    if (room()) check(b_.malloc(t, obj, size));
    return obj;
  }
  uint32_t aligned(uint32_t t, uint64_t align, uint64_t size) {
    const uint32_t obj = b_.new_object();
    if (room()) check(b_.aligned_alloc(t, obj, align, size));
    return obj;
  }
  uint32_t calloc(uint32_t t, uint64_t nmemb, uint64_t elem) {
    const uint32_t obj = b_.new_object();
    if (room()) check(b_.calloc(t, obj, nmemb, elem));
    return obj;
  }
  uint32_t realloc_from_null(uint32_t t, uint64_t size) {
    const uint32_t obj = b_.new_object();
    if (room()) check(b_.realloc_from_null(t, obj, size));
    return obj;
  }
  void realloc(uint32_t t, uint32_t obj, uint64_t size) {
    if (room()) check(b_.realloc(t, obj, size));
  }
  void free(uint32_t t, uint32_t obj) {
    if (room()) check(b_.free(t, obj));
  }
  // Frees every occupied slot (kNoObject marks an empty one): the drain at a workload's end.
  void free_slots(uint32_t t, const std::vector<uint32_t>& slots) {
    for (uint32_t obj : slots)
      if (obj != kNoObject) free(t, obj);
  }
  void access(uint32_t t, uint32_t obj, uint64_t offset, uint64_t length) {
    if (room()) check(b_.access(t, obj, offset, length));
  }
  void phase_end(uint32_t t) {
    if (room()) check(b_.phase_end(t));
  }
  void thread_exit(uint32_t t) {
    if (room()) check(b_.thread_exit(t));
  }
  uint64_t size_of(uint32_t obj) const noexcept { return b_.live_size(obj); }
  bool is_live(uint32_t obj) const noexcept { return b_.is_live(obj); }

  // Moves the trace out (or declares its counts to the writer), or reports the first failure.
  bool finish(std::string* error) {
    if (!ok()) {
      *error = error_;
      return false;
    }
    out_->events = b_.events();
    out_->threads = b_.thread_count();
    out_->peak_live_bytes = b_.peak_live_bytes();
    if (out_->writer)
      out_->writer->declare(b_.thread_count(), b_.object_count());
    else
      *out_->trace = b_.finish();
    return true;
  }

 private:
  bool room() {
    if (!ok()) return false;
    if (b_.events() >= limit_) {
      error_ = "the parameters ask for more than " + std::to_string(limit_) + " events" +
               (out_->writer ? "; make the workload smaller"
                             : " in memory; write it to a file (allocmark trace gen -o FILE)");
      return false;
    }
    return true;
  }
  void check(bool fine) {
    if (!fine && ok()) error_ = "generator bug: " + b_.error();
  }
  TraceOutput* out_;
  TraceBuilder b_;
  std::string error_;
  uint32_t threads_ = 0;
  uint64_t limit_ = kMaxEventsInMemory;
};

// Runs `step(t)` for each thread in turn, `quantum` times per turn, until every thread's step
// has returned false (done). This fixes one global interleaving, so the schedule and the peak
// live bytes reflect threads that run concurrently rather than one after another.
template <typename Step>
void interleave(Emitter& e, uint32_t threads, uint32_t quantum, Step&& step) {
  std::vector<uint8_t> done(threads, 0);
  uint32_t remaining = threads;
  while (remaining > 0 && e.ok()) {
    for (uint32_t t = 0; t < threads; ++t) {
      if (done[t]) continue;
      for (uint32_t q = 0; q < quantum; ++q) {
        if (!step(t)) {
          done[t] = 1;
          --remaining;
          break;
        }
      }
    }
  }
}

// Parameter checks shared by generators; each returns false with a message naming the parameter.
inline bool fail(std::string* error, std::string message) {
  *error = std::move(message);
  return false;
}
inline bool check_params(const ParamReader& p, std::string* error) {
  return p.error().empty() || fail(error, p.error());
}
inline bool check_size_range(uint64_t lo, uint64_t hi, const char* lo_name, const char* hi_name,
                             std::string* error) {
  if (lo > hi)
    return fail(error, std::string("param '") + lo_name + "' (" + std::to_string(lo) +
                           ") must not exceed '" + hi_name + "' (" + std::to_string(hi) + ")");
  if (hi > kMaxSize)
    return fail(error, std::string("param '") + hi_name + "': " + std::to_string(hi) +
                           " is larger than the 1T limit");
  return true;
}
// Saturating arithmetic for event estimates, so absurd parameters fail fast instead of wrapping.
inline uint64_t sat_mul(uint64_t a, uint64_t b) noexcept {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
inline uint64_t sat_add(uint64_t a, uint64_t b) noexcept {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}
// Refuses before any work when the estimated event count is over the cap (building up to the
// cap first would cost a minute and gigabytes).
inline bool check_events(uint64_t estimate, std::string* error) {
  return estimate <= kMaxEvents ||
         fail(error, "the parameters ask for about " + std::to_string(estimate) +
                         " events, more than the limit of " + std::to_string(kMaxEvents) +
                         "; make the workload smaller");
}
inline bool check_positive(uint64_t v, const char* name, std::string* error) {
  return v > 0 || fail(error, std::string("param '") + name + "' must be at least 1");
}

// The parameters of the slot-replacement generators (alloc-test, glibc-thread, large-buffers),
// named in one place (the generator's list and the reader) and read and checked in one order so
// that their messages agree.
struct SlotParams {
  uint64_t steps, slots, min_size, max_size;
};
// A parameter's default and help, for lists whose names are fixed here.
struct ParamDefault {
  const char* value;
  const char* help;
};
inline std::vector<GeneratorParam> slot_param_list(ParamDefault steps, ParamDefault slots,
                                                   ParamDefault min_size, ParamDefault max_size) {
  return {{"steps", steps.value, steps.help},
          {"slots", slots.value, slots.help},
          {"min_size", min_size.value, min_size.help},
          {"max_size", max_size.value, max_size.help}};
}
inline bool read_slot_params(ParamReader& p, SlotParams* out, std::string* error) {
  *out = {p.u64("steps"), p.u64("slots"), p.u64("min_size"), p.u64("max_size")};
  return check_params(p, error) && check_positive(out->slots, "slots", error) &&
         check_positive(out->min_size, "min_size", error) &&
         check_size_range(out->min_size, out->max_size, "min_size", "max_size", error);
}

// One thread's working set of slots (kNoObject: empty), its own random stream and its step.
struct SlotThread {
  Rng rng;
  std::vector<uint32_t> slot;
  uint64_t step = 0;
};
inline std::vector<SlotThread> slot_threads(const GeneratorArgs& args, uint64_t slots) {
  std::vector<SlotThread> st;
  for (uint32_t t = 0; t < args.threads; ++t)
    st.push_back({Rng(args.seed, t), std::vector<uint32_t>(slots, kNoObject)});
  return st;
}
// Every thread gets sp.slots empty slots and its own stream, then runs `step(t, thread)` sp.steps
// times, 64 steps a turn, and finally frees whatever its slots still hold.
template <typename Step>
void run_slot_threads(Emitter& e, const GeneratorArgs& args, const SlotParams& sp, Step&& step) {
  std::vector<SlotThread> st = slot_threads(args, sp.slots);
  interleave(e, args.threads, 64, [&](uint32_t t) {
    SlotThread& s = st[t];
    if (s.step++ >= sp.steps) {
      e.free_slots(t, s.slot);
      return false;
    }
    step(t, s);
    return true;
  });
}

// One random stream per thread, stream t for thread t.
inline std::vector<Rng> thread_rngs(const GeneratorArgs& args) {
  std::vector<Rng> rng;
  for (uint32_t t = 0; t < args.threads; ++t) rng.emplace_back(args.seed, t);
  return rng;
}

// The parameters of the false-sharing generators (cache-thrash, cache-scratch), with their
// defaults, read and checked in one order. `extra_cycles` per thread count toward the event
// estimate (cache-scratch's handed-over object).
struct CacheParams {
  uint64_t iterations, size, writes;
};
inline std::vector<GeneratorParam> cache_param_list() {
  return {{"iterations", "100000", "allocate/write/free cycles per thread"},
          {"size", "8", "object size in bytes"},
          {"writes", "8", "one-byte write events per object"}};
}
inline bool read_cache_params(const GeneratorArgs& args, ParamReader& p, uint64_t extra_cycles,
                              CacheParams* out, std::string* error) {
  *out = {p.u64("iterations"), p.u64("size"), p.u64("writes")};
  const uint64_t cycles = sat_add(out->iterations, extra_cycles);
  return check_params(p, error) && check_positive(out->size, "size", error) &&
         check_size_range(out->size, out->size, "size", "size", error) &&
         (out->size <= kMaxAccessSize || fail(error, "param 'size' must be at most 64K")) &&
         check_events(sat_mul(args.threads, sat_mul(cycles, sat_add(out->writes, 2))), error);
}
// One cycle on thread t: allocate, write `writes` single bytes at random offsets (the repeated
// stores of the benchmarks' inner loops, the seed choosing which bytes), free.
inline void write_cycle(Emitter& e, Rng& rng, uint32_t t, const CacheParams& cp) {
  const uint32_t obj = e.malloc(t, cp.size);
  for (uint64_t w = 0; w < cp.writes; ++w) e.access(t, obj, rng.below(cp.size), 1);
  e.free(t, obj);
}

}  // namespace allocmark::gen
