// Tracking: a debugging decorator over any allocator: counts, peak, size histogram, a leak report
// grouped by call site, and detection of double free, invalid free and size mismatch.
// Layer: allocators (leaf).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "allocators/allocator.h"
#include "allocators/call_stack.h"
#include "allocators/internal.h"
#include "allocators/leak_scan.h"
#include "allocators/options.h"

namespace allocmark {

struct TrackingOptions {
  static constexpr std::string_view kName = "track";
  bool print_errors = true;       // one line per error on stderr, as it happens
  bool abort_on_error = false;    // abort() after printing (to get a core at the bad free)
  std::size_t leaks_listed = 20;  // call sites listed per report section, largest first
  std::size_t stack_depth = 8;    // return addresses kept per call site; 0: no call sites
  bool free_sites = true;         // remember where each block was freed (double-free lines)
  bool file_lines = true;         // file:line in the leak report via libdw, when installed
  bool reachability = true;       // split the report into lost and still reachable blocks

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
          .help = "allocation call sites listed in each section of the leak report (lost, "
                  "still reachable), largest first"},
        S{.key = "stack_depth",
          .kind = OptionKind::kCount,
          .number = &TrackingOptions::stack_depth,
          .max = kMaxStackDepth,
          .help = "return addresses kept per call site (0: no call sites; each stack costs ~0.1 "
                  "us with libunwind, ~1 us without)"},
        S{.key = "free_sites",
          .kind = OptionKind::kBool,
          .flag = &TrackingOptions::free_sites,
          .help = "capture a stack at every free too, to say where a double-freed block was "
                  "first freed (a second capture per block)"},
        S{.key = "file_lines",
          .kind = OptionKind::kBool,
          .flag = &TrackingOptions::file_lines,
          .help = "look up file:line for the leak report with libdw (loaded at exit, if "
                  "installed)"},
        S{.key = "reachability",
          .kind = OptionKind::kBool,
          .flag = &TrackingOptions::reachability,
          .help = "scan the program's memory at report time to list lost blocks (no pointer "
                  "to them found) before still reachable ones"},
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

// The allocator-independent part: a table of live (and recently freed) blocks and a table of
// call sites (stacks deduplicated by hash, each with its live bytes and blocks), both in memory
// mapped directly from the OS, so tracking can sit under a malloc shim without recursing.
// Thread-safe: one spin lock around every table operation (tracking is for debugging, not
// speed); stacks are captured before the lock and symbolised after it.
class TrackingCore {
 public:
  static constexpr std::size_t kUnknownSize = SIZE_MAX;

  // Live blocks of one allocation call site (stack depth 0: blocks recorded without a stack).
  struct SiteTotal {
    uint64_t bytes = 0;
    uint64_t blocks = 0;
    CallStack stack;
  };

  explicit TrackingCore(const TrackingOptions& options) : options_(options) {}
  ~TrackingCore();
  TrackingCore(const TrackingCore&) = delete;
  TrackingCore& operator=(const TrackingCore&) = delete;

  // The calling thread's stack, options().stack_depth frames, leading frames inside own_code
  // dropped. Heap-free and lock-free; ~0.1 us at depth 8 with libunwind, ~1 us without (see
  // capture_call_stack in call_stack.h).
  void capture(CallStack* out) const noexcept {
    capture_call_stack(out, options_.stack_depth, own_code_);
  }
  // Frames at the top of a stack inside `r` are the allocator's own and are not part of a call
  // site (the malloc shims pass their own code). Not thread-safe: set before the first call.
  void set_own_code(CodeRange r) noexcept { own_code_ = r; }

  // Records a block allocated from `site` (null or depth 0: unknown site).
  void on_allocate(void* p, std::size_t n, std::size_t align,
                   const CallStack* site = nullptr) noexcept;
  void on_failed() noexcept;
  // Checks a free of p claimed to be (n, align) made from `site` (may be null: then an error
  // line captures the stack itself, and a later double free cannot say where this free was);
  // n may be kUnknownSize. Returns true and the recorded size and alignment when the block is
  // live (it is then forgotten); false on a double or invalid free, which is counted and
  // reported and must not reach the inner allocator. Error lines name where the block was
  // allocated and first freed; they are written after the lock is released.
  bool on_free(void* p, std::size_t n, std::size_t align, std::size_t* real_n,
               std::size_t* real_align, const CallStack* site = nullptr) noexcept;
  // Recorded size of a live block, or kUnknownSize.
  std::size_t size_of(const void* p) const noexcept;
  void forget_all() noexcept;  // after the inner allocator's reset()

  TrackingCounters counters() const noexcept;
  void lock() noexcept { lock_.lock(); }  // fork handlers
  void unlock() noexcept { lock_.unlock(); }
  // Which live blocks sites() counts: all, or after a conservative scan of the program's memory
  // (leak_scan.h) those no pointer reaches any more (lost) or the others (reachable).
  enum class Reach : uint8_t { kLive, kLost, kReachable };

  // Live blocks grouped by allocation call site, most bytes first (ties: more blocks, then the
  // site seen first). Writes up to `max` sites to `out` and the sum of the others to *rest
  // (when non-null; its stack is empty). Returns how many sites hold such blocks; for kLost and
  // kReachable 0 with *scanned = false when the memory could not be scanned. Heap-free: sorts
  // and scans in scratch memory mapped for the call. Thread-safe; the lock is held throughout
  // (a scan reads the whole program: milliseconds per MiB of live data and roots).
  std::size_t sites(Reach which, SiteTotal* out, std::size_t max, SiteTotal* rest,
                    bool* scanned = nullptr) const noexcept;
  // Writes the leak report to fd: lost blocks by call site (up to leaks_listed, most bytes
  // first), still reachable ones likewise (or, with reachability off or impossible, all live
  // blocks), then the totals, errors and size histogram. The tables are read under the lock
  // into mapped scratch memory; names are looked up after it is released, with dladdr and
  // (file_lines) libdw, which use the heap: inside a malloc shim those calls are tracked like
  // any other and cannot deadlock on this lock. Safe at exit inside a malloc shim.
  void report(int fd) const noexcept;
  const TrackingOptions& options() const noexcept { return options_; }

 private:
  // One block. Size and alignment share a word so the two site ids fit in the old 24 bytes
  // (the table is the tracker's main memory cost: 24 bytes / 0.7 load per block).
  struct Entry {
    uintptr_t key;              // block address; 0 = empty slot
    uint64_t size : 56;         // requested bytes (a block cannot reach 2^56)
    uint64_t align_log2p1 : 7;  // 0: alignment 0 (the default); else log2(alignment) + 1
    uint64_t freed : 1;         // tombstone of a freed block (detects double free)
    uint32_t site;              // allocation call site, index into sites_ (0: unknown)
    uint32_t free_site;         // tombstones: where it was freed (0: unknown)
  };
  static_assert(sizeof(Entry) == 24);

  // One call site: a stack and the live blocks allocated from it. Sites are never removed
  // (ids stay valid); site 0 collects blocks recorded without a stack.
  struct Site {
    uint64_t hash;
    uint64_t live_bytes;
    uint64_t live_blocks;
    CallStack stack;
  };
  static_assert(sizeof(Site) == 96);

  // What an error line needs, copied under the lock and printed after it.
  struct ErrorInfo {
    const char* what = nullptr;
    const void* p = nullptr;
    std::size_t n = kUnknownSize;         // size given to free, if any
    std::size_t recorded = kUnknownSize;  // size recorded at allocation, if known
    CallStack allocated;                  // depth 0: unknown
    CallStack freed;                      // double free: the first free
  };

  Entry* find_locked(uintptr_t key) const noexcept;
  bool grow_locked() noexcept;
  uint32_t intern_locked(const CallStack* s) noexcept;
  bool grow_sites_locked() noexcept;
  void fill_error_locked(ErrorInfo* e, const char* what, const void* p, std::size_t n,
                         const Entry* entry) const noexcept;
  void print_error(const ErrorInfo& e, const CallStack* here) const noexcept;
  // lost[2 * id], lost[2 * id + 1]: bytes and blocks of site id that no root reaches.
  bool classify_locked(const RootSet& roots, uint64_t* lost) const noexcept;
  std::size_t select_locked(Reach which, const uint64_t* lost, SiteTotal* out, std::size_t max,
                            SiteTotal* rest) const noexcept;

  TrackingOptions options_;
  CodeRange own_code_;
  mutable SpinLock lock_;
  Entry* table_ = nullptr;
  std::size_t capacity_ = 0;  // power of two
  std::size_t used_ = 0;      // live + tombstones
  Site* sites_ = nullptr;     // [0, site_count_) in use; site 0 reserved
  std::size_t site_count_ = 0;
  std::size_t site_capacity_ = 0;
  uint32_t* site_index_ = nullptr;  // open addressing over site ids by hash; 0 = empty
  std::size_t site_index_capacity_ = 0;
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
      CallStack site;  // captured before the lock: other threads keep allocating meanwhile
      core_.capture(&site);
      core_.on_allocate(p, n, align, &site);
    } else {
      core_.on_failed();
    }
    return p;
  }

  void deallocate(void* p, std::size_t n, std::size_t align) noexcept {
    if (p == nullptr) return;
    CallStack site;
    const bool with_site = core_.options().free_sites;
    if (with_site) core_.capture(&site);
    std::size_t rn, ra;
    if (core_.on_free(p, n, align, &rn, &ra, with_site ? &site : nullptr)) {
      inner_.deallocate(p, rn, ra);
    }
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
    // One stack for both halves: the new block belongs to the code that resized it.
    CallStack site;
    core_.capture(&site);
    std::size_t rn, ra;
    if (!core_.on_free(p, old_n, align, &rn, &ra, &site)) return nullptr;
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
      core_.on_allocate(p, rn, ra, &site);  // the old block stays live, now the caller's
      core_.on_failed();
      return nullptr;
    }
    core_.on_allocate(q, n, ra, &site);
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
  TrackingCore& core() noexcept { return core_; }
  const TrackingCore& core() const noexcept { return core_; }
  A& inner() noexcept { return inner_; }

 private:
  TrackingCore core_;
  A inner_;
};

}  // namespace allocmark
