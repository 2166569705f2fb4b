// Bump allocator slow paths: claiming sub-blocks from the shared top, realloc, reset.
// Layer: allocators (leaf). No heap use: also the engine of the bump malloc shim.
#include "allocators/bump.h"

#include <cstring>

#include "allocators/os.h"

namespace allocmark {

ALLOCMARK_THREAD_LOCAL Bump::Slot Bump::slots_[Bump::kSlots];

Bump::Bump(const BumpOptions& options) : options_(options), id_(next_instance_id()) {
  void* region = os::reserve(options_.capacity, 4096);
  if (region != nullptr) {
    base_ = reinterpret_cast<uintptr_t>(region);
    end_ = base_ + options_.capacity;
    owns_region_ = true;
    os_maps_ = 1;
  }
  top_.store(base_, std::memory_order_relaxed);
}

Bump::Bump(void* buffer, std::size_t size, const BumpOptions& options)
    : options_(options), id_(next_instance_id()) {
  const auto start = reinterpret_cast<uintptr_t>(buffer);
  const uintptr_t aligned = align_up(start, kDefaultAlign);
  if (buffer != nullptr && size > aligned - start) {
    base_ = aligned;
    end_ = start + size;
  }
  options_.capacity = end_ - base_;
  top_.store(base_, std::memory_order_relaxed);
}

Bump::~Bump() {
  if (owns_region_) os::release(reinterpret_cast<void*>(base_), end_ - base_);
}

void* Bump::allocate_slow(std::size_t n, std::size_t align) noexcept {
  if (n == 0) n = 1;  // a unique address per request, like malloc(0)
  const uintptr_t mask = (align != 0 ? align : kDefaultAlign) - 1;
  Slot& s = slots_[id_ & (kSlots - 1)];
  if (void* p = bump_retry(s, id_, n, mask)) return p;
  return claim(s, n, mask);
}

void* Bump::claim(Slot& s, std::size_t n, uintptr_t mask) noexcept {
  // Relaxed is enough: top_ hands out disjoint address ranges and publishes no data.
  uintptr_t old = top_.load(std::memory_order_relaxed);
  for (;;) {
    // If our sub-block ends at the shared top, grow it instead of starting a new one.
    const bool contiguous = s.limit != 0 && s.limit == old;
    const uintptr_t start = contiguous ? s.cursor : old;
    const uintptr_t p = (start + mask) & ~mask;
    if (p < start || p > end_ || n > end_ - p) return nullptr;  // overflow or exhausted
    const uintptr_t want = p + n;
    uintptr_t new_top = old + options_.block_size;
    if (new_top < want || new_top < old) new_top = want;
    new_top = align_up(new_top, kDefaultAlign);
    if (new_top > end_ || new_top < want) new_top = end_;
    if (top_.compare_exchange_weak(old, new_top, std::memory_order_relaxed)) {
      s.cursor = want;
      s.limit = new_top;
      s.last = p;
      return reinterpret_cast<void*>(p);
    }
  }
}

void* Bump::reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept {
  if (p == nullptr) return allocate(n, align);
  if (n == 0) n = 1;
  Slot& s = slots_[id_ & (kSlots - 1)];
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (s.owner == id_ && a == s.last && a != 0) {
    if (n <= s.limit - a) {  // fits in the sub-block: move the cursor
      s.cursor = a + n;
      return p;
    }
    // Extend the sub-block if it ends at the shared top (single-threaded: always).
    uintptr_t old = s.limit;
    if (n <= end_ - a) {
      uintptr_t new_top = align_up(a + n, kDefaultAlign);
      if (new_top > end_) new_top = end_;
      if (top_.compare_exchange_strong(old, new_top, std::memory_order_relaxed)) {
        s.cursor = a + n;
        s.limit = new_top;
        return p;
      }
    }
  } else if (n <= old_n) {
    return p;  // shrinking an older block: nothing to give back
  }
  void* q = allocate(n, align);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, old_n < n ? old_n : n);
  return q;
}

void Bump::reset() noexcept {
  const uintptr_t top = top_.load(std::memory_order_relaxed);
  if (options_.decommit_on_reset && owns_region_ && top > base_) {
    os::decommit(reinterpret_cast<void*>(base_), align_up(top - base_, os::page_size()));
  }
  top_.store(base_, std::memory_order_relaxed);
  id_ = next_instance_id();  // every thread's slot for the old id is now stale
}

AllocatorStats Bump::stats() const noexcept {
  AllocatorStats st;
  const uintptr_t top = top_.load(std::memory_order_relaxed);
  st.bytes_reserved = end_ - base_;
  // Upper bound: pages are committed by touch, and everything below top may have been touched.
  st.bytes_committed = top - base_;
  st.bytes_in_use = top - base_;  // includes unused sub-block tails of other threads
  st.os_maps = os_maps_;
  st.os_unmaps = os_unmaps_;
  return st;
}

}  // namespace allocmark
