// A std::allocator that takes memory straight from mmap, for the decoded trace and the worker's
// own tables. Layer: base (used by workloads/ and harness/worker/). Why: the allocator under
// test must hold only the workload's objects, so the trace and the replay tables never come from
// malloc (ARCHITECTURE.md, measurement rule 2).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>
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
    void* p =
        mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept { munmap(p, n * sizeof(T)); }
  // Default-initialise instead of value-initialise: fresh mmap memory is already zero, and
  // the decoder overwrites every element, so resize() must not write 32 bytes per event twice.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const MmapAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using MmapVector = std::vector<T, MmapAllocator<T>>;

// A fixed-size, mmap-backed array for element types that cannot move (atomics).
template <class T>
class MmapArray {
 public:
  MmapArray() = default;
  explicit MmapArray(std::size_t n) { reset(n); }
  ~MmapArray() { clear(); }
  MmapArray(const MmapArray&) = delete;
  MmapArray& operator=(const MmapArray&) = delete;

  void reset(std::size_t n) {
    clear();
    data_ = MmapAllocator<T>().allocate(n ? n : 1);
    for (std::size_t i = 0; i < n; ++i) new (&data_[i]) T();
    size_ = n;
  }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  std::size_t size() const noexcept { return size_; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }

 private:
  void clear() {
    if (!data_) return;
    for (std::size_t i = 0; i < size_; ++i) data_[i].~T();
    MmapAllocator<T>().deallocate(data_, size_ ? size_ : 1);
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace allocmark
