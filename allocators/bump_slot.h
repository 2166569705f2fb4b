// The thread-local bump slot Bump and Arena share: a thread's cursor into its own block of one
// allocator instance, with the allocation fast path and the slow path's retry over it. Layer:
// allocators (leaf). Not part of the public contract: users include bump.h or arena.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "allocators/internal.h"

namespace allocmark {

// A thread's view of one allocator instance. Each allocator type keeps kBumpSlots of them per
// thread, direct-mapped by instance id, so a thread alternating between a few instances keeps a
// block in each; a collision only abandons a tail (never unsafe: owner ids are unique and never
// reused, and a new id from reset() invalidates every thread's slot at once).
struct BumpSlot {
  uint64_t owner;    // instance id the slot belongs to
  uintptr_t cursor;  // next free byte of the thread's block (0: no block)
  uintptr_t limit;   // end of the thread's block
  uintptr_t last;    // start of this thread's most recent block, 0 if none
};
static_assert(sizeof(BumpSlot) == 32, "two slots per cache line");
inline constexpr std::size_t kBumpSlots = 8;  // power of two

// The fast path of both allocators: owner compare, align-up (add, and), one bounds compare, two
// stores; with the caller's TLS slot load about 12 instructions, no atomic, no call. align 0
// means kDefaultAlign. Anything else (another instance's slot, no room, n == 0) returns slow(),
// which the caller keeps out of line.
template <typename Slow>
ALLOCMARK_ALWAYS_INLINE void* bump_allocate(BumpSlot& s, uint64_t id, std::size_t n,
                                            std::size_t align, Slow&& slow) noexcept {
  const uintptr_t mask = (align != 0 ? align : kDefaultAlign) - 1;
  const uintptr_t p = (s.cursor + mask) & ~mask;
  // n - 1 < limit - p  <=>  1 <= n <= limit - p (unsigned), so n == 0 also goes slow.
  if (s.owner == id && p <= s.limit && n - 1 < s.limit - p) [[likely]] {
    s.cursor = p + n;
    s.last = p;
    return reinterpret_cast<void*>(p);
  }
  return slow();
}

// The slow paths' first step: takes the slot over for instance `id` (evicting another instance's
// or a stale view) and retries the block there with n >= 1 and alignment mask `mask`, also
// catching a cursor that wraps. Null when the block has no room: the caller gets a new one.
inline void* bump_retry(BumpSlot& s, uint64_t id, std::size_t n, uintptr_t mask) noexcept {
  if (s.owner != id) s = BumpSlot{id, 0, 0, 0};
  const uintptr_t p = (s.cursor + mask) & ~mask;
  if (s.cursor != 0 && p >= s.cursor && p <= s.limit && n <= s.limit - p) {  // was n == 0
    s.cursor = p + n;
    s.last = p;
    return reinterpret_cast<void*>(p);
  }
  return nullptr;
}

}  // namespace allocmark
