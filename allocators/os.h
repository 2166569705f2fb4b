// Every call the in-house allocators make to the operating system, in one place.
// Layer: allocators (leaf). Counting here is what lets stats() and the tests see OS traffic.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace allocmark::os {

// Process-wide counters of the calls below (relaxed atomics: one uncontended RMW per OS call,
// noise next to the system call itself). Tests read them; allocators keep their own too.
struct Counters {
  std::atomic<uint64_t> maps{0};
  std::atomic<uint64_t> unmaps{0};
  std::atomic<uint64_t> decommits{0};
  std::atomic<uint64_t> remaps{0};
};
Counters& counters() noexcept;

// Page size, read once.
std::size_t page_size() noexcept;

// Reserves `size` bytes of zeroed, read-write address space with MAP_NORESERVE: pages are backed
// only when first touched, so a large capacity costs address space, not memory. `align` (a power
// of two, may exceed the page size) is met by over-mapping and trimming. Returns null on failure.
// Thread-safe.
void* reserve(std::size_t size, std::size_t align = 0) noexcept;

// Returns a range obtained from reserve() (or a page-aligned part of one) to the OS.
void release(void* p, std::size_t size) noexcept;

// Resizes a mapping from reserve() (page-aligned, page alignment only) with mremap: pages move
// by their page tables, no byte is copied, so growing a large block costs one system call
// instead of a copy and a fault per page. The range may move. Returns null (p untouched) on
// failure. Thread-safe.
void* remap(void* p, std::size_t old_size, std::size_t new_size) noexcept;

// Drops the backing of a page-aligned range but keeps the addresses: next touch reads zeros.
void decommit(void* p, std::size_t size) noexcept;

}  // namespace allocmark::os
