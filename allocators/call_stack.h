// Call stacks for the tracking decorator: capture (heap-free, inside malloc) and symbolise (at
// exit or for an error line, outside every allocator lock). Layer: allocators (leaf).
#pragma once

#include <cstddef>
#include <cstdint>

namespace allocmark {

// Frames kept per call site: enough to see past wrappers (strdup, operator new, a container)
// to the code that owns the block, small enough that a site is 96 bytes in the site table.
inline constexpr std::size_t kMaxStackDepth = 8;

// Return addresses, innermost first. A plain value: copying it takes no lock and no heap.
struct CallStack {
  uint32_t depth = 0;
  uintptr_t pc[kMaxStackDepth] = {};
};

// Addresses [lo, hi) of code whose frames are dropped from the top of a captured stack: the
// allocator's own (malloc shim, Tracking), so a site starts at the program's call to malloc.
struct CodeRange {
  uintptr_t lo = 0;
  uintptr_t hi = 0;
  bool contains(uintptr_t pc) const noexcept { return pc >= lo && pc < hi; }
};

// The executable segment of the loaded object that contains `addr` (empty if none). Uses
// dl_iterate_phdr: no heap, takes the loader's (recursive) lock. Thread-safe.
CodeRange code_range_of(const void* addr) noexcept;

// Captures up to `max_depth` (<= kMaxStackDepth) return addresses of the caller's callers,
// dropping leading frames inside `skip`. Both unwinders below read the DWARF call-frame
// information, so they follow code built without frame pointers (Debian's libc, libpython,
// libffi), and neither allocates. A call made while this thread is already capturing (an
// unwinder calling malloc) gets depth 0 instead of recursing. Thread-safe.
// Cost per capture at depth 8, 12 frames deep (-O2, 2-core VM; a throwaway loop of
// Tracking<Pool> allocate+free pairs, in the issue-9 report):
//   libunwind's unw_backtrace, after use_libunwind(): about 0.1 us (it caches, per thread, how
//   to step out of each return address, so a repeated call site costs ~10 ns per frame);
//   libgcc's _Unwind_Backtrace, the fallback: 1 to 1.6 us (it parses the FDE of every frame).
// A tracked allocate+free pair of Tracking<Pool> costs ~40 ns without stacks, ~250 ns with a
// stack at both (the default), 2 us with both on libgcc; an untracked Pool pair costs 8 ns.
void capture_call_stack(CallStack* out, std::size_t max_depth, CodeRange skip) noexcept;

// Switches captures to libunwind (libunwind.so.8, dlopen'd RTLD_LOCAL so its _Unwind_* and
// backtrace symbols never replace the program's). Returns false (libgcc stays) when it is not
// installed. Loads a library, so call it outside any allocator and lock: at start-up, from a
// constructor (the malloc shims do). Thread-safe; idempotent.
bool use_libunwind() noexcept;
// Back to libgcc's lock-free path, for a fork child: libunwind's caches take mutexes that
// another thread of the parent may have held at fork(). Async-signal-safe.
void use_libgcc_unwinder() noexcept;
// True while captures go through libunwind.
bool using_libunwind() noexcept;

// Turns stacks into text: "leaky (leak.c:12) <- main (leak.c:30)". Names come from dladdr
// (exported symbols; a program built with -rdynamic exports all of its functions); with
// `with_lines`, libdw (dlopen'd here, if installed and compiled in) adds file:line and the
// names of static functions from the program's own debug information (no separate debuginfo
// files, never debuginfod: an exit must not wait for the network). C++ names are demangled.
// Uses the heap (libdw, the demangler): call it outside every allocator lock. Not thread-safe;
// one per report or error line.
class Symbolizer {
 public:
  explicit Symbolizer(bool with_lines) noexcept;
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Writes the frames of `s`, innermost first, joined by " <- ", stopping after `main`, into
  // buf (always NUL-terminated, truncated to size). Returns the length written.
  std::size_t format(const CallStack& s, char* buf, std::size_t size) noexcept;
  bool has_lines() const noexcept { return dwfl_ != nullptr; }

 private:
  // One frame; returns the length appended at buf and sets *is_main.
  std::size_t format_frame(uintptr_t pc, char* buf, std::size_t size, bool* is_main) noexcept;
  void* dwfl_ = nullptr;  // libdw session over this process's modules, or null
};

}  // namespace allocmark
