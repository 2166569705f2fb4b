// Headered<A>: gives a sized allocator malloc's unsized free by storing a 16-byte header
// before each block. Layer: allocators/shim (used by the bump and arena malloc libraries).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "allocators/allocator.h"
#include "allocators/internal.h"

namespace allocmark {

// Layout: [pad bytes ... | Header | user block]; the block starts `pad` bytes after what A
// returned, pad = max(align, 16), so user alignment = A's alignment. Cost per call: one header
// store on allocate, one header load and a magic compare on free.
// Thread-safety and failure as A's. A corrupted or foreign header aborts with one line.
template <Allocator A>
class Headered {
 public:
  template <class... Args>
  explicit Headered(Args&&... args) : inner_(std::forward<Args>(args)...) {}

  ALLOCMARK_ALWAYS_INLINE void* allocate(std::size_t n, std::size_t align) noexcept {
    const std::size_t pad = align > sizeof(Header) ? align : sizeof(Header);
    if (n > SIZE_MAX / 2 || pad > SIZE_MAX / 4) return nullptr;
    auto* base = static_cast<unsigned char*>(inner_.allocate(n + pad, pad));
    if (base == nullptr) return nullptr;
    unsigned char* user = base + pad;
    reinterpret_cast<Header*>(user)[-1] = Header{n, static_cast<uint32_t>(pad), kMagic};
    return user;
  }

  void deallocate(void* p, std::size_t, std::size_t) noexcept { deallocate_unsized(p); }

  ALLOCMARK_ALWAYS_INLINE void deallocate_unsized(void* p) noexcept {
    if (p == nullptr) return;
    const Header h = header(p);
    inner_.deallocate(static_cast<unsigned char*>(p) - h.pad, h.size + h.pad, h.pad);
  }

  std::size_t usable_size(const void* p) const noexcept { return p ? header(p).size : 0; }

  void* reallocate(void* p, std::size_t, std::size_t n, std::size_t) noexcept {
    return reallocate_unsized(p, n);
  }

  void* reallocate_unsized(void* p, std::size_t n) noexcept {
    if (p == nullptr) return allocate(n, 0);
    const Header h = header(p);
    if (n > SIZE_MAX / 2) return nullptr;
    if constexpr (Reallocating<A>) {
      // In place when A can (bump: most recent block); A copies the header along otherwise.
      auto* base = static_cast<unsigned char*>(inner_.reallocate(
          static_cast<unsigned char*>(p) - h.pad, h.size + h.pad, n + h.pad, h.pad));
      if (base == nullptr) return nullptr;
      unsigned char* user = base + h.pad;
      reinterpret_cast<Header*>(user)[-1].size = n;
      return user;
    } else {
      void* q = allocate(n, h.pad);
      if (q == nullptr) return nullptr;
      std::memcpy(q, p, h.size < n ? h.size : n);
      deallocate_unsized(p);
      return q;
    }
  }

  AllocatorStats stats() const noexcept {
    if constexpr (HasStats<A>) return inner_.stats();
    return {};
  }
  void lock_all() noexcept {
    if constexpr (requires { inner_.lock_all(); }) inner_.lock_all();
  }
  void unlock_all() noexcept {
    if constexpr (requires { inner_.unlock_all(); }) inner_.unlock_all();
  }
  A& inner() noexcept { return inner_; }

 private:
  struct Header {
    uint64_t size;
    uint32_t pad;
    uint32_t magic;
  };
  static_assert(sizeof(Header) == 16, "header keeps 16-byte alignment");
  static constexpr uint32_t kMagic = 0xA110C8EDu;

  static Header header(const void* p) noexcept {
    const Header h = reinterpret_cast<const Header*>(p)[-1];
    if (h.magic != kMagic) [[unlikely]] {
      static const char kMsg[] = "allocmark shim: free/realloc of a pointer it did not allocate\n";
      (void)!::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
      std::abort();
    }
    return h;
  }

  A inner_;
};

}  // namespace allocmark
