// NullAllocator: does no allocation work at all, so a replay against it measures the harness.
// Layer: allocators (leaf). Header-only. Its memory is shared and must never be relied on.
#pragma once

#include <cstddef>

#include "allocators/allocator.h"

namespace allocmark {

// Every allocate() returns a pointer into one static 4 KiB scratch page shared by all callers
// and all threads: writes from different "blocks" overlap, contents are garbage, and sizes
// above one page are served anyway (writing past 4 KiB is out of bounds, so the replay must
// clamp its touch policy to kScratchSize; see harness). deallocate() does nothing. The point is
// rule 4 of ARCHITECTURE.md: the harness reports its own cost as a run against this allocator.
// Thread-safe (it has no state). Never fails, never calls the OS. Cost: a constant load.
class NullAllocator {
 public:
  static constexpr std::size_t kScratchSize = 4096;

  void* allocate(std::size_t /*n*/, std::size_t /*align*/) noexcept { return scratch_; }
  void deallocate(void* /*p*/, std::size_t /*n*/, std::size_t /*align*/) noexcept {}
  void* reallocate(void* /*p*/, std::size_t, std::size_t, std::size_t) noexcept { return scratch_; }
  void reset() noexcept {}
  AllocatorStats stats() const noexcept { return {}; }

 private:
  // Page alignment meets every alignment a trace asks for up to 4 KiB; larger requests get a
  // page-aligned pointer (the null allocator is never checked). Not 64 KiB: an over-aligned
  // static makes the linker emit a 64 KiB-aligned LOAD segment that valgrind (3.19) cannot map
  // to the binary, which hides every symbol of the worker from callgrind.
  alignas(4096) static inline unsigned char scratch_[kScratchSize];
};

static_assert(Allocator<NullAllocator> && Reallocating<NullAllocator> &&
              Resettable<NullAllocator> && HasStats<NullAllocator>);

}  // namespace allocmark
