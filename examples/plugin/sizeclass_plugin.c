/* sizeclass: an example allocmark plugin, built out of tree against include/allocmark/plugin.h.
 * Layer: example (depends only on that header, libc and pthreads; never on allocmark's code).
 *
 * A size-class allocator over mmap'd slabs. 40 classes (16-byte steps to 128, then four per
 * doubling to 32 KiB); each class has a lock, an intrusive free list and a bump range in its
 * current slab. Sized free is what makes it simple: deallocate is told the size, so it finds the
 * class without any per-block header or slab lookup. Larger requests get their own mapping with
 * a 64-byte header (kept so reset and destroy can find them). Thread-safe: one mutex per class,
 * one for large blocks; a block may be freed by any thread. Failure: NULL from allocate.
 *
 * Cost: an uncontended pthread mutex pair (~20-40 ns) per call; an allocator with per-thread
 * caches avoids it, this one stays short on purpose.
 */
#define _GNU_SOURCE
#include <allocmark/plugin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum {
  kSmallClasses = 40,
  kMaxSmall = 32768,
  kPage = 4096,
  kTrailer = 64,     /* slab link at the end of each slab, so blocks start slab-aligned */
  kLargeHeader = 64, /* header just before a large block */
};

struct slab_trailer {
  struct slab_trailer* next;
  char* base;
};

struct size_class {
  _Alignas(64) pthread_mutex_t lock;
  void* free_list; /* intrusive: the first word of a free block points to the next */
  char* cur;       /* bump range in the newest slab */
  char* end;
  struct slab_trailer* slabs; /* in use since the last reset */
  struct slab_trailer* spare; /* kept mapped by reset, reused before mapping new ones */
  /* Written under the lock, read by stats() without it: atomics, relaxed, no RMW. */
  _Atomic uint64_t in_use, reserved, maps, unmaps;
};

struct large_block {
  struct large_block* prev;
  struct large_block* next;
  void* base;
  size_t len;
  size_t size;
};
_Static_assert(sizeof(struct large_block) <= kLargeHeader, "large header too big");

struct state {
  struct size_class classes[kSmallClasses];
  size_t slab_size; /* a power of two >= 64 KiB: every power-of-two class divides it */
  pthread_mutex_t large_lock;
  struct large_block* large;
  _Atomic uint64_t large_in_use, large_reserved, large_maps, large_unmaps;
};

/* Class of an n-byte request (1 <= n <= kMaxSmall). About 6 instructions. */
static inline unsigned class_of(size_t n) {
  if (n <= 128) return (unsigned)((n + 15) >> 4) - 1;
  const unsigned p = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
  return 8 + (p - 7) * 4 + (unsigned)((n - 1) >> (p - 2)) - 4;
}

static inline size_t class_size(unsigned c) {
  if (c < 8) return (size_t)(c + 1) * 16;
  const unsigned k = c - 8, p = 7 + k / 4;
  return ((size_t)1 << p) + (size_t)(k % 4 + 1) * ((size_t)1 << (p - 2));
}

/* The request a (size, align) pair is served as: alignments above 16 round the size up to a
 * power of two >= align; such blocks sit at multiples of their size in a slab aligned to
 * slab_size, hence aligned. Returns 0 for "large". Both allocate and deallocate call this with
 * the same (size, align), so they agree on the class. */
static inline size_t small_request(size_t size, size_t align) {
  size_t n = size ? size : 1;
  if (align > 16) {
    if (n < align) n = align;
    n = (size_t)1 << (64 - __builtin_clzll((unsigned long long)(n - 1)));
  }
  return n <= kMaxSmall ? n : 0;
}

static void* map_aligned(size_t len, size_t align) {
  const size_t total = len + align;
  char* raw = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  char* p = (char*)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
  if (p > raw) munmap(raw, (size_t)(p - raw));
  if (raw + total > p + len) munmap(p + len, (size_t)(raw + total - (p + len)));
  return p;
}

/* Slow path: a spare or new slab for class k (lock held). */
static int refill(struct state* s, struct size_class* k) {
  struct slab_trailer* t = k->spare;
  if (t) {
    k->spare = t->next;
    t->next = k->slabs;
    k->slabs = t;
    k->cur = t->base;
    k->end = t->base + s->slab_size - kTrailer;
    return 1;
  }
  char* base = map_aligned(s->slab_size, s->slab_size);
  if (!base) return 0;
  t = (struct slab_trailer*)(base + s->slab_size - kTrailer);
  t->base = base;
  t->next = k->slabs;
  k->slabs = t;
  k->cur = base;
  k->end = base + s->slab_size - kTrailer;
  atomic_store_explicit(&k->reserved,
                        atomic_load_explicit(&k->reserved, memory_order_relaxed) + s->slab_size,
                        memory_order_relaxed);
  atomic_store_explicit(&k->maps, atomic_load_explicit(&k->maps, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  return 1;
}

static void bump_counter(_Atomic uint64_t* c, int64_t delta) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)delta,
                        memory_order_relaxed);
}

static void* allocate_large(struct state* s, size_t size, size_t align) {
  if (align < 16) align = 16;
  const size_t room = align > kLargeHeader ? align : kLargeHeader;
  if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) return NULL;
  size_t len = room + size + (align > kPage ? align : 0);
  len = (len + kPage - 1) & ~(size_t)(kPage - 1);
  char* base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return NULL;
  char* p = (char*)(((uintptr_t)base + room + align - 1) & ~(uintptr_t)(align - 1));
  struct large_block* h = (struct large_block*)(p - kLargeHeader);
  h->base = base;
  h->len = len;
  h->size = size;
  h->prev = NULL;
  pthread_mutex_lock(&s->large_lock);
  h->next = s->large;
  if (s->large) s->large->prev = h;
  s->large = h;
  bump_counter(&s->large_in_use, (int64_t)size);
  bump_counter(&s->large_reserved, (int64_t)len);
  bump_counter(&s->large_maps, 1);
  pthread_mutex_unlock(&s->large_lock);
  return p;
}

static void deallocate_large(struct state* s, void* ptr) {
  struct large_block* h = (struct large_block*)((char*)ptr - kLargeHeader);
  pthread_mutex_lock(&s->large_lock);
  if (h->prev)
    h->prev->next = h->next;
  else
    s->large = h->next;
  if (h->next) h->next->prev = h->prev;
  bump_counter(&s->large_in_use, -(int64_t)h->size);
  bump_counter(&s->large_reserved, -(int64_t)h->len);
  bump_counter(&s->large_unmaps, 1);
  pthread_mutex_unlock(&s->large_lock);
  munmap(h->base, h->len);
}

static void* sc_allocate(void* state, size_t size, size_t align) {
  struct state* s = state;
  const size_t n = small_request(size, align);
  if (!n) return allocate_large(s, size, align);
  struct size_class* k = &s->classes[class_of(n)];
  const size_t bytes = class_size(class_of(n));
  pthread_mutex_lock(&k->lock);
  void* p = k->free_list;
  if (p) {
    k->free_list = *(void**)p;
  } else {
    if (k->cur + bytes > k->end && !refill(s, k)) {
      pthread_mutex_unlock(&k->lock);
      return NULL;
    }
    p = k->cur;
    k->cur += bytes;
  }
  bump_counter(&k->in_use, (int64_t)bytes);
  pthread_mutex_unlock(&k->lock);
  return p;
}

static void sc_deallocate(void* state, void* ptr, size_t size, size_t align) {
  struct state* s = state;
  const size_t n = small_request(size, align);
  if (!n) {
    deallocate_large(s, ptr);
    return;
  }
  struct size_class* k = &s->classes[class_of(n)];
  pthread_mutex_lock(&k->lock);
  *(void**)ptr = k->free_list;
  k->free_list = ptr;
  bump_counter(&k->in_use, -(int64_t)class_size(class_of(n)));
  pthread_mutex_unlock(&k->lock);
}

/* Large to large with at most page alignment: mremap, which moves pages instead of bytes (the
 * header keeps its offset from the mapping's start, so it moves along). NULL when it fails. */
static void* reallocate_large(struct state* s, void* ptr, size_t new_size) {
  struct large_block* h = (struct large_block*)((char*)ptr - kLargeHeader);
  const size_t offset = (size_t)((char*)ptr - (char*)h->base);
  if (new_size > SIZE_MAX / 2) return NULL;
  const size_t len = (offset + new_size + kPage - 1) & ~(size_t)(kPage - 1);
  pthread_mutex_lock(&s->large_lock);
  if (len == h->len) { /* same pages: no system call */
    bump_counter(&s->large_in_use, (int64_t)new_size - (int64_t)h->size);
    h->size = new_size;
    pthread_mutex_unlock(&s->large_lock);
    return ptr;
  }
  char* base = mremap(h->base, h->len, len, MREMAP_MAYMOVE);
  if (base == MAP_FAILED) {
    pthread_mutex_unlock(&s->large_lock);
    return NULL;
  }
  struct large_block* moved = (struct large_block*)(base + offset - kLargeHeader);
  if (moved->prev)
    moved->prev->next = moved;
  else
    s->large = moved;
  if (moved->next) moved->next->prev = moved;
  bump_counter(&s->large_in_use, (int64_t)new_size - (int64_t)moved->size);
  bump_counter(&s->large_reserved, (int64_t)len - (int64_t)moved->len);
  moved->base = base;
  moved->len = len;
  moved->size = new_size;
  pthread_mutex_unlock(&s->large_lock);
  return base + offset;
}

/* In place when the new size falls in the same class, mremap between large blocks; otherwise
 * allocate, copy, free. */
static void* sc_reallocate(void* state, void* ptr, size_t old_size, size_t new_size, size_t align) {
  const size_t a = small_request(old_size, align), b = small_request(new_size, align);
  if (a && b && class_of(a) == class_of(b)) return ptr;
  if (!a && !b && align <= kPage) return reallocate_large(state, ptr, new_size);
  void* q = sc_allocate(state, new_size, align);
  if (!q) return NULL;
  memcpy(q, ptr, old_size < new_size ? old_size : new_size);
  sc_deallocate(state, ptr, old_size, align);
  return q;
}

/* Frees every block at once. Slabs stay mapped as spares (a phase-structured program would
 * map them again at once); large mappings are given back. With no other call in flight. */
static void sc_reset(void* state) {
  struct state* s = state;
  for (unsigned c = 0; c < kSmallClasses; ++c) {
    struct size_class* k = &s->classes[c];
    pthread_mutex_lock(&k->lock);
    while (k->slabs) {
      struct slab_trailer* t = k->slabs;
      k->slabs = t->next;
      t->next = k->spare;
      k->spare = t;
    }
    k->free_list = NULL;
    k->cur = k->end = NULL;
    atomic_store_explicit(&k->in_use, 0, memory_order_relaxed);
    pthread_mutex_unlock(&k->lock);
  }
  pthread_mutex_lock(&s->large_lock);
  while (s->large) {
    struct large_block* h = s->large;
    s->large = h->next;
    munmap(h->base, h->len);
    bump_counter(&s->large_unmaps, 1);
  }
  atomic_store_explicit(&s->large_in_use, 0, memory_order_relaxed);
  atomic_store_explicit(&s->large_reserved, 0, memory_order_relaxed);
  pthread_mutex_unlock(&s->large_lock);
}

static void sc_stats(const void* state, struct allocmark_plugin_stats* out) {
  const struct state* s = state;
  for (unsigned c = 0; c < kSmallClasses; ++c) {
    const struct size_class* k = &s->classes[c];
    out->bytes_in_use += atomic_load_explicit(&k->in_use, memory_order_relaxed);
    out->bytes_reserved += atomic_load_explicit(&k->reserved, memory_order_relaxed);
    out->os_maps += atomic_load_explicit(&k->maps, memory_order_relaxed);
    out->os_unmaps += atomic_load_explicit(&k->unmaps, memory_order_relaxed);
  }
  out->bytes_in_use += atomic_load_explicit(&s->large_in_use, memory_order_relaxed);
  out->bytes_reserved += atomic_load_explicit(&s->large_reserved, memory_order_relaxed);
  out->os_maps += atomic_load_explicit(&s->large_maps, memory_order_relaxed);
  out->os_unmaps += atomic_load_explicit(&s->large_unmaps, memory_order_relaxed);
}

/* Options: "slab_kib=N" (a power of two, 64..65536; default 256). */
static int parse_options(const char* options, size_t* slab_size, char* error, size_t error_size) {
  *slab_size = 256 * 1024;
  const char* p = options;
  while (*p) {
    const char* comma = strchr(p, ',');
    const size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len > 9 && strncmp(p, "slab_kib=", 9) == 0) {
      char* end = NULL;
      const unsigned long kib = strtoul(p + 9, &end, 10);
      if (end != p + len || kib < 64 || kib > 65536 || (kib & (kib - 1))) {
        snprintf(error, error_size, "slab_kib: '%.*s' is not a power of two in 64..65536",
                 (int)(len - 9), p + 9);
        return 0;
      }
      *slab_size = kib * 1024;
    } else if (len) {
      snprintf(error, error_size, "unknown option '%.*s' (known: slab_kib=N)", (int)len, p);
      return 0;
    }
    p += len + (comma ? 1 : 0);
  }
  return 1;
}

static void* sc_create(const char* options, char* error, size_t error_size) {
  size_t slab_size;
  if (!parse_options(options, &slab_size, error, error_size)) return NULL;
  /* The state comes from mmap, not malloc: the worker's malloc is not the one under test. */
  struct state* s =
      mmap(NULL, sizeof(struct state), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) {
    snprintf(error, error_size, "mmap of %zu bytes failed", sizeof(struct state));
    return NULL;
  }
  memset(s, 0, sizeof *s);
  s->slab_size = slab_size;
  for (unsigned c = 0; c < kSmallClasses; ++c) pthread_mutex_init(&s->classes[c].lock, NULL);
  pthread_mutex_init(&s->large_lock, NULL);
  return s;
}

static void sc_destroy(void* state) {
  struct state* s = state;
  sc_reset(s);
  for (unsigned c = 0; c < kSmallClasses; ++c) {
    struct slab_trailer* t = s->classes[c].spare;
    while (t) {
      struct slab_trailer* next = t->next; /* read before the unmap takes it away */
      munmap(t->base, s->slab_size);
      t = next;
    }
  }
  for (unsigned c = 0; c < kSmallClasses; ++c) pthread_mutex_destroy(&s->classes[c].lock);
  pthread_mutex_destroy(&s->large_lock);
  munmap(s, sizeof(struct state));
}

static const struct allocmark_plugin_table_v1 kTable = {
    .abi_version = ALLOCMARK_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct allocmark_plugin_table_v1),
    .name = "sizeclass",
    .version = "1.0",
    .create = sc_create,
    .destroy = sc_destroy,
    .allocate = sc_allocate,
    .deallocate = sc_deallocate,
    .reallocate = sc_reallocate,
    .reset = sc_reset,
    .stats = sc_stats,
    .thread_exit = NULL, /* no thread caches: nothing to flush */
};

ALLOCMARK_PLUGIN_EXPORT const struct allocmark_plugin_table_v1* allocmark_plugin_v1(void) {
  return &kTable;
}
