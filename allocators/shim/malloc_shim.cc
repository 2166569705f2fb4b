// The malloc/free/new/delete interface over one in-house allocator, built as a preloadable .so
// (compiled once per backend: ALLOCMARK_SHIM_BUMP, _ARENA or _POOL). Layer: allocators/shim.
//
// Initialisation: the heap is constructed in static storage on the first call, from
// ALLOCMARK_<NAME>_* variables (getenv only: no allocation). Calls made while it is being built
// (same thread: pthread_atfork, ...) are served from a small static bootstrap buffer. Nothing
// here calls dlsym inside malloc, so there is no real-malloc lookup to recurse through (tracking
// dlopens libunwind from a constructor and libdw at exit, both outside malloc). fork(): every lock
// is held across it (pthread_atfork) so the child never inherits a lock held by a vanished thread.
// ALLOCMARK_TRACK=1 wraps the heap in Tracking (a stack captured at every allocation and free)
// and prints its leak report to stderr at exit: lost blocks by call site, then reachable ones;
// ALLOCMARK_SHIM_REPORT=1 prints one line of allocator stats at exit (the e2e tests use it to
// prove the library was really in use).
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "allocators/internal.h"
#include "allocators/options.h"
#include "allocators/tracking.h"

#if defined(ALLOCMARK_SHIM_BUMP)
#include "allocators/bump.h"
#include "allocators/shim/headered.h"
#elif defined(ALLOCMARK_SHIM_ARENA)
#include "allocators/arena.h"
#include "allocators/shim/headered.h"
#elif defined(ALLOCMARK_SHIM_POOL)
#include "allocators/pool.h"
#else
#error "define ALLOCMARK_SHIM_BUMP, ALLOCMARK_SHIM_ARENA or ALLOCMARK_SHIM_POOL"
#endif

#define ALLOCMARK_EXPORT extern "C" __attribute__((visibility("default")))

namespace allocmark {
namespace {

#if defined(ALLOCMARK_SHIM_BUMP)
using Heap = Headered<Bump>;
using Options = BumpOptions;
Options shim_defaults() {
  // Programs never give memory back to a bump heap: reserve generously (address space only).
  Options o;
  o.capacity = std::size_t{64} << 30;
  return o;
}
#elif defined(ALLOCMARK_SHIM_ARENA)
using Heap = Headered<Arena>;
using Options = ArenaOptions;
Options shim_defaults() { return Options{}; }
#else
using Heap = Pool;
using Options = PoolOptions;
Options shim_defaults() { return Options{}; }
#endif
using TrackedHeap = Tracking<Heap>;

enum State : int { kUninit = 0, kBuilding = 1, kReady = 2 };
std::atomic<int> g_state{kUninit};
Heap* g_heap = nullptr;
TrackedHeap* g_tracked = nullptr;  // non-null when ALLOCMARK_TRACK=1
bool g_report = false;
alignas(64) unsigned char g_heap_storage[sizeof(TrackedHeap) > sizeof(Heap) ? sizeof(TrackedHeap)
                                                                            : sizeof(Heap)];
ALLOCMARK_THREAD_LOCAL bool t_building = false;

// Bootstrap: bump allocation from a static buffer for calls made while the heap is being built.
// Blocks carry their size in the 16 bytes before them; free is a no-op.
alignas(64) unsigned char g_boot[256 << 10];
std::atomic<std::size_t> g_boot_top{0};

bool is_boot(const void* p) {
  return static_cast<const unsigned char*>(p) >= g_boot &&
         static_cast<const unsigned char*>(p) < g_boot + sizeof g_boot;
}

void* boot_alloc(std::size_t n, std::size_t align) {
  const std::size_t a = align > 16 ? align : 16;
  if (n > sizeof g_boot || a > sizeof g_boot / 4) return nullptr;
  std::size_t top = g_boot_top.load(std::memory_order_relaxed);
  for (;;) {
    const std::size_t start = align_up(top + 16, a);
    const std::size_t end = align_up(start + n, 16);
    if (end > sizeof g_boot) return nullptr;
    if (g_boot_top.compare_exchange_weak(top, end, std::memory_order_relaxed)) {
      reinterpret_cast<std::size_t*>(g_boot + start)[-1] = n;
      return g_boot + start;
    }
  }
}

std::size_t boot_size(const void* p) { return static_cast<const std::size_t*>(p)[-1]; }

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  bool b = false;
  return v != nullptr && options_detail::parse_bool(v, &b) && b;
}

void fork_prepare() {
  if (g_tracked != nullptr) {
    g_tracked->lock_all();
  } else if constexpr (requires { g_heap->lock_all(); }) {
    g_heap->lock_all();
  }
}

void fork_after() {
  if (g_tracked != nullptr) {
    g_tracked->unlock_all();
  } else if constexpr (requires { g_heap->unlock_all(); }) {
    g_heap->unlock_all();
  }
}

void fork_child() {
  fork_after();
  // libunwind's caches take mutexes another parent thread may have held at fork(): the child
  // unwinds with libgcc (lock-free with glibc's _dl_find_object, ~20x slower per capture).
  if (g_tracked != nullptr) use_libgcc_unwinder();
}

ALLOCMARK_SLOW void init() {
  int expected = kUninit;
  if (g_state.compare_exchange_strong(expected, kBuilding, std::memory_order_acquire)) {
    t_building = true;
    Options opts = shim_defaults();
    load_env(opts, nullptr);  // a bad value keeps the default (no stderr noise inside malloc)
    if (env_flag("ALLOCMARK_TRACK")) {
      TrackingOptions topts;
      load_env(topts, nullptr);
      g_tracked = new (g_heap_storage) TrackedHeap(topts, opts);
      // Call sites start where the program calls in: frames in this library are dropped.
      g_tracked->core().set_own_code(code_range_of(reinterpret_cast<const void*>(&init)));
      g_heap = &g_tracked->inner();
    } else {
      g_heap = new (g_heap_storage) Heap(opts);
    }
    g_report = env_flag("ALLOCMARK_SHIM_REPORT");
    pthread_atfork(fork_prepare, fork_after, fork_child);
    t_building = false;
    g_state.store(kReady, std::memory_order_release);
    return;
  }
  while (g_state.load(std::memory_order_acquire) != kReady) sched_yield();  // another thread
}

ALLOCMARK_ALWAYS_INLINE bool ready() {
  if (g_state.load(std::memory_order_acquire) == kReady) [[likely]]
    return true;
  if (t_building) return false;  // re-entered while building: caller uses the bootstrap buffer
  init();
  return true;
}

// The tracked heap's calls out of line and cold: inlined, their frame (saved registers, stack
// space) was set up on every malloc and free (free's fast path: ~45 instructions, a third of them
// prologue and epilogue; objdump of libamk_pool.so).
[[gnu::noinline, gnu::cold]] void* tracked_alloc(std::size_t n, std::size_t align) {
  return g_tracked->allocate(n, align);
}
[[gnu::noinline, gnu::cold]] void tracked_free(void* p) { g_tracked->deallocate_unsized(p); }

ALLOCMARK_ALWAYS_INLINE void* heap_alloc(std::size_t n, std::size_t align) {
  if (!ready()) [[unlikely]]
    return boot_alloc(n, align);
  if (g_tracked != nullptr) [[unlikely]]
    return tracked_alloc(n, align);
  return g_heap->allocate(n, align);
}

ALLOCMARK_ALWAYS_INLINE void heap_free(void* p) {
  if (p == nullptr || is_boot(p)) [[unlikely]]
    return;
  if (g_tracked != nullptr) [[unlikely]]
    return tracked_free(p);
  g_heap->deallocate_unsized(p);
}

std::size_t heap_usable(const void* p) {
  if (p == nullptr) return 0;
  if (is_boot(p)) return boot_size(p);
  if (g_tracked != nullptr) return g_tracked->usable_size(p);
  return g_heap->usable_size(p);
}

void* heap_realloc(void* p, std::size_t n) {
  if (p == nullptr) return heap_alloc(n, 0);
  if (is_boot(p) || !ready()) {
    void* q = heap_alloc(n, 0);
    if (q != nullptr) std::memcpy(q, p, is_boot(p) ? std::min(boot_size(p), n) : 0);
    return q;
  }
  if (g_tracked != nullptr) return g_tracked->reallocate_unsized(p, n);
  return g_heap->reallocate_unsized(p, n);
}

// A heap with its own calloc knows which memory is already zero (pool: fresh mappings, pages
// handed back to the kernel); the others, and tracking, get allocate + memset. Null on overflow.
template <class H = Heap>
void* heap_calloc(std::size_t count, std::size_t size) {
  if constexpr (requires(H * h) { h->calloc(count, size); }) {
    if (ready() && g_tracked == nullptr) [[likely]]
      return static_cast<H*>(g_heap)->calloc(count, size);
  }
  std::size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return nullptr;
  void* p = heap_alloc(n, 0);
  if (p != nullptr) std::memset(p, 0, n);
  return p;
}

[[gnu::noinline, gnu::cold]] void* null_with_enomem() {
  errno = ENOMEM;
  return nullptr;
}
// The errno store out of line: inline, malloc kept the block in a saved register across it and
// set up a frame on every call.
ALLOCMARK_ALWAYS_INLINE void* with_errno(void* p) {
  if (p != nullptr) [[likely]]
    return p;
  return null_with_enomem();
}

// operator new's contract: retry through the new-handler, else throw (or null for nothrow).
ALLOCMARK_SLOW void* new_slow(std::size_t n, std::size_t align, bool nothrow) {
  for (;;) {
    if (void* p = heap_alloc(n, align)) return p;
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        h();
      } catch (...) {
        return nullptr;
      }
    } else {
      h();
    }
  }
}

ALLOCMARK_ALWAYS_INLINE void* new_impl(std::size_t n, std::size_t align, bool nothrow) {
  if (void* p = heap_alloc(n, align)) [[likely]]
    return p;
  return new_slow(n, align, nothrow);
}

// Tracking's stack captures go through libunwind when it is installed (~20x cheaper than
// libgcc's unwinder). Loading a library cannot happen inside malloc, so it happens here, before
// main; allocations made earlier (libc and libstdc++ start-up) are captured with libgcc.
__attribute__((constructor)) void load_unwinder() {
  if (env_flag("ALLOCMARK_TRACK")) use_libunwind();
}

__attribute__((destructor)) void at_exit_report() {
  if (g_state.load(std::memory_order_acquire) != kReady) return;
  if (g_report) {
    const AllocatorStats st = g_heap->stats();
    char line[256];
    const int len = std::snprintf(
        line, sizeof line,
        "allocmark shim: %s active, reserved %llu, committed %llu, in use %llu, os maps %llu\n",
        Options::kName.data(), (unsigned long long)st.bytes_reserved,
        (unsigned long long)st.bytes_committed, (unsigned long long)st.bytes_in_use,
        (unsigned long long)st.os_maps);
    if (len > 0) (void)!::write(STDERR_FILENO, line, static_cast<std::size_t>(len));
  }
  if (g_tracked != nullptr) g_tracked->report(STDERR_FILENO);
}

}  // namespace
}  // namespace allocmark

using allocmark::heap_alloc;
using allocmark::heap_free;
using allocmark::with_errno;

ALLOCMARK_EXPORT void* malloc(size_t n) { return with_errno(heap_alloc(n, 0)); }

ALLOCMARK_EXPORT void free(void* p) { heap_free(p); }

ALLOCMARK_EXPORT void cfree(void* p) { heap_free(p); }

ALLOCMARK_EXPORT void* calloc(size_t count, size_t size) {
  return with_errno(allocmark::heap_calloc(count, size));
}

ALLOCMARK_EXPORT void* realloc(void* p, size_t n) {
  if (p != nullptr && n == 0) {  // glibc's behaviour: free and return null
    heap_free(p);
    return nullptr;
  }
  return with_errno(allocmark::heap_realloc(p, n));
}

ALLOCMARK_EXPORT void* reallocarray(void* p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return with_errno(nullptr);
  return realloc(p, n);
}

ALLOCMARK_EXPORT int posix_memalign(void** out, size_t align, size_t n) {
  if (!allocmark::is_pow2(align) || align % sizeof(void*) != 0) return EINVAL;
  void* p = heap_alloc(n, align);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

ALLOCMARK_EXPORT void* aligned_alloc(size_t align, size_t n) {
  if (!allocmark::is_pow2(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return with_errno(heap_alloc(n, align));
}

ALLOCMARK_EXPORT void* memalign(size_t align, size_t n) {
  if (!allocmark::is_pow2(align)) {  // glibc rounds up to a power of two
    size_t a = 1;
    while (a < align && a != 0) a <<= 1;
    if (a == 0) return with_errno(nullptr);
    align = a;
  }
  return with_errno(heap_alloc(n, align));
}

ALLOCMARK_EXPORT void* valloc(size_t n) {
  return with_errno(heap_alloc(n, static_cast<size_t>(sysconf(_SC_PAGESIZE))));
}

ALLOCMARK_EXPORT void* pvalloc(size_t n) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (n > SIZE_MAX - page) return with_errno(nullptr);
  return with_errno(heap_alloc(n == 0 ? page : allocmark::align_up(n, page), page));
}

ALLOCMARK_EXPORT size_t malloc_usable_size(void* p) { return allocmark::heap_usable(p); }

// C++ operators. Deletes ignore the size hint and use the pointer lookup: robust against callers
// that pass a wrong size, and the same cost the malloc interface pays.
#define ALLOCMARK_NEW __attribute__((visibility("default")))
using allocmark::new_impl;
ALLOCMARK_NEW void* operator new(size_t n) { return new_impl(n, 0, false); }
ALLOCMARK_NEW void* operator new[](size_t n) { return new_impl(n, 0, false); }
ALLOCMARK_NEW void* operator new(size_t n, const std::nothrow_t&) noexcept {
  return new_impl(n, 0, true);
}
ALLOCMARK_NEW void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return new_impl(n, 0, true);
}
ALLOCMARK_NEW void* operator new(size_t n, std::align_val_t a) {
  return new_impl(n, static_cast<size_t>(a), false);
}
ALLOCMARK_NEW void* operator new[](size_t n, std::align_val_t a) {
  return new_impl(n, static_cast<size_t>(a), false);
}
ALLOCMARK_NEW void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_impl(n, static_cast<size_t>(a), true);
}
ALLOCMARK_NEW void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_impl(n, static_cast<size_t>(a), true);
}
ALLOCMARK_NEW void operator delete(void* p) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete[](void* p) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete(void* p, const std::nothrow_t&) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete[](void* p, const std::nothrow_t&) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete(void* p, size_t) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete[](void* p, size_t) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete(void* p, std::align_val_t) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete[](void* p, std::align_val_t) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete(void* p, size_t, std::align_val_t) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete[](void* p, size_t, std::align_val_t) noexcept { heap_free(p); }
ALLOCMARK_NEW void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  heap_free(p);
}
ALLOCMARK_NEW void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  heap_free(p);
}
