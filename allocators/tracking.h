// Tracking: a debugging decorator over any allocator: counts, peak, size histogram, leak report,
// and detection of double free, invalid free and size mismatch. Layer: allocators (leaf).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "allocators/allocator.h"
#include "allocators/internal.h"
#include "allocators/options.h"

namespace allocmark {

struct TrackingOptions {
  static constexpr std::string_view kName = "track";
  bool print_errors = true;       // one line per error on stderr, as it happens
  bool abort_on_error = false;    // abort() after printing (to get a core at the bad free)
  std::size_t leaks_listed = 20;  // live blocks listed by the leak report

  static constexpr auto options_table() {
    using S = OptionSpec<TrackingOptions>;
    return std::array{
        S{.key = "print_errors",
          .kind = OptionKind::kBool,
          .flag = &TrackingOptions::print_errors,
          .help = "print each error to stderr"},
        S{.key = "abort_on_error",
          .kind = OptionKind::kBool,
          .flag = &TrackingOptions::abort_on_error,
          .help = "abort at the first error"},
        S{.key = "leaks_listed",
          .kind = OptionKind::kCount,
          .number = &TrackingOptions::leaks_listed,
          .help = "live blocks listed in the report"},
    };
  }
};

struct TrackingCounters {
  uint64_t allocations = 0;
  uint64_t frees = 0;
  uint64_t failed = 0;  // allocations the inner allocator refused (null)
  uint64_t live_blocks = 0;
  uint64_t live_bytes = 0;
  uint64_t peak_blocks = 0;
  uint64_t peak_bytes = 0;
  uint64_t double_frees = 0;
  uint64_t invalid_frees = 0;
  uint64_t size_mismatches = 0;          // size or alignment given to free differs from allocation
  std::array<uint64_t, 65> histogram{};  // [k]: requests with bit_width(size) == k
};

// The allocator-independent part: a table of live (and recently freed) blocks in memory mapped
// directly from the OS, so tracking can sit under a malloc shim without recursing.
// Thread-safe: one spin lock around every operation (tracking is for debugging, not speed).
class TrackingCore {
 public:
  static constexpr std::size_t kUnknownSize = SIZE_MAX;

  explicit TrackingCore(const TrackingOptions& options) : options_(options) {}
  ~TrackingCore();
  TrackingCore(const TrackingCore&) = delete;
  TrackingCore& operator=(const TrackingCore&) = delete;

  void on_allocate(void* p, std::size_t n, std::size_t align) noexcept;
  void on_failed() noexcept;
  // Checks a free of p claimed to be (n, align); n may be kUnknownSize. Returns true and the
  // recorded size and alignment when the block is live (it is then forgotten); false on a double
  // or invalid free, which is counted and reported and must not reach the inner allocator.
  bool on_free(void* p, std::size_t n, std::size_t align, std::size_t* real_n,
               std::size_t* real_align) noexcept;
  // Recorded size of a live block, or kUnknownSize.
  std::size_t size_of(const void* p) const noexcept;
  void forget_all() noexcept;  // after the inner allocator's reset()

  TrackingCounters counters() const noexcept;
  void lock() noexcept { lock_.lock(); }  // fork handlers
  void unlock() noexcept { lock_.unlock(); }
  // Writes the leak report (counters, histogram, up to leaks_listed live blocks) to fd.
  // Heap-free; safe at exit inside a malloc shim.
  void report(int fd) const noexcept;
  const TrackingOptions& options() const noexcept { return options_; }

 private:
  struct Entry {
    uintptr_t key;  // block address; 0 = empty slot
    uint64_t size;
    uint32_t align;
    uint32_t freed;  // 1: tombstone of a freed block (detects double free)
  };
  static_assert(sizeof(Entry) == 24);

  Entry* find_locked(uintptr_t key) const noexcept;
  bool grow_locked() noexcept;
  void error_locked(const char* what, const void* p, std::size_t n, std::size_t recorded) noexcept;

  TrackingOptions options_;
  mutable SpinLock lock_;
  Entry* table_ = nullptr;
  std::size_t capacity_ = 0;  // power of two
  std::size_t used_ = 0;      // live + tombstones
  TrackingCounters c_;
};

// Decorator: Tracking<Pool> is a Pool that checks every call. Forwards reallocate, reset,
// stats and thread_exit when the inner allocator has them. Thread-safe if A is. Errors never
// reach A: a double or invalid free is reported and dropped; a size mismatch is reported and
// the block is freed with its recorded size.
template <Allocator A>
class Tracking {
 public:
  template <class... Args>
  explicit Tracking(const TrackingOptions& options, Args&&... args)
      : core_(options), inner_(std::forward<Args>(args)...) {}
  Tracking() : core_(TrackingOptions{}) {}

  void* allocate(std::size_t n, std::size_t align) noexcept {
    void* p = inner_.allocate(n, align);
    if (p != nullptr) {
      core_.on_allocate(p, n, align);
    } else {
      core_.on_failed();
    }
    return p;
  }

  void deallocate(void* p, std::size_t n, std::size_t align) noexcept {
    if (p == nullptr) return;
    std::size_t rn, ra;
    if (core_.on_free(p, n, align, &rn, &ra)) inner_.deallocate(p, rn, ra);
  }

  // Free without size (malloc's free): the table knows it.
  void deallocate_unsized(void* p) noexcept { deallocate(p, TrackingCore::kUnknownSize, 0); }

  // Requested size of a live block (0 if unknown).
  std::size_t usable_size(const void* p) const noexcept {
    const std::size_t n = core_.size_of(p);
    return n == TrackingCore::kUnknownSize ? 0 : n;
  }

  void* reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept {
    if (p == nullptr) return allocate(n, align);
    std::size_t rn, ra;
    if (!core_.on_free(p, old_n, align, &rn, &ra)) return nullptr;
    void* q;
    if constexpr (Reallocating<A>) {
      q = inner_.reallocate(p, rn, n, ra);
    } else {
      q = inner_.allocate(n, ra);
      if (q != nullptr) {
        std::memcpy(q, p, rn < n ? rn : n);
        inner_.deallocate(p, rn, ra);
      }
    }
    if (q == nullptr) {
      core_.on_allocate(p, rn, ra);  // the old block stays live
      core_.on_failed();
      return nullptr;
    }
    core_.on_allocate(q, n, ra);
    return q;
  }

  // realloc() without the old size.
  void* reallocate_unsized(void* p, std::size_t n) noexcept {
    return reallocate(p, TrackingCore::kUnknownSize, n, 0);
  }

  // Fork handlers: hold every lock across fork() so the child does not inherit a held one.
  void lock_all() noexcept {
    core_.lock();
    if constexpr (requires { inner_.lock_all(); }) inner_.lock_all();
  }
  void unlock_all() noexcept {
    if constexpr (requires { inner_.unlock_all(); }) inner_.unlock_all();
    core_.unlock();
  }

  void reset() noexcept requires Resettable<A> {
    inner_.reset();
    core_.forget_all();
  }

  AllocatorStats stats() const noexcept {
    AllocatorStats st;
    if constexpr (HasStats<A>) st = inner_.stats();
    st.bytes_in_use = core_.counters().live_bytes;  // exact here: every block is recorded
    return st;
  }

  void thread_exit() noexcept {
    if constexpr (HasThreadExit<A>) inner_.thread_exit();
  }

  TrackingCounters counters() const noexcept { return core_.counters(); }
  void report(int fd) const noexcept { core_.report(fd); }
  A& inner() noexcept { return inner_; }

 private:
  TrackingCore core_;
  A inner_;
};

}  // namespace allocmark
