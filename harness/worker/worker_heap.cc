// The worker's own heap: every C++ allocation the worker makes (operator new and delete, so
// std::string, std::vector, std::map, std::thread's state) is served from memory the worker maps
// itself, never from the malloc under test. Layer: harness (linked into allocmark-worker only).
//
// Why: the allocator under test serves malloc for the whole worker (LD_PRELOAD). One that keeps
// returning null, or keeps handing out the same block, used to break the worker's own code after
// the replay stopped (std::bad_alloc while building the result, two strings sharing one buffer),
// so a measured failure became `crashed` or an unreadable result. With this heap the harness
// reports whatever the allocator does, and the allocator's heap holds only the workload's objects
// (measurement rule 2 in ARCHITECTURE.md). C code in the worker that calls malloc directly
// (stdio buffers, dlerror) must not run after the replay starts: worker_main.cc avoids it.
//
// Design and cost: power-of-two size classes from 16 B to 64 KiB, each a LIFO free list, carved
// from 1 MiB chunks mapped on demand; larger requests are their own mapping. One spin lock: the
// worker allocates from a handful of threads and almost never inside the timed region, so a
// lock (~20 ns uncontended) is cheaper to reason about than per-thread caches. Chunks are never
// returned to the OS (a worker is one short process). Every block has a 16-byte header holding
// its class, or the mapping size for a large block, so unsized delete works.
#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace {

constexpr std::size_t kHeader = 16;
constexpr unsigned kClasses = 13;  // 16 B << 0 .. 16 B << 12 = 64 KiB, header included
constexpr std::size_t kChunk = std::size_t{1} << 20;
constexpr uint64_t kLargeTag = ~uint64_t{0};

struct alignas(16) Header {
  uint64_t tag;          // size class, or kLargeTag
  uint64_t map_bytes;    // large blocks: the whole mapping, header included
};
static_assert(sizeof(Header) == kHeader);

struct FreeBlock {
  FreeBlock* next;
};

class WorkerHeap {
 public:
  void* allocate(std::size_t n) noexcept {
    const std::size_t total = n + kHeader;
    if (total > (std::size_t{16} << (kClasses - 1))) return allocate_large(total);
    unsigned cls = 0;
    while ((std::size_t{16} << cls) < total) ++cls;
    Header* h;
    lock();
    if (FreeBlock* b = free_[cls]) {
      free_[cls] = b->next;
      h = reinterpret_cast<Header*>(b);
    } else {
      h = static_cast<Header*>(carve_locked(std::size_t{16} << cls));
    }
    unlock();
    if (!h) return nullptr;
    h->tag = cls;
    return h + 1;
  }

  void deallocate(void* p) noexcept {
    if (!p) return;
    Header* h = static_cast<Header*>(p) - 1;
    if (h->tag == kLargeTag) {
      munmap(h, h->map_bytes);
      return;
    }
    const uint64_t cls = h->tag;  // read before the link overwrites the header
    auto* b = reinterpret_cast<FreeBlock*>(h);
    lock();
    b->next = free_[cls];
    free_[cls] = b;
    unlock();
  }

 private:
  void lock() noexcept {
    while (busy_.exchange(true, std::memory_order_acquire)) __builtin_ia32_pause();
  }
  void unlock() noexcept { busy_.store(false, std::memory_order_release); }

  // Cuts `bytes` (a class size, at most 64 KiB) from the current chunk; the tail of a chunk too
  // small for the request is dropped (at most 64 KiB per MiB, and only while the heap grows).
  void* carve_locked(std::size_t bytes) noexcept {
    if (static_cast<std::size_t>(end_ - cursor_) < bytes) {
      void* chunk = mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (chunk == MAP_FAILED) return nullptr;
      cursor_ = static_cast<char*>(chunk);
      end_ = cursor_ + kChunk;
    }
    void* p = cursor_;
    cursor_ += bytes;
    return p;
  }

  static void* allocate_large(std::size_t total) noexcept {
    const std::size_t bytes = (total + 4095) & ~std::size_t{4095};
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    auto* h = static_cast<Header*>(m);
    h->tag = kLargeTag;
    h->map_bytes = bytes;
    return h + 1;
  }

  std::atomic<bool> busy_{false};
  FreeBlock* free_[kClasses] = {};
  char* cursor_ = nullptr;
  char* end_ = nullptr;
};

// Constant-initialised (no constructor runs), so operator new works before any static
// constructor of the worker or of libstdc++ has run.
constinit WorkerHeap g_heap;

// Over-aligned requests: take align extra bytes, align inside, and keep the real block's address
// in the 8 bytes before the aligned pointer (at least 8 bytes past the block's start).
void* allocate_aligned(std::size_t n, std::size_t align) noexcept {
  if (align <= kHeader) return g_heap.allocate(n);
  char* raw = static_cast<char*>(g_heap.allocate(n + align + sizeof(void*)));
  if (!raw) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw) + sizeof(void*);
  char* aligned = reinterpret_cast<char*>((start + align - 1) & ~(uintptr_t{align} - 1));
  reinterpret_cast<void**>(aligned)[-1] = raw;
  return aligned;
}

void deallocate_aligned(void* p, std::size_t align) noexcept {
  if (!p) return;
  g_heap.deallocate(align <= kHeader ? p : static_cast<void**>(p)[-1]);
}

void* allocate_or_throw(std::size_t n) {
  if (void* p = g_heap.allocate(n)) return p;
  throw std::bad_alloc();
}

void* allocate_aligned_or_throw(std::size_t n, std::size_t align) {
  if (void* p = allocate_aligned(n, align)) return p;
  throw std::bad_alloc();
}

}  // namespace

// Every replaceable form ([new.delete]), so no form falls back to libstdc++'s malloc-based one.
void* operator new(std::size_t n) { return allocate_or_throw(n); }
void* operator new[](std::size_t n) { return allocate_or_throw(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return g_heap.allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return g_heap.allocate(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_aligned_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_aligned_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_aligned(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_aligned(n, static_cast<std::size_t>(a));
}

void operator delete(void* p) noexcept { g_heap.deallocate(p); }
void operator delete[](void* p) noexcept { g_heap.deallocate(p); }
void operator delete(void* p, std::size_t) noexcept { g_heap.deallocate(p); }
void operator delete[](void* p, std::size_t) noexcept { g_heap.deallocate(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { g_heap.deallocate(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { g_heap.deallocate(p); }
void operator delete(void* p, std::align_val_t a) noexcept {
  deallocate_aligned(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::align_val_t a) noexcept {
  deallocate_aligned(p, static_cast<std::size_t>(a));
}
void operator delete(void* p, std::size_t, std::align_val_t a) noexcept {
  deallocate_aligned(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::size_t, std::align_val_t a) noexcept {
  deallocate_aligned(p, static_cast<std::size_t>(a));
}
void operator delete(void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  deallocate_aligned(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  deallocate_aligned(p, static_cast<std::size_t>(a));
}
