// MallocApi: the allocator concept over the process's malloc family, so the same templated
// replay drives glibc and any preloaded malloc replacement. Layer: harness.
#pragma once

#include <cstdlib>

#include "allocators/allocator.h"

namespace allocmark {

// Thread-safe as the process's malloc is. Failure: null, as malloc. The size passed to
// deallocate is dropped: the malloc interface has no sized free (that cost is what
// `pool` vs `pool-malloc` shows).
struct MallocApi {
  void* allocate(std::size_t n, std::size_t align) noexcept {
    if (align <= alignof(std::max_align_t)) return std::malloc(n);
    void* p = nullptr;
    return posix_memalign(&p, align, n) == 0 ? p : nullptr;
  }
  void deallocate(void* p, std::size_t, std::size_t) noexcept { std::free(p); }
  void* reallocate(void* p, std::size_t, std::size_t n, std::size_t) noexcept {
    return std::realloc(p, n);
  }
  void* calloc(std::size_t nmemb, std::size_t size) noexcept { return std::calloc(nmemb, size); }
};
static_assert(Allocator<MallocApi> && Reallocating<MallocApi>);

}  // namespace allocmark
