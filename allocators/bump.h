// Bump allocator: one contiguous region, a cursor that only moves forward, no per-block metadata.
// Layer: allocators (leaf). Thread-safe; lock-free; the fast path uses no atomic at all.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "allocators/allocator.h"
#include "allocators/bump_slot.h"
#include "allocators/internal.h"
#include "allocators/options.h"

namespace allocmark {

struct BumpOptions {
  static constexpr std::string_view kName = "bump";
  // Bytes of address space reserved when no buffer is given (MAP_NORESERVE: pages are committed
  // only as they are touched, so this may be far above physical memory).
  std::size_t capacity = std::size_t{1} << 30;
  // Bytes a thread claims from the shared cursor at once (one CAS), then bumps privately.
  // Larger: fewer atomics; smaller: less tail left unused per thread.
  std::size_t block_size = std::size_t{64} << 10;
  // On reset(), give the touched pages back to the OS (madvise) instead of keeping them warm.
  bool decommit_on_reset = false;

  static constexpr auto options_table() {
    using S = OptionSpec<BumpOptions>;
    return std::array{
        S{.key = "capacity",
          .kind = OptionKind::kSize,
          .number = &BumpOptions::capacity,
          .min = 4096,
          .help = "bytes of address space to reserve"},
        S{.key = "block_size",
          .kind = OptionKind::kSize,
          .number = &BumpOptions::block_size,
          .min = 256,
          .max = std::size_t{1} << 30,
          .power_of_two = true,
          .help = "per-thread sub-block claimed with one atomic"},
        S{.key = "decommit_on_reset",
          .kind = OptionKind::kBool,
          .flag = &BumpOptions::decommit_on_reset,
          .help = "madvise touched pages away on reset"},
    };
  }
};

// Thread-safety: allocate, deallocate and reallocate may be called from any number of threads.
// reset() and the destructor must not run concurrently with any other call on the same Bump.
// Failure: a request that does not fit (or whose size + alignment overflows) returns null and
// leaves the allocator usable; nothing here throws or aborts.
//
// Threads: each thread claims a sub-block of `block_size` bytes with one compare-and-swap on the
// shared top (~20 cycles uncontended, paid once per block_size bytes) and bumps inside it with
// plain loads and stores. When a thread's sub-block ends exactly at the shared top (always so
// with one thread), the next claim extends it, so a single thread wastes nothing; with several
// threads each may leave up to one sub-block tail unused.
class Bump {
 public:
  Bump() : Bump(BumpOptions{}) {}
  // Reserves options.capacity bytes from the OS. If that fails, capacity() is 0 and every
  // allocation returns null.
  explicit Bump(const BumpOptions& options);
  // Embedded use: serves from [buffer, buffer + size) and never calls the OS (no mmap, no
  // madvise). The buffer must outlive the Bump. options.capacity is ignored.
  Bump(void* buffer, std::size_t size, const BumpOptions& options = {});
  ~Bump();
  Bump(const Bump&) = delete;
  Bump& operator=(const Bump&) = delete;

  // Fast path: TLS slot load, then bump_allocate (bump_slot.h): about 12 instructions, no
  // atomic, no call. align 0 means kDefaultAlign; smaller powers of two pack tighter. Zero-size
  // requests take the slow path and get a unique block.
  ALLOCMARK_ALWAYS_INLINE void* allocate(std::size_t n, std::size_t align) noexcept {
    return bump_allocate(slots_[id_ & (kSlots - 1)], id_, n, align,
                         [&]() ALLOCMARK_LAMBDA_INLINE { return allocate_slow(n, align); });
  }

  // Rolls back if `p` is this thread's most recent block; otherwise the bytes stay used until
  // reset(). Cost: the same TLS slot load and two compares.
  ALLOCMARK_ALWAYS_INLINE void deallocate(void* p, std::size_t /*n*/, std::size_t) noexcept {
    Slot& s = slots_[id_ & (kSlots - 1)];
    if (s.owner == id_ && reinterpret_cast<uintptr_t>(p) == s.last && s.last != 0) {
      s.cursor = s.last;
      s.last = 0;
    }
  }

  // Grows or shrinks this thread's most recent block in place when the region allows (also by
  // extending the sub-block at the shared top); otherwise allocates, copies min(old_n, n) and
  // rolls nothing back. Null (old block untouched) when the region is exhausted.
  void* reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept;

  // Forgets every block at once; keeps the pages committed unless decommit_on_reset.
  void reset() noexcept;

  AllocatorStats stats() const noexcept;
  const BumpOptions& options() const noexcept { return options_; }
  std::size_t capacity() const noexcept { return end_ - base_; }
  bool owns(const void* p) const noexcept {
    const auto a = reinterpret_cast<uintptr_t>(p);
    return a >= base_ && a < end_;
  }
  // Bytes claimed from the region so far (all threads, including unused sub-block tails).
  std::size_t used() const noexcept { return top_.load(std::memory_order_relaxed) - base_; }

 private:
  // A thread's view of one Bump (its sub-block), direct-mapped by instance id.
  using Slot = BumpSlot;
  static constexpr std::size_t kSlots = kBumpSlots;
  static ALLOCMARK_THREAD_LOCAL Slot slots_[kSlots];

  ALLOCMARK_SLOW void* allocate_slow(std::size_t n, std::size_t align) noexcept;
  // Makes room for [cursor-aligned block of n bytes] in slot `s`; returns the block or null.
  void* claim(Slot& s, std::size_t n, uintptr_t mask) noexcept;

  BumpOptions options_;
  uint64_t id_;  // read by every fast path; written only by reset()
  uintptr_t base_ = 0;
  uintptr_t end_ = 0;
  bool owns_region_ = false;
  alignas(64) std::atomic<uintptr_t> top_{0};  // own line: the only shared written word
  uint64_t os_maps_ = 0;
  uint64_t os_unmaps_ = 0;
};

static_assert(Allocator<Bump> && Reallocating<Bump> && Resettable<Bump> && HasStats<Bump>);

}  // namespace allocmark
