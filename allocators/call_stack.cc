// Stack capture (libunwind when loaded, else libgcc's unwinder) and symbolisation (dladdr and,
// optionally, libdw). Layer: allocators (leaf). Capture is heap-free; symbolisation is not and
// runs outside locks.
#include "allocators/call_stack.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <unistd.h>
#include <unwind.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "allocators/internal.h"

// libdw is optional twice over: compiled in only when libdw-dev's header is present, and loaded
// with dlopen only when a report asks for file:line, so the malloc shims gain no dependency (a
// benchmark's process maps exactly what it did before) and a machine without libdw1 still gets
// function names.
#if __has_include(<elfutils/libdwfl.h>)
#include <elfutils/libdwfl.h>
#define ALLOCMARK_HAVE_LIBDW 1
#else
#define ALLOCMARK_HAVE_LIBDW 0
#endif

namespace allocmark {

namespace {

// Set while this thread unwinds: a malloc made by the unwinder itself must not unwind again
// (libgcc holds a non-recursive mutex while it sorts frames registered by a JIT; libunwind
// holds its cache locks while it fills them).
ALLOCMARK_THREAD_LOCAL bool t_capturing = false;

struct Walk {
  CallStack* out;
  std::size_t max;
  CodeRange skip;
  int own_frames;  // capture_call_stack's own frame, reported first by _Unwind_Backtrace
  bool leading;    // still inside the skipped prefix
};

_Unwind_Reason_Code on_frame(_Unwind_Context* ctx, void* arg) {
  auto* w = static_cast<Walk*>(arg);
  const uintptr_t pc = _Unwind_GetIP(ctx);
  if (pc == 0) return _URC_END_OF_STACK;
  if (w->own_frames > 0) {
    --w->own_frames;
    return _URC_NO_REASON;
  }
  if (w->leading && w->skip.contains(pc)) return _URC_NO_REASON;
  w->leading = false;
  w->out->pc[w->out->depth++] = pc;
  return w->out->depth >= w->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

struct FindSegment {
  uintptr_t addr;
  CodeRange range;
};

int find_segment(dl_phdr_info* info, std::size_t, void* arg) {
  auto* f = static_cast<FindSegment*>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (f->addr >= lo && f->addr < lo + ph.p_memsz) {
      f->range = CodeRange{lo, lo + ph.p_memsz};
      return 1;
    }
  }
  return 0;
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

// Appends printf-style text at buf + *len, never past size - 1; keeps buf NUL-terminated.
template <class... Args>
void append(char* buf, std::size_t size, std::size_t* len, const char* fmt, Args... args) {
  if (*len + 1 >= size) return;
  const int n = std::snprintf(buf + *len, size - *len, fmt, args...);
  if (n > 0) *len += static_cast<std::size_t>(n) < size - *len ? n : size - *len - 1;
}

#if ALLOCMARK_HAVE_LIBDW
// The few libdw entry points used, looked up once with dlsym.
struct DwApi {
  decltype(&::dwfl_begin) begin;
  decltype(&::dwfl_end) end;
  decltype(&::dwfl_linux_proc_report) proc_report;
  decltype(&::dwfl_report_end) report_end;
  decltype(&::dwfl_addrmodule) addrmodule;
  decltype(&::dwfl_module_addrname) addrname;
  decltype(&::dwfl_module_getsrc) getsrc;
  decltype(&::dwfl_lineinfo) lineinfo;
  Dwfl_Callbacks callbacks;
  bool ok;
};
DwApi g_dw{};
pthread_once_t g_dw_once = PTHREAD_ONCE_INIT;

// Debug information in the program's own files only: -1 tells libdwfl there is no separate
// file, so it never reads /usr/lib/debug nor asks a debuginfod server (DEBUGINFOD_URLS is set
// on many Debian shells; an exit must not wait for the network).
int no_separate_debuginfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*,
                          GElf_Word, char**) {
  return -1;
}

void load_dw() {
  void* lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return;
  auto sym = [&](auto* fn, const char* name) {
    *fn = reinterpret_cast<std::remove_reference_t<decltype(*fn)>>(dlsym(lib, name));
    return *fn != nullptr;
  };
  decltype(&::dwfl_linux_proc_find_elf) find_elf;
  g_dw.ok = sym(&g_dw.begin, "dwfl_begin") && sym(&g_dw.end, "dwfl_end") &&
            sym(&g_dw.proc_report, "dwfl_linux_proc_report") &&
            sym(&g_dw.report_end, "dwfl_report_end") && sym(&g_dw.addrmodule, "dwfl_addrmodule") &&
            sym(&g_dw.addrname, "dwfl_module_addrname") &&
            sym(&g_dw.getsrc, "dwfl_module_getsrc") && sym(&g_dw.lineinfo, "dwfl_lineinfo") &&
            sym(&find_elf, "dwfl_linux_proc_find_elf");
  if (!g_dw.ok) return;  // the library stays loaded: it is small and exit is near
  g_dw.callbacks.find_elf = find_elf;
  g_dw.callbacks.find_debuginfo = no_separate_debuginfo;
}
#endif

}  // namespace

CodeRange code_range_of(const void* addr) noexcept {
  FindSegment f{reinterpret_cast<uintptr_t>(addr), {}};
  dl_iterate_phdr(find_segment, &f);
  return f.range;
}

namespace {

// unw_backtrace(buffer, size): its first entry is its caller's own address, like libgcc's.
using FastBacktrace = int (*)(void**, int);
std::atomic<FastBacktrace> g_fast_backtrace{nullptr};

// Frames of the allocator's own code the fast path asks for beyond max_depth, to skip (malloc,
// or operator new + a helper, or realloc + a helper). More than this shortens the stack.
constexpr std::size_t kSkipSlack = 4;

}  // namespace

bool use_libunwind() noexcept {
  if (g_fast_backtrace.load(std::memory_order_acquire) != nullptr) return true;
  void* lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  auto fn = reinterpret_cast<FastBacktrace>(dlsym(lib, "unw_backtrace"));
  if (fn == nullptr) return false;  // stays loaded: harmless, and dlclose could race a caller
  g_fast_backtrace.store(fn, std::memory_order_release);
  return true;
}

void use_libgcc_unwinder() noexcept { g_fast_backtrace.store(nullptr, std::memory_order_relaxed); }

bool using_libunwind() noexcept {
  return g_fast_backtrace.load(std::memory_order_relaxed) != nullptr;
}

// noinline: the first frame either unwinder reports is this function's, dropped below.
[[gnu::noinline]] void capture_call_stack(CallStack* out, std::size_t max_depth,
                                          CodeRange skip) noexcept {
  out->depth = 0;
  if (max_depth > kMaxStackDepth) max_depth = kMaxStackDepth;
  if (max_depth == 0 || t_capturing) return;
  t_capturing = true;
  if (FastBacktrace fast = g_fast_backtrace.load(std::memory_order_acquire)) {
    void* pcs[1 + kMaxStackDepth + kSkipSlack];
    const int n = fast(pcs, static_cast<int>(1 + max_depth + kSkipSlack));
    int i = 1;  // this function
    while (i < n && skip.contains(reinterpret_cast<uintptr_t>(pcs[i]))) ++i;
    for (; i < n && out->depth < max_depth; ++i) {
      if (pcs[i] == nullptr) break;
      out->pc[out->depth++] = reinterpret_cast<uintptr_t>(pcs[i]);
    }
  } else {
    Walk w{out, max_depth, skip, 1, true};
    _Unwind_Backtrace(on_frame, &w);
  }
  t_capturing = false;
}

Symbolizer::Symbolizer(bool with_lines) noexcept {
#if ALLOCMARK_HAVE_LIBDW
  if (!with_lines) return;
  pthread_once(&g_dw_once, load_dw);
  if (!g_dw.ok) return;
  Dwfl* d = g_dw.begin(&g_dw.callbacks);
  if (d == nullptr) return;
  if (g_dw.proc_report(d, getpid()) != 0 || g_dw.report_end(d, nullptr, nullptr) != 0) {
    g_dw.end(d);
    return;
  }
  dwfl_ = d;
#else
  (void)with_lines;
#endif
}

Symbolizer::~Symbolizer() {
#if ALLOCMARK_HAVE_LIBDW
  if (dwfl_ != nullptr) g_dw.end(static_cast<Dwfl*>(dwfl_));
#endif
}

std::size_t Symbolizer::format_frame(uintptr_t pc, char* buf, std::size_t size,
                                     bool* is_main) noexcept {
  // A return address points after the call; the call itself names the right line.
  const uintptr_t addr = pc - 1;
  Dl_info info{};
  const bool found = dladdr(reinterpret_cast<void*>(addr), &info) != 0;
  const char* name = found ? info.dli_sname : nullptr;
  const char* file = nullptr;
  int line = 0;
#if ALLOCMARK_HAVE_LIBDW
  if (dwfl_ != nullptr) {
    if (Dwfl_Module* m = g_dw.addrmodule(static_cast<Dwfl*>(dwfl_), addr)) {
      // The symbol table names static functions too, which the dynamic one (dladdr) does not.
      if (const char* n = g_dw.addrname(m, addr)) name = n;
      if (Dwfl_Line* l = g_dw.getsrc(m, addr)) {
        Dwarf_Addr a;
        file = g_dw.lineinfo(l, &a, &line, nullptr, nullptr, nullptr);
      }
    }
  }
#endif
  std::size_t len = 0;
  *is_main = name != nullptr && std::strcmp(name, "main") == 0;
  if (name != nullptr) {
    int status = -1;
    char* plain = name[0] == '_' && name[1] == 'Z'
                      ? abi::__cxa_demangle(name, nullptr, nullptr, &status)
                      : nullptr;
    append(buf, size, &len, "%s", plain != nullptr ? plain : name);
    std::free(plain);
  } else if (found && info.dli_fname != nullptr) {
    append(buf, size, &len, "%s+0x%lx", base_name(info.dli_fname),
           static_cast<unsigned long>(addr - reinterpret_cast<uintptr_t>(info.dli_fbase)));
  } else {
    append(buf, size, &len, "0x%lx", static_cast<unsigned long>(pc));
  }
  if (file != nullptr && line > 0) append(buf, size, &len, " (%s:%d)", base_name(file), line);
  return len;
}

std::size_t Symbolizer::format(const CallStack& s, char* buf, std::size_t size) noexcept {
  if (size == 0) return 0;
  buf[0] = '\0';
  std::size_t len = 0;
  for (uint32_t i = 0; i < s.depth && len + 1 < size; ++i) {
    if (i > 0) append(buf, size, &len, " <- ");
    bool is_main = false;
    len += format_frame(s.pc[i], buf + len, size - len, &is_main);
    if (is_main) break;  // what follows is libc's start-up code
  }
  return len;
}

}  // namespace allocmark
