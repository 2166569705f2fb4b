// Thin wrappers over mmap/munmap/madvise with counters; no heap use, callable from malloc shims.
// Layer: allocators (leaf).
#include "allocators/os.h"

#include <sys/mman.h>
#include <unistd.h>

namespace allocmark::os {

Counters& counters() noexcept {
  static Counters c;  // constant-initialised: safe before any constructor has run
  return c;
}

std::size_t page_size() noexcept {
  static const std::size_t kPage = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return kPage;
}

void* reserve(std::size_t size, std::size_t align) noexcept {
  const std::size_t page = page_size();
  if (size == 0 || size > SIZE_MAX - page) return nullptr;
  size = (size + page - 1) & ~(page - 1);
  if (align < page) align = page;
  if (align > page && size > SIZE_MAX - align) return nullptr;
  const std::size_t span = align > page ? size + align : size;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  counters().maps.fetch_add(1, std::memory_order_relaxed);
  if (align == page) return raw;
  // Trim the unaligned head and the tail so only [aligned, aligned + size) stays mapped.
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + align - 1) & ~(uintptr_t{align} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = aligned + size;
  if (start + span > end) munmap(reinterpret_cast<void*>(end), start + span - end);
  return reinterpret_cast<void*>(aligned);
}

void release(void* p, std::size_t size) noexcept {
  if (p == nullptr || size == 0) return;
  munmap(p, size);
  counters().unmaps.fetch_add(1, std::memory_order_relaxed);
}

void* remap(void* p, std::size_t old_size, std::size_t new_size) noexcept {
  void* q = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) return nullptr;
  counters().remaps.fetch_add(1, std::memory_order_relaxed);
  return q;
}

void decommit(void* p, std::size_t size) noexcept {
  if (p == nullptr || size == 0) return;
  madvise(p, size, MADV_DONTNEED);
  counters().decommits.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace allocmark::os
