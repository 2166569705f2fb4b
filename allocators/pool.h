// Pool allocator: size classes of fixed-size blocks carved from slabs, intrusive free lists,
// per-thread caches in front of locked per-class central lists. Layer: allocators (leaf).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "allocators/allocator.h"
#include "allocators/internal.h"
#include "allocators/options.h"

namespace allocmark {

struct PoolOptions {
  static constexpr std::string_view kName = "pool";
  // Slab size: the unit carved into blocks of one class, aligned to its own size so a block's
  // slab is found by masking. Power of two, 64 KiB .. 16 MiB.
  std::size_t slab_size = std::size_t{256} << 10;
  // Largest request served from slabs; larger ones are mapped directly. <= slab_size / 4.
  std::size_t max_small = std::size_t{32} << 10;
  // Size classes: multiples of 16 up to 128, then this many per doubling (1, 2, 4 or 8).
  // More classes: less internal fragmentation, more partially used slabs.
  std::size_t classes_per_doubling = 4;
  // Thread cache bound per class: at most cache_count blocks and cache_bytes bytes (at least 2
  // blocks). Beyond it half the list goes back to the central list in one locked batch. A new
  // thread's lists start at a bound of 4 and double on each miss or overflow (slow start), so a
  // short-lived thread fetches only about what it uses.
  std::size_t cache_count = 512;
  std::size_t cache_bytes = std::size_t{64} << 10;
  // Release policy: a class keeps up to keep_empty of its empty slabs indefinitely (reused
  // first, pages still committed). Any other empty slab goes to the pool's idle list, pages
  // still committed, where the next class needing a slab takes it (the most recently emptied
  // first; re-carved if it served another class) before fresh address space; if release_empty,
  // one idle for release_delay_ms is returned with madvise(DONTNEED). The check runs when a
  // slab next empties (slow path), so an idle pool keeps its empty slabs. The delay stops
  // alloc-all/free-all cycles from refaulting every page (as mimalloc's purge delay does).
  // keep_empty was 1: each class held a slab that no other class could use (realloc-growth,
  // ~44 classes: 10.9 MB, 2,720 faults a replay; with 0 and the idle list 8.4 MB, 2,040).
  std::size_t keep_empty = 0;
  bool release_empty = true;
  std::size_t release_delay_ms = 10;
  // Address space reserved for slabs (MAP_NORESERVE, committed as touched). Halved until the
  // OS accepts it; when slabs run out small requests return null.
  std::size_t reserve = std::size_t{64} << 30;
  // Large blocks (above max_small) get a mapping of their own, its size rounded up to 4 steps
  // per power of two (at most 25 % more address space, untouched until used) so that freed
  // mappings fit later requests and realloc has room to grow in place. A freed mapping waits in
  // a cache, pages still committed, for the next large request it fits (best fit, at least 2/3
  // of it used): a hit costs a short locked scan instead of mmap + a fault per page + munmap.
  // Without such a fit, a larger cached mapping is split (its head serves the request, the tail
  // stays cached) or the largest smaller one (at least a quarter of the request) is grown with
  // mremap: either way its committed pages are reused instead of faulted afresh.
  // Bound: at most large_cache_count mappings and large_cache_bytes bytes (a mapping above the
  // bytes goes straight back to the OS); inserting past the bound unmaps the oldest first.
  // Mappings aligned above the page size bypass the cache. 0: no cache.
  // 64 MiB (was 32): fleet, ~90 MB of 32 KiB-4 MiB blocks live, unmapped 108 cached mappings a
  // replay at 32 MiB, 59 at 64, with the same peak RSS (the cache holds what is reused next);
  // large-buffers, mstress and alloc-test kept the same RSS too.
  std::size_t large_cache_bytes = std::size_t{64} << 20;
  std::size_t large_cache_count = 64;

  static constexpr auto options_table() {
    using S = OptionSpec<PoolOptions>;
    using P = PoolOptions;
    return std::array{
        S::size("slab_size", &P::slab_size, "bytes per slab", {64 << 10, 16 << 20, kPowerOfTwo}),
        S::size("max_small", &P::max_small, "largest size served from slabs", {256, 64 << 10}),
        S::count("classes_per_doubling", &P::classes_per_doubling,
                 "size classes per power of two above 128", {1, 8, kPowerOfTwo}),
        S::count("cache_count", &P::cache_count, "thread cache blocks per class", {2, 1 << 20}),
        S::size("cache_bytes", &P::cache_bytes, "thread cache bytes per class"),
        S::count("keep_empty", &P::keep_empty, "empty slabs kept per class", {0, 1 << 20}),
        S::boolean("release_empty", &P::release_empty, "return surplus empty slabs to the OS"),
        S::count("release_delay_ms", &P::release_delay_ms,
                 "milliseconds a surplus empty slab waits before it is released", {0, 1 << 30}),
        S::size("reserve", &P::reserve, "address space reserved for slabs", {1 << 20}),
        S::size("large_cache_bytes", &P::large_cache_bytes,
                "bytes of freed large mappings kept for reuse"),
        S::count("large_cache_count", &P::large_cache_count, "freed large mappings kept for reuse",
                 {0, 128}),
    };
  }
};

// Thread-safety: every member may be called from any thread at once, except construction and
// destruction. A block may be freed by a thread other than the one that allocated it: it goes
// into the freeing thread's cache and reaches its slab through the central list (tcmalloc's
// scheme), so cross-thread frees need no atomics on the fast path; a thread that has not yet
// allocated the block's class keeps it on a foreign list instead, never reused by that thread.
// Thread caches are flushed by thread_exit() or automatically when the thread ends (a pthread key
// destructor). Failure: null when slabs or the OS run out; never throws, never aborts.
class Pool {
 public:
  static constexpr std::size_t kMaxClasses = 96;
  static constexpr std::size_t kMaxSmallLimit = 64 << 10;
  static constexpr std::size_t kLargeCacheSlots = 128;  // upper bound of large_cache_count

  Pool() : Pool(PoolOptions{}) {}
  explicit Pool(const PoolOptions& options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Fast path: two compares, a byte table lookup for the class, the TLS slot load and owner
  // compare, then pop: load head, load next, store head, decrement count. About 14
  // instructions, no atomic, no lock.
  ALLOCMARK_ALWAYS_INLINE void* allocate(std::size_t n, std::size_t align) noexcept {
    if (max_small_ > kMaxSmallLimit) __builtin_unreachable();  // no code: bounds lut_
    if (align <= kDefaultAlign && n <= max_small_) [[likely]] {
      const unsigned cls = lut_[(n + 15) >> 4];
      const CacheSlot& s = slots_[id_ & (kSlots - 1)];
      if (s.owner == id_) [[likely]] {
        FreeList& fl = s.cache->lists[cls];
        if (void* p = fl.head) [[likely]] {
          fl.head = *static_cast<void**>(p);
          --fl.count;
          return p;
        }
      }
    }
    return allocate_slow(n, align);
  }

  // Fast path mirrors allocate: class from the size (no pointer lookup), push if the cache has
  // room. About 14 instructions. n and align must be those the block was allocated with.
  ALLOCMARK_ALWAYS_INLINE void deallocate(void* p, std::size_t n, std::size_t align) noexcept {
    if (max_small_ > kMaxSmallLimit) __builtin_unreachable();  // no code: bounds lut_
    if (align <= kDefaultAlign && n <= max_small_) [[likely]] {
      if (push_cached(p, lut_[(n + 15) >> 4])) [[likely]]
        return;
    }
    deallocate_slow(p, n, align);
  }

  // calloc: count * size zeroed bytes; null on overflow or exhaustion. Memory known to be zero
  // is not written: a large block on a fresh mapping (the kernel zero-fills it on first touch),
  // so calloc of a large buffer costs no memset and no fault for pages the caller never touches
  // (what glibc and mimalloc do for fresh OS memory). Small blocks and reused mappings get a
  // memset of the requested bytes (reused ones above 32 MiB: MADV_DONTNEED of the whole pages).
  void* calloc(std::size_t count, std::size_t size) noexcept;

  // Free without the size (the malloc shim): the class comes from the slab's metadata (one
  // extra dependent load). p may be null. The small-block push is inlined into the caller as
  // deallocate's is: out of line, the call and its checks were ~34 of the ~54 instructions of
  // a free through the shim (callgrind, python3 churn under pool-malloc).
  ALLOCMARK_ALWAYS_INLINE void deallocate_unsized(void* p) noexcept {
    if (owns_small(p)) [[likely]] {
      const unsigned cls = meta_of(p)->cls;
      if (push_cached(p, cls)) [[likely]]
        return;
      return free_to_cache_or_central(p, cls);
    }
    if (p != nullptr) free_large(p);
  }
  // Bytes usable at p (class size, or the mapping for large blocks). p must be live.
  std::size_t usable_size(const void* p) const noexcept;

  // Same class: returns p. A large block keeps p while n fits its mapping and uses at least half
  // of it, and grows past its mapping with mremap (page tables move, no byte is copied; the
  // mapping may move). Otherwise allocate, copy, free. Null (p untouched) on failure.
  void* reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept;
  // realloc() without the old size: the same policy, the class read from the slab metadata.
  void* reallocate_unsized(void* p, std::size_t n) noexcept;

  // Returns this thread's cached blocks to the central lists.
  void thread_exit() noexcept;

  AllocatorStats stats() const noexcept;
  const PoolOptions& options() const noexcept { return options_; }
  bool owns_small(const void* p) const noexcept {
    return reinterpret_cast<uintptr_t>(p) - base_ < region_bytes_;
  }

  // Size-class table, for tests and reports.
  std::size_t class_count() const noexcept { return class_count_; }
  std::size_t class_size(std::size_t cls) const noexcept { return class_size_[cls]; }
  // Class serving (n, align), or -1 when the request is mapped directly.
  int class_of(std::size_t n, std::size_t align) const noexcept;
  // Slabs currently holding memory (in use or kept empty), and slabs released so far.
  std::size_t live_slabs() const noexcept;
  uint64_t released_slabs() const noexcept { return released_.load(std::memory_order_relaxed); }
  // Thread-cache overflow batches parked in the transfer caches (see kTransferSlots).
  std::size_t parked_batches() const noexcept;
  // Freed large mappings waiting for reuse, and their bytes (see large_cache_bytes).
  std::size_t cached_large() const noexcept;
  std::size_t cached_large_bytes() const noexcept;

  // For the malloc shim's fork handlers: take every lock (prefork), release them (after fork,
  // in parent and child). Lock order: registry, centrals by class, units, large cache.
  void lock_all() noexcept;
  void unlock_all() noexcept;

 private:
  struct FreeList {
    void* head;
    uint32_t count;
    uint32_t max;
  };
  static_assert(sizeof(FreeList) == 16, "four lists per cache line");

  struct ThreadCache {
    uint64_t owner;     // id of the Pool this cache serves
    Pool* pool;         // null once that Pool is destroyed (registry lock)
    ThreadCache* next;  // in the pool's list of caches, or in the spare store
    ThreadCache* prev;
    void* reserved[4];  // pad the header to one cache line
    FreeList lists[kMaxClasses];
    // Blocks of a class this thread has not allocated yet (its list's max is 0), freed here:
    // kept off `lists` so the next allocation cannot reuse them (see free_to_cache_or_central).
    FreeList foreign[kMaxClasses];
  };
  static_assert(offsetof(ThreadCache, lists) == 64, "lists start on a cache line");

  struct CacheSlot {
    uint64_t owner;
    ThreadCache* cache;
  };
  static constexpr std::size_t kSlots = 8;
  static ALLOCMARK_THREAD_LOCAL CacheSlot slots_[kSlots];

  // One per slab unit, in a separate NORESERVE array so slab memory holds only blocks.
  struct SlabMeta {
    uint32_t nfree;   // blocks returned to this slab: their bits are set in bits_of(this)
    uint32_t scan;    // bitmap word of the latest free: a refill searches from it (warm lines)
    uintptr_t carve;  // next never-used block
    uintptr_t end;    // end of the last whole block
    SlabMeta* next;   // partial / empty list, or next free unit
    SlabMeta* prev;
    uint32_t used;      // blocks outside the slab (in use or in thread caches)
    uint32_t capacity;  // blocks in the slab
    uint16_t cls;
    uint8_t state;         // SlabState
    uint32_t empty_since;  // coarse monotonic ms when it became empty
    uintptr_t touched;     // end of the pages ever carved since the slab was last decommitted
  };
  static_assert(sizeof(SlabMeta) == 64, "one cache line per slab header");

  // Transfer cache (tcmalloc's TransferCache, from its design notes): a thread cache's
  // overflow batch is parked here whole, and a refill that fits takes one back whole, so a
  // batch moving between threads (or out and back into one thread) costs a locked push and pop
  // instead of a walk that returns each block to its slab and another that takes them out.
  // glibc-simple (batches of 1,600 blocks of one class, allocated then freed, against a
  // thread cache bound of 512) moved about 0.8 blocks per event through the slabs by count. Bound:
  // kTransferSlots batches of at most half the class's cache bound per class; they keep their slabs
  // from emptying until a thread's exit flush drains them (drain_transfer).
  static constexpr std::size_t kTransferSlots = 8;
  struct Batch {
    void* head;
    std::size_t count;
  };
  struct alignas(64) Central {
    SpinLock lock;
    SlabMeta* partial = nullptr;  // slabs with a free or never-used block
    SlabMeta* empty = nullptr;    // empty slabs, most recently emptied first
    SlabMeta* empty_tail = nullptr;
    std::size_t empty_count = 0;
    std::size_t batches = 0;  // in use, a stack: the most recently parked is the warmest
    Batch transfer[kTransferSlots];
  };

  ALLOCMARK_SLOW void* allocate_slow(std::size_t n, std::size_t align) noexcept;
  ALLOCMARK_SLOW void deallocate_slow(void* p, std::size_t n, std::size_t align) noexcept;
  ThreadCache* cache_for_thread() noexcept;  // creates on first use; null if impossible
  // zero: the caller needs zeroed bytes (a reused mapping gets a memset; a fresh one is zero).
  void* allocate_large(std::size_t n, std::size_t align, bool zero = false) noexcept;
  void free_large(void* p) noexcept;
  // Puts [start, start + size) in the large cache, coalesced with cached neighbours if merge,
  // unmapping the oldest entries past the bounds (or the range itself, above large_cache_bytes).
  void cache_large(uintptr_t start, std::size_t size, bool merge) noexcept;
  // Large-block realloc that keeps or remaps the mapping; null when it cannot (then copy).
  void* reallocate_large(void* p, std::size_t n) noexcept;
  // A cached mapping for a block needing `need` bytes (header included, user bytes at
  // `offset`), grown with mremap when the cache had only a smaller one; its first zero_n user
  // bytes zeroed where they were reused. *mapped: in, the size a fresh mapping would have; out,
  // the size of the one returned. Null when the cache has nothing usable.
  void* take_large(std::size_t need, std::size_t offset, std::size_t zero_n,
                   std::size_t* mapped) noexcept;
  // Best cached mapping for `need` bytes, removed from the cache (or split off a larger one);
  // *mapped: in, the size a fresh mapping would have; out, the size taken, which is below
  // `need` when the caller must grow it. 0 when none is usable.
  uintptr_t take_cached_large(std::size_t need, std::size_t* mapped) noexcept;
  uintptr_t take_cached_split(std::size_t need, std::size_t* mapped) noexcept;  // lock held
  void remove_cached_large(std::size_t i) noexcept;                             // lock held
  // Takes up to `want` blocks of `cls` from the central list, linked through their first word;
  // or a whole parked batch of at most `room` blocks (0: never).
  std::size_t refill(unsigned cls, std::size_t want, void** head, std::size_t room = 0) noexcept;
  // Moves up to want - *got freed blocks of slab s (class size sz) onto the chain ending at
  // *tail (central lock held).
  void take_freed(SlabMeta* s, std::size_t sz, std::size_t want, std::size_t* got,
                  void*** tail) noexcept;
  // Returns a chain of `count` blocks of `cls` to their slabs.
  void flush(unsigned cls, void* head, std::size_t count) noexcept;
  void flush_locked(Central& c, unsigned cls, void* head, std::size_t count) noexcept;
  // A thread cache's overflow: parked in the class's transfer cache, or flushed if it is full.
  void release_batch(unsigned cls, void* head, std::size_t count) noexcept;
  // Returns every parked batch of `cls` to the slabs.
  void drain_transfer(unsigned cls) noexcept;
  bool drain_locked(Central& c, unsigned cls) noexcept;  // c's lock held; true if any
  // Before a fresh slab for cls (its lock held): returns every class's parked batches to their
  // slabs when no idle slab is left; true if any went back.
  bool reclaim_parked(unsigned cls) noexcept;
  void free_to_cache_or_central(void* p, unsigned cls) noexcept;
  // Returns a foreign list's blocks to their slabs and empties it.
  void flush_foreign(FreeList& f, unsigned cls) noexcept {
    if (f.head != nullptr) flush(cls, f.head, f.count);
    f = FreeList{nullptr, 0, 0};
  }
  // Slow start: doubles a thread cache list's bound, up to the class's (class_max_).
  void grow_bound(FreeList& fl, unsigned cls) const noexcept {
    fl.max = fl.max * 2 < class_max_[cls] ? fl.max * 2 : class_max_[cls];
  }
  // Registry lock held, or c on no list and its Pool alive (thread_exit).
  void flush_cache_locked(ThreadCache* c) noexcept;
  SlabMeta* new_slab(unsigned cls) noexcept;  // central lock held
  // Moves an empty slab to the idle list; if release_empty, decommits those idle for
  // release_delay_ms (the longest idle first, at most 16 a call). Central lock held.
  void retire_slab(SlabMeta* s, uint32_t now) noexcept;
  void release_slab(SlabMeta* s) noexcept;  // s on no list; takes units_lock_
  // The free fast path both frees share: push p on this thread's list of class cls if this
  // thread has a cache here and the list has room; false otherwise (nothing done).
  ALLOCMARK_ALWAYS_INLINE bool push_cached(void* p, unsigned cls) noexcept {
    const CacheSlot& s = slots_[id_ & (kSlots - 1)];
    if (s.owner != id_) [[unlikely]]
      return false;
    FreeList& fl = s.cache->lists[cls];
    if (fl.count >= fl.max) [[unlikely]]
      return false;
    *static_cast<void**>(p) = fl.head;
    fl.head = p;
    ++fl.count;
    return true;
  }
  SlabMeta* meta_of(const void* p) const noexcept {
    return &meta_[(reinterpret_cast<uintptr_t>(p) - base_) >> slab_shift_];
  }
  uint64_t* bits_of(const SlabMeta* s) const noexcept {
    return bits_ + static_cast<std::size_t>(s - meta_) * slab_words_;
  }
  uintptr_t slab_base(const SlabMeta* s) const noexcept {
    return base_ + (static_cast<uintptr_t>(s - meta_) << slab_shift_);
  }

  friend void pool_thread_exit_all(void*) noexcept;

  // Process-wide: guards every Pool's cache list, ThreadCache::pool, and the spare store of
  // ThreadCache structs (which are never unmapped, so a thread may outlive its Pool safely).
  static SpinLock registry_;
  static ThreadCache* spare_caches_;
  // 0: normal; 1: creating a cache (re-entrant calls go uncached); 2: thread is exiting.
  static ALLOCMARK_THREAD_LOCAL uint8_t thread_state_;

  // Hot, read-only after construction: first cache lines.
  uint64_t id_;
  std::size_t max_small_;
  uint8_t lut_[kMaxSmallLimit / 16 + 1];  // (n + 15) >> 4 -> class
  uint32_t class_size_[kMaxClasses];
  uint32_t class_max_[kMaxClasses];  // thread cache bound per class
  uint64_t div_magic_[kMaxClasses];  // ceil(2^40 / class size): block index by multiply
  std::size_t class_count_ = 0;
  PoolOptions options_;
  unsigned slab_shift_ = 0;
  uintptr_t base_ = 0;
  std::size_t units_ = 0;         // slab units in the reserved region
  std::size_t region_bytes_ = 0;  // units_ slabs: owns_small's bound without a multiply
  SlabMeta* meta_ = nullptr;
  // Free-block bitmaps, slab_words_ words per slab unit (one bit per 16 bytes), in their own
  // NORESERVE region like meta_ (0.8 % of a slab, touched only for slabs in use).
  uint64_t* bits_ = nullptr;
  std::size_t slab_words_ = 0;

  SpinLock units_lock_;
  std::size_t next_unit_ = 0;
  SlabMeta* free_units_ = nullptr;
  std::size_t live_slabs_ = 0;
  // Empty slabs past their class's keep_empty, pages still committed, most recently emptied
  // first: the next new slab of any class takes one before touching fresh address space, and
  // those empty for release_delay_ms are decommitted from the tail. Guarded by units_lock_.
  SlabMeta* idle_ = nullptr;
  SlabMeta* idle_tail_ = nullptr;

  ThreadCache* caches_ = nullptr;  // this pool's caches (registry lock)

  std::atomic<uint64_t> released_{0};
  std::atomic<uint64_t> committed_{0};  // bytes carved out of slabs, minus released
  std::atomic<uint64_t> out_bytes_{0};  // small bytes outside the central lists
  std::atomic<uint64_t> large_bytes_{0};
  std::atomic<uint64_t> os_maps_{0};
  std::atomic<uint64_t> os_unmaps_{0};

  // Large mapping cache, oldest first (a short array: lookups scan it, removal shifts it; both
  // cost less than the mmap they replace). Guarded by large_lock_.
  struct LargeEntry {
    uintptr_t base;
    std::size_t mapped;
    bool joined;  // coalesced: may span two kernel mappings, so never grown with mremap
  };
  mutable SpinLock large_lock_;
  std::size_t large_cached_ = 0;
  std::size_t large_cached_bytes_ = 0;
  LargeEntry large_cache_[kLargeCacheSlots];

  Central central_[kMaxClasses];
};

static_assert(Allocator<Pool> && Reallocating<Pool> && HasStats<Pool> && HasThreadExit<Pool>);

}  // namespace allocmark
