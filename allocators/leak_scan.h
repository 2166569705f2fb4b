// Conservative reachability for the leak report: which live blocks can the program still reach
// through its own memory? Layer: allocators (leaf). Heap-free: it runs at exit, inside a malloc
// shim, under the tracking lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "allocators/call_stack.h"

namespace allocmark {

struct MemRange {
  uintptr_t lo = 0;
  uintptr_t hi = 0;
};

// One live block for the scan. `tag` is the caller's (tracking stores the site id there).
struct ScanBlock {
  uintptr_t addr;
  uint64_t size;
  uint64_t tag;
};

// The memory in which a program can hold pointers ("roots"), read from /proc/self/smaps and the
// loader: writable segments of loaded objects (data, bss), private anonymous mappings (the
// stacks of other threads, TLS, mappings the program made itself such as pymalloc's arenas),
// and the calling thread's stack from `stack_from` up (its deeper, dead frames are stale).
// Never roots: mappings made with MAP_NORESERVE, which is how allocmark maps all of its memory
// (heaps, the tracking tables, this scan's scratch), so a freed block's stale contents and the
// tracker's own table of addresses never make a block look reachable; file mappings other than
// loaded objects (reading past a truncated file would fault); userfaultfd and device mappings;
// and the data and this thread's TLS of the object holding `own` (the malloc shim: allocator
// state that points at blocks, such as a region base or a thread's most recent block).
// Known blind spots. A block looks lost when its only pointers are in registers, in memory the
// program mapped with MAP_NORESERVE, or stored unaligned or disguised. A block looks reachable
// when a stale copy of its address sits in memory that is scanned whole: the unused slots of
// live stack frames, other threads' stacks, memory a program manages itself (pymalloc's arenas:
// run python with PYTHONMALLOC=malloc for the sharpest split, as under valgrind).
// Not thread-safe; one per report.
class RootSet {
 public:
  RootSet() = default;
  ~RootSet();
  RootSet(const RootSet&) = delete;
  RootSet& operator=(const RootSet&) = delete;

  // False (and no roots) when /proc/self/smaps cannot be read or memory cannot be mapped.
  bool collect(uintptr_t stack_from, CodeRange own) noexcept;
  // Adds one range (minus the excluded ones). False when out of scratch memory.
  bool add(MemRange r) noexcept;
  bool covers(uintptr_t addr) const noexcept;
  std::size_t size() const noexcept { return count_; }
  const MemRange& operator[](std::size_t i) const noexcept { return ranges_[i]; }

 private:
  bool push(MemRange r) noexcept;
  MemRange* ranges_ = nullptr;
  std::size_t count_ = 0;
  std::size_t capacity_ = 0;
  MemRange excluded_[8];
  std::size_t excluded_count_ = 0;
};

// Sets marked[i] = 1 for every block reachable from the roots: pointed to by an aligned word of
// a root or of a reachable block, at its start or inside it (interior pointers count: a program
// may keep a pointer to a field). `blocks` sorted by addr, not overlapping, and mapped until the
// call returns (hold the tracking lock). Roots are copied with process_vm_readv, so a root that
// another thread unmaps meanwhile is skipped instead of faulting (read directly where the kernel
// refuses the call). Heap-free (worklist and copy buffer are mapped); cost O(bytes scanned x
// log blocks): ~0.35 s for 1M live blocks (96 MB) at exit. False when out of scratch memory.
bool mark_reachable(const ScanBlock* blocks, std::size_t n, const RootSet& roots,
                    uint8_t* marked) noexcept;

}  // namespace allocmark
