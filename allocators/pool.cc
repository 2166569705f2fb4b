// Pool slow paths: class table, thread cache life cycle, central lists, slabs, large blocks.
// Layer: allocators (leaf). No heap use: also the engine of the pool malloc shim.
#include "allocators/pool.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>

#include "allocators/os.h"
#include "base/clock.h"

namespace allocmark {

namespace {

enum SlabState : uint8_t { kUnused = 0, kPartial = 1, kFull = 2, kEmpty = 3 };

// Large blocks carry this header just below the user pointer.
struct LargeHeader {
  std::size_t offset;  // user pointer - mapping start
  std::size_t mapped;  // bytes mapped
};
static_assert(sizeof(LargeHeader) == 16);

constexpr std::size_t kCacheBatchBytes = 64 << 10;

// Slow start (the idea of tcmalloc's thread cache: a list's bound starts small and grows only
// while the thread keeps missing or overflowing it). A fresh list may hold kStartMax blocks; each
// miss (empty on allocate) or overflow (full on free) doubles its bound up to the class's
// cache_count / cache_bytes bound. A thread that allocates a few blocks of a class then exits
// (short-lived-threads: 1000 objects over ~40 classes) fetched half the full bound, 256 blocks of
// 16 bytes, carved them (a store and often a page fault per block) and flushed them back at exit;
// now it fetches 2, 4, 8 ... as it uses them. A steady thread reaches the full bound after about
// log2(bound / kStartMax) = 7 extra slow-path calls per class: nothing measurable.
constexpr uint32_t kStartMax = 4;

pthread_key_t g_exit_key;
pthread_once_t g_exit_once = PTHREAD_ONCE_INIT;

template <class Node>
void list_push(Node*& head, Node* n) noexcept {
  n->prev = nullptr;
  n->next = head;
  if (head != nullptr) head->prev = n;
  head = n;
}

template <class Node>
void list_remove(Node*& head, Node* n) noexcept {
  if (n->prev != nullptr) {
    n->prev->next = n->next;
  } else {
    head = n->next;
  }
  if (n->next != nullptr) n->next->prev = n->prev;
  n->next = n->prev = nullptr;
}

// Mapping size of a large block: whole pages, then up to the next of 4 steps per power of two
// (the same spacing as the small classes). Costs at most 25 % more address space, which stays
// untouched until realloc grows into it; buys cache hits for nearby sizes and in-place growth.
std::size_t large_mapping_size(std::size_t bytes, std::size_t page) noexcept {
  bytes = align_up(bytes, page);
  if (bytes <= 4 * page) return bytes;
  const std::size_t k = std::size_t{1} << (63 - __builtin_clzll(bytes - 1));  // < bytes, >= 4 pages
  return align_up(bytes, k / 4);
}

// Zeroes n bytes at p, inside a reused large mapping, for calloc. Up to kZeroByMemsetMax bytes
// are written with memset, as glibc, jemalloc, mimalloc and tcmalloc zero reused memory. Beyond
// that the whole pages go back to the kernel (MADV_DONTNEED, one system call): they read as
// zero and are backed again only where the caller writes, a fault per page written (what a
// fresh mapping costs too). The limit was 64 KiB, so every reused calloc above it paid a fault
// per page its caller wrote instead of a memset (a page fault with the kernel's zeroing costs
// several times a 4 KiB memset): mstress, all calloc'ed, touching every page, 64 KiB-8 MiB
// blocks from the cache: t2 4,430 to 2,700 minor faults and 78 to 69 ns/event (tcmalloc 2,670,
// 68), t1 2,560 to 2,100 and 106 to 85. The advice stays for the huge sparse tables it pays for.
constexpr std::size_t kZeroByMemsetMax = std::size_t{32} << 20;

void zero_reused(unsigned char* p, std::size_t n, std::size_t page) noexcept {
  if (n <= kZeroByMemsetMax) {
    std::memset(p, 0, n);
    return;
  }
  unsigned char* first =
      p + (align_up(reinterpret_cast<uintptr_t>(p), page) - reinterpret_cast<uintptr_t>(p));
  unsigned char* last = p + n - ((reinterpret_cast<uintptr_t>(p) + n) & (page - 1));
  std::memset(p, 0, static_cast<std::size_t>(first - p));
  os::decommit(first, static_cast<std::size_t>(last - first));
  std::memset(last, 0, static_cast<std::size_t>(p + n - last));
}

}  // namespace

SpinLock Pool::registry_;
Pool::ThreadCache* Pool::spare_caches_ = nullptr;
ALLOCMARK_THREAD_LOCAL uint8_t Pool::thread_state_;
ALLOCMARK_THREAD_LOCAL Pool::CacheSlot Pool::slots_[Pool::kSlots];

// pthread key destructor: flush every cache this thread holds, in every live Pool.
void pool_thread_exit_all(void*) noexcept {
  Pool::thread_state_ = 2;  // from here on this thread allocates uncached
  for (Pool::CacheSlot& s : Pool::slots_) {
    if (s.cache == nullptr) continue;
    SpinGuard g(Pool::registry_);
    Pool::ThreadCache* c = s.cache;
    if (c->pool != nullptr) {
      c->pool->flush_cache_locked(c);
      list_remove(c->pool->caches_, c);
    }
    c->next = Pool::spare_caches_;
    Pool::spare_caches_ = c;
    s = Pool::CacheSlot{0, nullptr};
  }
}

Pool::Pool(const PoolOptions& options) : id_(next_instance_id()), options_(options) {
  PoolOptions& o = options_;
  if (!is_pow2(o.slab_size) || o.slab_size < (64 << 10) || o.slab_size > (16 << 20)) {
    o.slab_size = PoolOptions{}.slab_size;
  }
  if (!is_pow2(o.classes_per_doubling) || o.classes_per_doubling > 8) o.classes_per_doubling = 4;
  o.max_small = std::min({o.max_small, kMaxSmallLimit, o.slab_size / 4});
  if (o.max_small < 256) o.max_small = 256;
  if (o.cache_count < 2) o.cache_count = 2;
  if (o.large_cache_count > kLargeCacheSlots) o.large_cache_count = kLargeCacheSlots;
  if (o.large_cache_count == 0) o.large_cache_bytes = 0;
  slab_shift_ = static_cast<unsigned>(__builtin_ctzll(o.slab_size));

  // Classes: 16..128 by 16, then classes_per_doubling steps per power of two.
  for (uint32_t sz = 16; sz <= 128 && sz <= o.max_small; sz += 16) class_size_[class_count_++] = sz;
  for (std::size_t k = 128; class_count_ < kMaxClasses; k *= 2) {
    const std::size_t step = k / o.classes_per_doubling;
    bool done = false;
    for (std::size_t j = 1; j <= o.classes_per_doubling; ++j) {
      const std::size_t sz = k + step * j;
      if (sz > o.max_small || class_count_ == kMaxClasses) {
        done = true;
        break;
      }
      class_size_[class_count_++] = static_cast<uint32_t>(sz);
    }
    if (done) break;
  }
  max_small_ = class_size_[class_count_ - 1];
  o.max_small = max_small_;
  std::memset(lut_, 0, sizeof lut_);
  std::size_t cls = 0;
  for (std::size_t idx = 0; idx <= max_small_ / 16; ++idx) {
    while (class_size_[cls] < idx * 16) ++cls;
    lut_[idx] = static_cast<uint8_t>(cls);
  }
  for (std::size_t i = 0; i < class_count_; ++i) {
    std::size_t m = o.cache_bytes / class_size_[i];
    if (m > o.cache_count) m = o.cache_count;
    if (m < 2) m = 2;
    if (m > (1u << 30)) m = 1u << 30;
    class_max_[i] = static_cast<uint32_t>(m);
    // Exact for every block offset: offset * size < slab_size * max_small <= 2^40.
    div_magic_[i] = ((uint64_t{1} << 40) + class_size_[i] - 1) / class_size_[i];
  }

  // The slab region, aligned to the slab size so a block's slab is found by shifting.
  std::size_t r = o.reserve & ~(o.slab_size - 1);
  void* region = nullptr;
  while (r >= 16 * o.slab_size && (region = os::reserve(r, o.slab_size)) == nullptr) r /= 2;
  if (region != nullptr) {
    slab_words_ = o.slab_size / 16 / 64;
    meta_ = static_cast<SlabMeta*>(os::reserve((r >> slab_shift_) * sizeof(SlabMeta)));
    bits_ = static_cast<uint64_t*>(os::reserve((r >> slab_shift_) * slab_words_ * 8));
    if (meta_ == nullptr || bits_ == nullptr) {
      if (meta_ != nullptr) os::release(meta_, (r >> slab_shift_) * sizeof(SlabMeta));
      if (bits_ != nullptr) os::release(bits_, (r >> slab_shift_) * slab_words_ * 8);
      meta_ = nullptr;
      bits_ = nullptr;
      os::release(region, r);
      region = nullptr;
    }
  }
  if (region != nullptr) {
    base_ = reinterpret_cast<uintptr_t>(region);
    units_ = r >> slab_shift_;
    region_bytes_ = units_ << slab_shift_;
    o.reserve = r;
    os_maps_.store(2, std::memory_order_relaxed);
  } else {
    o.reserve = 0;
  }
}

Pool::~Pool() {
  {
    SpinGuard g(registry_);
    for (ThreadCache* c = caches_; c != nullptr; c = c->next) c->pool = nullptr;
    caches_ = nullptr;
  }
  for (std::size_t i = 0; i < large_cached_; ++i) {
    os::release(reinterpret_cast<void*>(large_cache_[i].base), large_cache_[i].mapped);
  }
  if (base_ != 0) {
    os::release(reinterpret_cast<void*>(base_), units_ << slab_shift_);
    os::release(meta_, units_ * sizeof(SlabMeta));
    os::release(bits_, units_ * slab_words_ * 8);
  }
}

int Pool::class_of(std::size_t n, std::size_t align) const noexcept {
  if (n > max_small_) return -1;
  if (align <= kDefaultAlign) return lut_[(n + 15) >> 4];
  if (align > max_small_) return -1;
  // Blocks sit at slab_base + i * size, so a class serves `align` when its size is a multiple
  // of it (lowest set bit). Powers of two are classes, so the scan always ends by
  // max(next_pow2(n), align).
  for (std::size_t cls = lut_[(n + 15) >> 4]; cls < class_count_; ++cls) {
    const uint32_t sz = class_size_[cls];
    if ((sz & (~sz + 1)) >= align) return static_cast<int>(cls);
  }
  return -1;
}

Pool::ThreadCache* Pool::cache_for_thread() noexcept {
  if (thread_state_ != 0 || base_ == 0) return nullptr;
  thread_state_ = 1;  // pthread_setspecific may call calloc: that call goes uncached
  pthread_once(&g_exit_once, [] { pthread_key_create(&g_exit_key, pool_thread_exit_all); });
  CacheSlot& s = slots_[id_ & (kSlots - 1)];
  ThreadCache* c = nullptr;
  {
    SpinGuard g(registry_);
    if (s.cache != nullptr) {  // evict another Pool's cache from this slot
      ThreadCache* old = s.cache;
      if (old->pool != nullptr) {
        old->pool->flush_cache_locked(old);
        list_remove(old->pool->caches_, old);
      }
      old->next = spare_caches_;
      spare_caches_ = old;
      s = CacheSlot{0, nullptr};
    }
    if (spare_caches_ == nullptr) {
      auto* batch = static_cast<unsigned char*>(os::reserve(kCacheBatchBytes));
      if (batch != nullptr) {
        for (std::size_t off = 0; off + sizeof(ThreadCache) <= kCacheBatchBytes;
             off += sizeof(ThreadCache)) {
          auto* t = reinterpret_cast<ThreadCache*>(batch + off);
          t->next = spare_caches_;
          spare_caches_ = t;
        }
      }
    }
    if (spare_caches_ != nullptr) {
      c = spare_caches_;
      spare_caches_ = c->next;
    }
  }
  if (c != nullptr) {
    // Initialised outside the registry lock (its first use may fault its pages in): no other
    // thread reaches it until it is on this pool's list.
    c->owner = id_;
    // Every list starts at a bound of 0: the first free of a class goes to the slow path (see
    // free_to_cache_or_central) and the first allocation sets the slow-start bound.
    for (std::size_t i = 0; i < kMaxClasses; ++i) {
      c->lists[i] = FreeList{nullptr, 0, 0};
      c->foreign[i] = FreeList{nullptr, 0, 0};
    }
    {
      SpinGuard g(registry_);
      c->pool = this;
      list_push(caches_, c);
    }
    pthread_setspecific(g_exit_key, reinterpret_cast<void*>(1));
    s = CacheSlot{id_, c};
  }
  thread_state_ = 0;
  return c;
}

void Pool::flush_cache_locked(ThreadCache* c) noexcept {
  for (std::size_t cls = 0; cls < class_count_; ++cls) {
    FreeList& fl = c->lists[cls];
    if (fl.head != nullptr) flush(static_cast<unsigned>(cls), fl.head, fl.count);
    fl.head = nullptr;
    fl.count = 0;
    flush_foreign(c->foreign[cls], static_cast<unsigned>(cls));
    drain_transfer(static_cast<unsigned>(cls));
  }
}

// The flush runs outside the registry lock: the cache is first taken off this pool's list (so
// the destructor no longer reaches it) and this Pool is alive for the whole call, so nothing
// else can touch it. Under the lock, a thread preempted mid-flush (hundreds of central-lock
// round trips) stalled every thread starting or ending: short-lived-threads t1, 83 threads on
// 2 cores, had 100-1,600 involuntary context switches a replay (tcmalloc 3-54) from waiters
// yielding, and in-call outliers of 100 ns/event.
void Pool::thread_exit() noexcept {
  CacheSlot& s = slots_[id_ & (kSlots - 1)];
  if (s.owner != id_ || s.cache == nullptr) return;
  ThreadCache* c = s.cache;
  s = CacheSlot{0, nullptr};
  {
    SpinGuard g(registry_);
    list_remove(caches_, c);
  }
  flush_cache_locked(c);  // needs no lock of its own (see above)
  SpinGuard g(registry_);
  c->next = spare_caches_;
  spare_caches_ = c;
}

void* Pool::allocate_slow(std::size_t n, std::size_t align) noexcept {
  const int cls_or_large = class_of(n, align);
  if (cls_or_large < 0) return allocate_large(n, align);
  const auto cls = static_cast<unsigned>(cls_or_large);
  const CacheSlot& s = slots_[id_ & (kSlots - 1)];
  ThreadCache* c = s.owner == id_ ? s.cache : cache_for_thread();
  void* head = nullptr;
  if (c == nullptr) return refill(cls, 1, &head) != 0 ? head : nullptr;  // uncached
  FreeList& fl = c->lists[cls];
  if (fl.head == nullptr) {
    const bool first = fl.max == 0;
    if (first) fl.max = std::min(class_max_[cls], kStartMax);
    grow_bound(fl, cls);
    const std::size_t got = refill(cls, fl.max / 2 > 0 ? fl.max / 2 : 1, &fl.head, fl.max);
    fl.count = static_cast<uint32_t>(got);
    // After the refill, so the refill cannot hand the foreign blocks straight back.
    if (first) flush_foreign(c->foreign[cls], cls);
    if (got == 0) return nullptr;
  }
  void* p = fl.head;
  fl.head = *static_cast<void**>(p);
  --fl.count;
  return p;
}

void Pool::deallocate_slow(void* p, std::size_t n, std::size_t align) noexcept {
  if (p == nullptr) return;
  const int cls = class_of(n, align);
  if (cls < 0) return free_large(p);
  free_to_cache_or_central(p, static_cast<unsigned>(cls));
}

void Pool::free_to_cache_or_central(void* p, unsigned cls) noexcept {
  const CacheSlot& s = slots_[id_ & (kSlots - 1)];
  ThreadCache* c = s.owner == id_ ? s.cache : cache_for_thread();
  if (c == nullptr) {
    *static_cast<void**>(p) = nullptr;
    flush(cls, p, 1);
    return;
  }
  FreeList& fl = c->lists[cls];
  if (fl.max == 0) {
    // This thread has not allocated this class: the block came from another thread. Reused
    // here (tcmalloc's and glibc's choice) it would share cache lines with the blocks its
    // allocating thread still writes: passive false sharing (Hoard's cache-scratch; mimalloc
    // avoids it by returning a remote free to its owning page). It waits on the foreign list,
    // which the next allocation's refill never reads, and goes back to its slab in batches.
    // Cost: a consumer-only thread frees through this slow path (a call; a lock per batch).
    FreeList& f = c->foreign[cls];
    *static_cast<void**>(p) = f.head;
    f.head = p;
    if (++f.count >= class_max_[cls]) flush_foreign(f, cls);
    return;
  }
  if (fl.count >= fl.max && fl.max < class_max_[cls]) {
    grow_bound(fl, cls);  // still in slow start: keep the block
  } else if (fl.count >= fl.max) {
    // Give back the half nearest the head in one locked batch; the rest stays warm.
    const std::size_t k = fl.count / 2 > 0 ? fl.count / 2 : 1;
    void* first = fl.head;
    void* last = first;
    for (std::size_t i = 1; i < k; ++i) last = *static_cast<void**>(last);
    fl.head = *static_cast<void**>(last);
    fl.count -= static_cast<uint32_t>(k);
    *static_cast<void**>(last) = nullptr;
    release_batch(cls, first, k);
  }
  *static_cast<void**>(p) = fl.head;
  fl.head = p;
  ++fl.count;
}

// Never-used blocks are only reserved under the lock (the carve cursor moves); they are linked
// after it is released. Linking writes each block, the first write to its page: with the lock
// held, every page fault (a few microseconds, zeroing included) stalled the class's other
// threads, which spin and then yield; short-lived-threads (83 threads on 2 cores) yielded
// ~220 times a replay more than tcmalloc and its in-call time swung from 20 to 100 ns/event
// with the number of faults taken inside the lock.
std::size_t Pool::refill(unsigned cls, std::size_t want, void** head, std::size_t room) noexcept {
  Central& c = central_[cls];
  const std::size_t sz = class_size_[cls];
  void* chain = nullptr;
  void** tail = &chain;
  std::size_t got = 0;
  std::size_t carved = 0;
  struct Run {
    uintptr_t start;
    std::size_t n;
  };
  constexpr std::size_t kRuns = 8;  // slabs carved from in one refill (each may end a slab)
  Run runs[kRuns];
  std::size_t nr = 0;
  {
    SpinGuard g(c.lock);
    // A parked batch that fits the caller's list is taken whole: its blocks are already
    // linked and counted out of the slabs.
    if (c.batches != 0 && c.transfer[c.batches - 1].count <= room) {
      const Batch b = c.transfer[--c.batches];
      *head = b.head;
      return b.count;
    }
    while (got < want && nr < kRuns) {
      SlabMeta* s = c.partial;
      if (s == nullptr) {
        if (c.empty != nullptr) {  // most recently emptied: its pages are the warmest
          s = c.empty;
          c.empty = s->next;
          if (c.empty != nullptr) {
            c.empty->prev = nullptr;
          } else {
            c.empty_tail = nullptr;
          }
          s->next = s->prev = nullptr;
          --c.empty_count;
        } else {
          if (reclaim_parked(cls)) continue;  // blocks went back to their slabs: look again
          s = new_slab(cls);
          if (s == nullptr) break;
        }
        s->state = kPartial;
        list_push(c.partial, s);
      }
      if (got < want && s->nfree != 0) take_freed(s, sz, want, &got, &tail);
      if (got < want && s->carve + sz <= s->end) {
        std::size_t k = (s->end - s->carve) / sz;
        if (k > want - got) k = want - got;
        runs[nr++] = Run{s->carve, k};
        s->carve += k * sz;
        s->used += static_cast<uint32_t>(k);
        got += k;
        if (s->carve > s->touched) {  // carving past what an earlier class left committed
          carved += s->carve - s->touched;
          s->touched = s->carve;
        }
      }
      if (s->nfree == 0 && s->carve + sz > s->end) {
        list_remove(c.partial, s);
        s->state = kFull;
      }
    }
  }
  for (std::size_t r = 0; r < nr; ++r) {  // ours alone now: link them outside the lock
    uintptr_t b = runs[r].start;
    for (std::size_t i = 0; i < runs[r].n; ++i, b += sz) {
      *tail = reinterpret_cast<void*>(b);
      tail = reinterpret_cast<void**>(b);
    }
  }
  *tail = nullptr;
  *head = chain;
  if (carved != 0) committed_.fetch_add(carved, std::memory_order_relaxed);
  out_bytes_.fetch_add(got * sz, std::memory_order_relaxed);
  return got;
}

void Pool::release_batch(unsigned cls, void* head, std::size_t count) noexcept {
  Central& c = central_[cls];
  SpinGuard g(c.lock);
  if (c.batches < kTransferSlots) {
    c.transfer[c.batches++] = Batch{head, count};
    return;
  }
  flush_locked(c, cls, head, count);
}

void Pool::drain_transfer(unsigned cls) noexcept {
  Central& c = central_[cls];
  SpinGuard g(c.lock);
  drain_locked(c, cls);
}

bool Pool::drain_locked(Central& c, unsigned cls) noexcept {
  const bool any = c.batches != 0;
  while (c.batches != 0) {
    const Batch b = c.transfer[--c.batches];
    flush_locked(c, cls, b.head, b.count);
  }
  return any;
}

// Parked batches hold their slabs: realloc-growth, whose buffers leave each class behind, kept
// ~400 more pages (2,037 -> 2,434 faults a replay) while every class parked batches nobody
// took back. So before a class takes a slab that is not already committed and idle, every
// class's parked batches go back to their slabs, which may empty onto the idle list. Classes
// whose lock is busy are skipped (try_lock: no lock order to keep). Cost: a scan of the
// classes per new slab, against the slab's faults.
bool Pool::reclaim_parked(unsigned cls) noexcept {
  {
    SpinGuard g(units_lock_);
    if (idle_ != nullptr) return false;
  }
  bool any = false;
  for (std::size_t k = 0; k < class_count_; ++k) {
    Central& other = central_[k];
    if (k == cls) {  // lock held by the caller
      any |= drain_locked(other, cls);
    } else if (other.lock.try_lock()) {
      any |= drain_locked(other, static_cast<unsigned>(k));
      other.lock.unlock();
    }
  }
  return any;
}

// Freed blocks come back out of the slab's bitmap, searched from the word of the latest free
// (its lines are the likeliest still cached: searched from the lowest word instead,
// glibc-thread t1 replayed 4 % slower) and wrapping: the addresses are computed, so the blocks
// are written (linked) but never read. When the slab kept them on a list threaded through the
// blocks, each step loaded the next block's first word from a line usually evicted since its
// free: python3 churn under pool-malloc spent 45-54 ms of its ~500 in that walk (914 K blocks,
// ~55 ns each, rdtsc around it), the whole of its gap to jemalloc, whose slabs keep bitmaps
// too. The stores that link the blocks miss as often but do not wait on each other.
void Pool::take_freed(SlabMeta* s, std::size_t sz, std::size_t want, std::size_t* got,
                      void*** tail) noexcept {
  uint64_t* words = bits_of(s);
  const uintptr_t base = slab_base(s);
  std::size_t w = s->scan;
  // Counters in registers: stores through t may alias *s as far as the compiler knows.
  const std::size_t take = std::min<std::size_t>(want - *got, s->nfree);
  void** t = *tail;
  const std::size_t end = (options_.slab_size / sz + 63) >> 6;  // words holding blocks
  for (std::size_t left = take; left != 0;) {                   // some bit is set while nfree > 0
    uint64_t bits = words[w];
    if (bits == 0) {
      w = w + 1 < end ? w + 1 : 0;
      continue;
    }
    const uintptr_t first = base + (w << 6) * sz;
    do {
      void* b = reinterpret_cast<void*>(first + __builtin_ctzll(bits) * sz);
      bits &= bits - 1;
      *t = b;
      t = static_cast<void**>(b);
    } while (--left != 0 && bits != 0);
    words[w] = bits;
  }
  s->scan = static_cast<uint32_t>(w);
  s->nfree -= static_cast<uint32_t>(take);
  s->used += static_cast<uint32_t>(take);
  *got += take;
  *tail = t;
}

void Pool::flush(unsigned cls, void* head, std::size_t count) noexcept {
  Central& c = central_[cls];
  SpinGuard g(c.lock);
  flush_locked(c, cls, head, count);
}

void Pool::flush_locked(Central& c, unsigned cls, void* head, std::size_t count) noexcept {
  uint32_t now = 0;  // read the clock at most once per flush, and only if a slab empties
  while (head != nullptr) {
    void* b = head;
    head = *static_cast<void**>(b);
    SlabMeta* s = meta_of(b);
    const uint64_t i =
        ((reinterpret_cast<uintptr_t>(b) - base_) & (options_.slab_size - 1)) * div_magic_[cls] >>
        40;
    bits_of(s)[i >> 6] |= uint64_t{1} << (i & 63);
    s->scan = static_cast<uint32_t>(i >> 6);
    ++s->nfree;
    --s->used;
    if (s->state == kFull) {
      s->state = kPartial;
      list_push(c.partial, s);
    }
    if (s->used == 0) {
      list_remove(c.partial, s);
      s->state = kEmpty;
      s->empty_since = now != 0 ? now : (now = coarse_ms());
      s->prev = nullptr;
      s->next = c.empty;
      if (c.empty != nullptr) {
        c.empty->prev = s;
      } else {
        c.empty_tail = s;
      }
      c.empty = s;
      ++c.empty_count;
    }
  }
  // Surplus empty slabs (past keep_empty, the longest empty first) leave the class for the
  // idle list, where any class can take them with their pages still committed.
  if (c.empty_count > options_.keep_empty) {
    if (now == 0) now = coarse_ms();
    while (c.empty_count > options_.keep_empty) {
      SlabMeta* s = c.empty_tail;
      c.empty_tail = s->prev;
      if (c.empty_tail != nullptr) {
        c.empty_tail->next = nullptr;
      } else {
        c.empty = nullptr;
      }
      s->next = s->prev = nullptr;
      --c.empty_count;
      retire_slab(s, now);
    }
  }
  out_bytes_.fetch_sub(count * class_size_[cls], std::memory_order_relaxed);
}

// Segment reuse (mimalloc returns a free page to its segment for any size class; tcmalloc
// returns a free span to the page heap): an empty slab no class keeps goes to the idle list with
// its pages committed, and a class needing a slab takes the most recently emptied one before
// fresh address space, re-carved for its own block size. Before, each class kept its own
// empty slab (keep_empty) and released the surplus after release_delay_ms with
// madvise(DONTNEED), so memory freed by one class was refaulted by the next: realloc-growth,
// whose buffers walk up through ~44 classes, held 10.9 MB (RSS growth) for 2.5 MB live and took
// 2,720 minor faults a replay (jemalloc 3.9 MB, 940); now 8.4 MB and 2,040 (with keep_empty 0).
// Cost: a slab of another class is re-carved (the carve stores a refill does anyway), and a
// pointer test per new slab. Not reached: slabs that never empty because thread caches hold
// a few of their blocks (glibc-simple: one 256 KiB slab per class, 1.1 MB for 0.2 MB live).
Pool::SlabMeta* Pool::new_slab(unsigned cls) noexcept {
  SlabMeta* s = nullptr;
  bool reused = false;
  const std::size_t sz = class_size_[cls];
  {
    SpinGuard g(units_lock_);
    if (idle_ != nullptr) {
      // The most recently emptied: its pages are the warmest. (Preferring one of this class,
      // whose free list is whole, measured worse: mstress t1 kept 1.2 MB more committed.)
      s = idle_;
      idle_ = s->next;
      if (idle_ != nullptr) {
        idle_->prev = nullptr;
      } else {
        idle_tail_ = nullptr;
      }
      s->next = s->prev = nullptr;
      s->state = kPartial;
      if (s->cls == cls) return s;  // its bitmap is whole: used as it is
      reused = true;
    } else if (free_units_ != nullptr) {
      reused = true;
      s = free_units_;
      free_units_ = s->next;
      ++live_slabs_;
    } else if (next_unit_ < units_) {
      s = &meta_[next_unit_++];
      ++live_slabs_;
      s->touched = slab_base(s);
    } else {
      return nullptr;
    }
  }
  const uintptr_t base = slab_base(s);
  const std::size_t cap = options_.slab_size / sz;
  // A used unit's bitmap may hold its previous class's free bits (a fresh one is untouched).
  if (reused) std::memset(bits_of(s), 0, slab_words_ * sizeof(uint64_t));
  s->nfree = 0;
  s->scan = 0;
  s->carve = base;
  s->end = base + cap * sz;
  s->next = s->prev = nullptr;
  s->used = 0;
  s->capacity = static_cast<uint32_t>(cap);
  s->cls = static_cast<uint16_t>(cls);
  s->state = kPartial;
  return s;
}

void Pool::retire_slab(SlabMeta* s, uint32_t now) noexcept {
  SlabMeta* victims[16];
  std::size_t nv = 0;
  {
    SpinGuard g(units_lock_);
    s->prev = nullptr;
    s->next = idle_;
    if (idle_ != nullptr) {
      idle_->prev = s;
    } else {
      idle_tail_ = s;
    }
    idle_ = s;
    // The longest idle first: decommitted once no class took them within the delay (the delay
    // stops alloc-all/free-all cycles from refaulting every page, as mimalloc's purge delay
    // does). At most 16 a call; the rest wait for the next.
    while (options_.release_empty && nv < 16 && idle_tail_ != nullptr &&
           now - idle_tail_->empty_since >= options_.release_delay_ms) {
      SlabMeta* t = idle_tail_;
      idle_tail_ = t->prev;
      if (idle_tail_ != nullptr) {
        idle_tail_->next = nullptr;
      } else {
        idle_ = nullptr;
      }
      victims[nv++] = t;
    }
  }
  // Off the list and in no class: nobody else reaches these slabs until they are free units.
  for (std::size_t i = 0; i < nv; ++i) release_slab(victims[i]);
}

void Pool::release_slab(SlabMeta* s) noexcept {
  const uintptr_t base = slab_base(s);
  // Only the pages carved since the last release were touched; the rest hold nothing.
  const std::size_t touched = align_up(s->touched - base, os::page_size());
  if (touched != 0) os::decommit(reinterpret_cast<void*>(base), touched);
  committed_.fetch_sub(s->touched - base, std::memory_order_relaxed);
  s->nfree = 0;
  s->carve = s->touched = base;
  s->state = kUnused;
  released_.fetch_add(1, std::memory_order_relaxed);
  SpinGuard g(units_lock_);
  s->prev = nullptr;
  s->next = free_units_;
  free_units_ = s;
  --live_slabs_;
}

void* Pool::calloc(std::size_t count, std::size_t size) noexcept {
  std::size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return nullptr;
  if (n > max_small_) return allocate_large(n, 0, true);
  void* p = allocate(n, 0);
  if (p != nullptr) std::memset(p, 0, n);
  return p;
}

void* Pool::allocate_large(std::size_t n, std::size_t align, bool zero) noexcept {
  const std::size_t a = align > kDefaultAlign ? align : kDefaultAlign;
  if (n > SIZE_MAX / 4 || a > SIZE_MAX / 4) return nullptr;
  const std::size_t page = os::page_size();
  // The header sits just below the user pointer, at `offset` = a from the mapping start: that is
  // >= sizeof(LargeHeader) and keeps the user pointer a-aligned once the mapping is
  // max(a, page)-aligned.
  const std::size_t offset = a;
  std::size_t mapped;
  void* m;
  if (a <= page) {
    mapped = large_mapping_size(offset + n, page);
    m = take_large(offset + n, offset, zero ? n : 0, &mapped);
    if (m == nullptr) {
      m = os::reserve(mapped, page);
      if (m == nullptr) return nullptr;
      os_maps_.fetch_add(1, std::memory_order_relaxed);
    }
  } else {  // over-aligned: mapped and unmapped on its own, never cached or remapped
    mapped = align_up(offset + n, page);
    m = os::reserve(mapped, a);
    if (m == nullptr) return nullptr;
    os_maps_.fetch_add(1, std::memory_order_relaxed);
  }
  large_bytes_.fetch_add(mapped, std::memory_order_relaxed);
  auto* user = static_cast<unsigned char*>(m) + offset;
  reinterpret_cast<LargeHeader*>(user)[-1] = LargeHeader{offset, mapped};
  return user;
}

void* Pool::take_large(std::size_t need, std::size_t offset, std::size_t zero_n,
                       std::size_t* mapped_io) noexcept {
  const std::size_t mapped = *mapped_io;
  std::size_t got = mapped;
  auto* m = reinterpret_cast<unsigned char*>(take_cached_large(need, &got));
  if (m == nullptr) return nullptr;
  const std::size_t page = os::page_size();
  // The user bytes that held someone else's data: all of them, or the part of a grown mapping
  // below its old end (the rest is fresh from mremap, zero-filled by the kernel).
  // A close fit (need <= got) is used as it is, even when a fresh mapping would be rounded up
  // further (growing it to that size was an mremap for nothing); only a smaller mapping
  // (got < need) is grown, to the size a fresh one would have.
  const bool grow = got < need;
  const std::size_t reused = !grow ? zero_n : std::min(zero_n, got - offset);
  if (grow) {
    // Grow the cached mapping to the size wanted: its pages move with it (no fault, no copy),
    // only the tail is new. Same system call count as the mmap it replaces.
    auto* grown = static_cast<unsigned char*>(os::remap(m, got, mapped));
    if (grown == nullptr) {  // e.g. a coalesced range spanning two kernel mappings
      cache_large(reinterpret_cast<uintptr_t>(m), got, false);
      return nullptr;
    }
    m = grown;
  }
  *mapped_io = grow ? mapped : got;
  if (reused != 0) zero_reused(m + offset, reused, page);
  return m;
}

uintptr_t Pool::take_cached_large(std::size_t need, std::size_t* mapped) noexcept {
  if (options_.large_cache_bytes == 0) return 0;
  SpinGuard g(large_lock_);
  // First choice, best fit among mappings of need .. 1.5 * need bytes, newest first on ties
  // (warmest pages): used whole, no system call.
  std::size_t best = large_cached_;
  const std::size_t limit = need + need / 2;
  for (std::size_t i = large_cached_; i-- > 0;) {
    const std::size_t m = large_cache_[i].mapped;
    if (m >= need && m <= limit && (best == large_cached_ || m < large_cache_[best].mapped)) {
      best = i;
      if (m == *mapped) break;  // exactly the size a fresh mapping would have
    }
  }
  if (best == large_cached_) return take_cached_split(need, mapped);
  const LargeEntry e = large_cache_[best];
  std::memmove(&large_cache_[best], &large_cache_[best + 1],
               (large_cached_ - best - 1) * sizeof(LargeEntry));
  --large_cached_;
  large_cached_bytes_ -= e.mapped;
  *mapped = e.mapped;
  return e.base;
}

// No close fit: reuse committed pages anyway, as a page heap reuses free spans (tcmalloc splits
// a larger span, jemalloc splits or extends an extent). A larger mapping is split: its head, the
// `*mapped` bytes a fresh mapping would have, goes out and the tail stays cached, no system
// call. Else the largest smaller one of at least need / 4 is returned for the caller to grow
// with mremap (*mapped < need). Each page reused is a page fault and a page of zeroing saved
// (large-buffers, 5-25 MiB: tcmalloc took 47.8k faults a replay, pool 67.4k without this).
// large_lock_ held.
uintptr_t Pool::take_cached_split(std::size_t need, std::size_t* mapped) noexcept {
  std::size_t larger = large_cached_, smaller = large_cached_;
  for (std::size_t i = large_cached_; i-- > 0;) {
    const std::size_t m = large_cache_[i].mapped;
    if (m >= *mapped) {
      if (larger == large_cached_ || m < large_cache_[larger].mapped) larger = i;
    } else if (m >= need / 4 && !large_cache_[i].joined) {
      if (smaller == large_cached_ || m > large_cache_[smaller].mapped) smaller = i;
    }
  }
  if (larger != large_cached_) {
    LargeEntry& e = large_cache_[larger];
    const uintptr_t base = e.base;
    e.base += *mapped;
    e.mapped -= *mapped;
    large_cached_bytes_ -= *mapped;
    if (e.mapped == 0) remove_cached_large(larger);
    return base;
  }
  if (smaller == large_cached_) return 0;
  const LargeEntry e = large_cache_[smaller];
  remove_cached_large(smaller);
  *mapped = e.mapped;
  return e.base;
}

void Pool::remove_cached_large(std::size_t i) noexcept {
  large_cached_bytes_ -= large_cache_[i].mapped;
  std::memmove(&large_cache_[i], &large_cache_[i + 1],
               (large_cached_ - i - 1) * sizeof(LargeEntry));
  --large_cached_;
}

void Pool::free_large(void* p) noexcept {
  const LargeHeader h = reinterpret_cast<LargeHeader*>(p)[-1];
  large_bytes_.fetch_sub(h.mapped, std::memory_order_relaxed);
  const uintptr_t base = reinterpret_cast<uintptr_t>(p) - h.offset;
  if (h.offset <= os::page_size()) return cache_large(base, h.mapped, true);
  os_unmaps_.fetch_add(1, std::memory_order_relaxed);  // over-aligned: never cached
  os::release(reinterpret_cast<void*>(base), h.mapped);
}

void Pool::cache_large(uintptr_t start, std::size_t size, bool merge) noexcept {
  const std::size_t bound = options_.large_cache_bytes;
  // Unmapped after the lock is dropped: a system call never runs under a spin lock.
  LargeEntry victims[kLargeCacheSlots];
  std::size_t nv = 0;
  if (size <= bound) {
    SpinGuard g(large_lock_);
    // Coalesce with cached neighbours (a page heap's coalescing of free spans, as tcmalloc and
    // jemalloc do): a split head coming back rejoins the tail it was cut from, so the cache
    // holds one entry, not a trail of ever smaller pieces that fill large_cache_count and are
    // then unmapped while still committed. fleet (32 KiB-4 MiB blocks): 231 munmaps and 78
    // mremaps a replay, now ~110 and ~45; in-call time 45-55 to 25-35 ns/event. Two adjacent
    // separate mappings may join too: munmap and madvise cover any range, but mremap of a range
    // spanning two kernel mappings fails, so a joined entry is never grown (take_cached_split),
    // and a failure is handled anyway (take_large puts the range back unjoined and maps afresh;
    // reallocate copies). A join that would pass large_cache_bytes is not made. Cost: a scan of
    // at most large_cache_count entries, under the lock taken anyway.
    const std::size_t n0 = large_cached_;
    std::size_t prev = n0, next = n0, total = size;
    for (std::size_t i = merge ? n0 : 0; i-- > 0;) {
      const LargeEntry& e = large_cache_[i];
      if (e.base + e.mapped == start) prev = i, total += e.mapped;
      if (start + size == e.base) next = i, total += e.mapped;
    }
    // Not past the bound: a range that large would be unmapped whole, committed pages and all.
    const bool coalesce = total != size && total <= bound;
    if (coalesce) {
      if (prev != n0) start = large_cache_[prev].base;
      size = total;
      // The higher index first, so removing it does not move the other.
      const std::size_t hi = prev != n0 && (next == n0 || prev > next) ? prev : next;
      const std::size_t lo = hi == prev ? next : prev;
      remove_cached_large(hi);
      if (lo != n0) remove_cached_large(lo);
    }
    while (large_cached_ != 0 &&
           (large_cached_ == options_.large_cache_count || large_cached_bytes_ + size > bound)) {
      victims[nv++] = large_cache_[0];  // the oldest: least likely to be warm or wanted
      remove_cached_large(0);
    }
    large_cache_[large_cached_++] = LargeEntry{start, size, coalesce};
    large_cached_bytes_ += size;
    size = 0;
  }
  if (size != 0) victims[nv++] = LargeEntry{start, size, false};  // above the bound: back to the OS
  for (std::size_t i = 0; i < nv; ++i) {
    os_unmaps_.fetch_add(1, std::memory_order_relaxed);
    os::release(reinterpret_cast<void*>(victims[i].base), victims[i].mapped);
  }
}

void* Pool::reallocate_large(void* p, std::size_t n) noexcept {
  auto* h = reinterpret_cast<LargeHeader*>(p) - 1;
  const std::size_t usable = h->mapped - h->offset;
  if (n <= usable) return n >= usable / 2 ? p : nullptr;  // shrinking below half: copy out
  const std::size_t page = os::page_size();
  if (h->offset > page || n > SIZE_MAX / 4) return nullptr;  // over-aligned: mremap may misalign
  // Growth past the mapping: mremap moves the page tables, never the bytes. One system call
  // (about 1-3 us plus a TLB flush if it moves) against a memcpy of the whole block and a fault
  // for every page of the copy; the class rounding above leaves the next steps in place.
  const std::size_t mapped = large_mapping_size(h->offset + n, page);
  const std::size_t offset = h->offset, old_mapped = h->mapped;
  auto* m = static_cast<unsigned char*>(
      os::remap(static_cast<unsigned char*>(p) - offset, old_mapped, mapped));
  if (m == nullptr) return nullptr;
  large_bytes_.fetch_add(mapped - old_mapped, std::memory_order_relaxed);
  reinterpret_cast<LargeHeader*>(m + offset)[-1].mapped = mapped;
  return m + offset;
}

std::size_t Pool::usable_size(const void* p) const noexcept {
  if (p == nullptr) return 0;
  if (owns_small(p)) return class_size_[meta_of(p)->cls];
  const LargeHeader h = reinterpret_cast<const LargeHeader*>(p)[-1];
  return h.mapped - h.offset;
}

void* Pool::reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept {
  if (p == nullptr) return allocate(n, align);
  const int oc = class_of(old_n, align);
  const int nc = class_of(n, align);
  if (oc >= 0 && oc == nc) return p;
  if (oc < 0 && nc < 0) {
    if (void* q = reallocate_large(p, n)) return q;
  }
  void* q = allocate(n, align);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, old_n < n ? old_n : n);
  deallocate(p, old_n, align);
  return q;
}

void* Pool::reallocate_unsized(void* p, std::size_t n) noexcept {
  if (p == nullptr) return allocate(n, 0);
  const std::size_t usable = usable_size(p);
  if (owns_small(p)) {
    if (n <= max_small_ && lut_[(n + 15) >> 4] == meta_of(p)->cls) return p;
  } else if (n > max_small_) {
    if (void* q = reallocate_large(p, n)) return q;
  }
  void* q = allocate(n, 0);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, usable < n ? usable : n);
  deallocate_unsized(p);
  return q;
}

std::size_t Pool::cached_large() const noexcept {
  SpinGuard g(large_lock_);
  return large_cached_;
}

std::size_t Pool::cached_large_bytes() const noexcept {
  SpinGuard g(large_lock_);
  return large_cached_bytes_;
}

std::size_t Pool::parked_batches() const noexcept {
  std::size_t n = 0;
  for (std::size_t k = 0; k < class_count_; ++k) {
    SpinGuard g(const_cast<SpinLock&>(central_[k].lock));
    n += central_[k].batches;
  }
  return n;
}

std::size_t Pool::live_slabs() const noexcept {
  SpinGuard g(const_cast<SpinLock&>(units_lock_));
  return live_slabs_;
}

AllocatorStats Pool::stats() const noexcept {
  AllocatorStats st;
  const uint64_t large = large_bytes_.load(std::memory_order_relaxed);
  const uint64_t cached = cached_large_bytes();  // committed, not in use
  st.bytes_reserved =
      (units_ << slab_shift_) + units_ * (sizeof(SlabMeta) + slab_words_ * 8) + large + cached;
  st.bytes_committed = committed_.load(std::memory_order_relaxed) + large + cached;
  st.bytes_in_use = out_bytes_.load(std::memory_order_relaxed) + large;  // incl. thread caches
  st.os_maps = os_maps_.load(std::memory_order_relaxed);
  st.os_unmaps = os_unmaps_.load(std::memory_order_relaxed) + released_.load();
  return st;
}

void Pool::lock_all() noexcept {
  registry_.lock();
  for (std::size_t i = 0; i < class_count_; ++i) central_[i].lock.lock();
  units_lock_.lock();
  large_lock_.lock();
}

void Pool::unlock_all() noexcept {
  large_lock_.unlock();
  units_lock_.unlock();
  for (std::size_t i = class_count_; i-- > 0;) central_[i].lock.unlock();
  registry_.unlock();
}

}  // namespace allocmark
