// The in-tree allocator contract: a C++20 concept the replay loop is templated on.
// Layer: allocators (leaf; depends on nothing of ours). Optional parts are detected, not required.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

namespace allocmark {

// Memory an allocator reports about itself (all optional; zero when unknown).
struct AllocatorStats {
  uint64_t bytes_reserved = 0;   // address space held (mapped, committed or not)
  uint64_t bytes_committed = 0;  // memory the allocator believes is backed
  uint64_t bytes_in_use = 0;     // bytes handed out and not freed
  uint64_t os_maps = 0;          // mmap / sbrk calls made
  uint64_t os_unmaps = 0;        // memory given back to the OS
};

// allocate(size, align): align is a power of two; 0 means "default" (alignof(max_align_t)).
// Returns null when the request cannot be met (a measured outcome, never UB). deallocate gets
// the same size and align the block was allocated with (sized free is part of the contract).
// Every allocator used by the replay must be safe to call from several threads at once.
template <class A>
concept Allocator = requires(A a, void* p, std::size_t n, std::size_t align) {
  { a.allocate(n, align) }
  noexcept->std::same_as<void*>;
  { a.deallocate(p, n, align) }
  noexcept;
};

// Optional: resize keeping contents, like realloc (old_size known). Null on failure, old block
// untouched. The replay falls back to allocate + copy + deallocate when absent.
template <class A>
concept Reallocating = requires(A a, void* p, std::size_t old_n, std::size_t n, std::size_t align) {
  { a.reallocate(p, old_n, n, align) }
  noexcept->std::same_as<void*>;
};

// Optional: release everything at once (arena phase end). Blocks become invalid.
template <class A>
concept Resettable = requires(A a) {
  { a.reset() }
  noexcept;
};

// Optional: numbers about itself, for the results.
template <class A>
concept HasStats = requires(const A a) {
  { a.stats() }
  noexcept->std::same_as<AllocatorStats>;
};

// Optional: called on a replay thread before it ends (flush thread caches).
template <class A>
concept HasThreadExit = requires(A a) {
  { a.thread_exit() }
  noexcept;
};

}  // namespace allocmark
