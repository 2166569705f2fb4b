// A std::allocator that takes memory straight from mmap, for the worker's own tables.
// Layer: workloads. Why: the allocator under test must hold only the workload's objects, so the
// trace and the replay tables never come from malloc (ARCHITECTURE.md, measurement rule 2).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <vector>

namespace allocmark {

template <class T>
struct MmapAllocator {
  using value_type = T;
  MmapAllocator() noexcept = default;
  template <class U>
  MmapAllocator(const MmapAllocator<U>&) noexcept {}

  // Cost: one mmap/munmap system call per (re)allocation; vectors grow geometrically.
  T* allocate(std::size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept { munmap(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const MmapAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using MmapVector = std::vector<T, MmapAllocator<T>>;

}  // namespace allocmark
