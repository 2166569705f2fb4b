/* allocmark/plugin.h: the C interface an out-of-tree allocator implements to be benchmarked.
 * Layer: installed public header (C99 and C++; depends on nothing of allocmark's). */
#ifndef ALLOCMARK_PLUGIN_H_
#define ALLOCMARK_PLUGIN_H_

/*
 * A plugin is a shared object exporting one C function,
 *
 *   const struct allocmark_plugin_table_v1* allocmark_plugin_v1(void);
 *
 * that returns a pointer to a table with static storage duration. allocmark loads the plugin
 * with dlopen in its worker process (one allocator per process; the parent never loads it),
 * checks `abi_version` and `struct_size`, calls `create` once, replays a trace through the
 * table from one or many threads, and calls `destroy` at the end.
 *
 * Versioning. The symbol name carries the major version: an incompatible change would add
 * `allocmark_plugin_v2` (a plugin may export both). Within v1, members are only ever appended;
 * `struct_size` tells allocmark which ones a plugin knows (a table smaller than the v1 table
 * allocmark was built with is refused, a larger one is accepted and its tail ignored).
 *
 * Threads. Every function except `create` and `destroy` may be called from several threads
 * at once and must be thread-safe: the replay runs each traced thread on its own OS thread, and
 * a block may be freed by a thread other than the one that allocated it. `create` and `destroy`
 * are called once each, with no other call in flight.
 *
 * Failure. `allocate` and `reallocate` return NULL when they cannot serve a request; allocmark
 * records that as the measured outcome `oom` (with how far the replay got), not as a crash.
 * No function may throw a C++ exception or longjmp out: nothing unwinds across this ABI.
 *
 * Cost. Each call is one indirect call that the compiler cannot inline (about 1-2 ns on current
 * x86-64). A plugin's figures include it; an in-tree allocator's do not.
 *
 * Sizes and alignments. `align` is 0, meaning the default (alignof(max_align_t), 16 on x86-64
 * and AArch64), or a power of two, possibly larger than a page. `size` may be 0: return a
 * block you can free, or NULL (not counted as a failure for size 0). `deallocate` and
 * `reallocate` always receive the size and alignment the block was last allocated or resized
 * with (sized free: the allocator need not find a block's size from its pointer), and never a
 * NULL pointer.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALLOCMARK_PLUGIN_ABI_VERSION 1u

/* Marks the entry point for export from a library built with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define ALLOCMARK_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define ALLOCMARK_PLUGIN_EXPORT
#endif

/* What an allocator reports about itself; 0 where unknown. Mirrors allocmark::AllocatorStats. */
struct allocmark_plugin_stats {
  uint64_t bytes_reserved;  /* address space held (mapped, committed or not) */
  uint64_t bytes_committed; /* memory the allocator believes is backed */
  uint64_t bytes_in_use;    /* bytes handed out and not yet freed */
  uint64_t os_maps;         /* mmap / sbrk calls made */
  uint64_t os_unmaps;       /* calls that gave memory back to the OS */
};

struct allocmark_plugin_table_v1 {
  /* ALLOCMARK_PLUGIN_ABI_VERSION and sizeof(struct allocmark_plugin_table_v1) of the header the
   * plugin was compiled against. */
  uint32_t abi_version;
  uint32_t struct_size;

  /* Short name (default display name in results: letters, digits, '-', '_', '.') and a version
   * string recorded in meta.json. Static strings, never NULL. */
  const char* name;
  const char* version;

  /* Required. Builds the allocator. `options` is the text given with
   * `--alloc-option NAME:key=value` ("key=value,key=value"; "" when none), never NULL. Returns
   * the state passed to every other call (any non-NULL pointer), or NULL on failure after
   * writing a one-line reason (NUL-terminated, at most error_size bytes) into `error`. */
  void* (*create)(const char* options, char* error, size_t error_size);

  /* Required. Releases the allocator and everything it holds. Blocks still live are garbage. */
  void (*destroy)(void* state);

  /* Required. A block of at least `size` bytes aligned to `align`, or NULL. Thread-safe. */
  void* (*allocate)(void* state, size_t size, size_t align);

  /* Required. Frees a block with the size and alignment it was allocated with. Thread-safe. */
  void (*deallocate)(void* state, void* ptr, size_t size, size_t align);

  /* Optional (NULL: allocmark allocates a new block, copies min(old_size, new_size) bytes and
   * frees the old one). Resizes `ptr`, keeping its contents; returns the (maybe moved) block, or
   * NULL with `ptr` untouched and still live. Thread-safe. */
  void* (*reallocate)(void* state, void* ptr, size_t old_size, size_t new_size, size_t align);

  /* Optional (NULL: phase ends free every object one by one). Releases every block at once, as
   * an arena does at a phase end. allocmark calls it only when the trace leaves nothing live at
   * that point and no other thread is running, and then skips the individual frees it stands
   * in for. */
  void (*reset)(void* state);

  /* Optional (NULL: nothing reported). Fills `out` (zeroed by the caller). Thread-safe; may be
   * approximate while other threads allocate. */
  void (*stats)(const void* state, struct allocmark_plugin_stats* out);

  /* Optional (NULL: nothing to do). Called on a replay thread just before that thread ends, so
   * thread caches can be flushed. Thread-safe. */
  void (*thread_exit)(void* state);
};

/* The entry point a plugin exports, and its type as found with dlsym. */
typedef const struct allocmark_plugin_table_v1* (*allocmark_plugin_v1_fn)(void);
ALLOCMARK_PLUGIN_EXPORT const struct allocmark_plugin_table_v1* allocmark_plugin_v1(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ALLOCMARK_PLUGIN_H_ */
