// Small pieces shared by the in-house allocators: inlining markers, a spin lock, alignment math.
// Layer: allocators (leaf). Not part of the public contract; users include bump.h, arena.h, ...
#pragma once

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

// Fast paths are forced inline into the replay loop; slow paths are kept out of line and out of
// the hot text so the fast path stays a handful of instructions (snmalloc's convention).
#define ALLOCMARK_ALWAYS_INLINE [[gnu::always_inline]] inline
#define ALLOCMARK_SLOW [[gnu::noinline, gnu::cold]]
// The same for a lambda a fast path calls (written after its parameter list).
#define ALLOCMARK_LAMBDA_INLINE __attribute__((always_inline))

// Thread-local allocator state. `__thread` rather than `thread_local` because it forbids dynamic
// initialisation, so no TLS wrapper call is emitted; initial-exec makes each access one
// %fs-relative load even inside the preloaded malloc shims (costs static TLS space: < 1 KiB).
#define ALLOCMARK_THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ALLOCMARK_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define ALLOCMARK_TSAN 1
#endif

namespace allocmark {

inline constexpr std::size_t kDefaultAlign = alignof(std::max_align_t);  // 16 on x86-64

inline constexpr bool is_pow2(std::size_t x) noexcept { return x != 0 && (x & (x - 1)) == 0; }

inline constexpr uintptr_t align_up(uintptr_t x, std::size_t align) noexcept {
  return (x + align - 1) & ~(uintptr_t{align} - 1);
}

// Unique, never reused identity for an allocator instance's thread-local state. A new id
// invalidates every thread's cached state for that instance at once (used by reset()).
uint64_t next_instance_id() noexcept;

// Test-and-test-and-set lock for short slow-path sections. Chosen over std::mutex because the
// malloc shims take it before libc is fully initialised and inside fork handlers; it never
// allocates. Contended waiters yield so a preempted holder on 2 cores still progresses.
class SpinLock {
 public:
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) sched_yield();
#if defined(__x86_64__)
        else
          __builtin_ia32_pause();
#endif
      }
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class SpinGuard {
 public:
  explicit SpinGuard(SpinLock& l) noexcept : l_(l) { l_.lock(); }
  ~SpinGuard() { l_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace allocmark
