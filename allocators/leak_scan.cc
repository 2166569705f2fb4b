// Root collection (/proc/self/smaps, dl_iterate_phdr) and the mark phase of the leak report.
// Layer: allocators (leaf). Heap-free: scratch memory comes from os::reserve.
#include "allocators/leak_scan.h"

#include <fcntl.h>
#include <link.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "allocators/os.h"

// The scan reads memory nobody handed to it (other threads' stacks, redzones, uninitialised
// words): a sanitizer would rightly call that a bug everywhere else, so it is not instrumented.
#define ALLOCMARK_UNINSTRUMENTED __attribute__((no_sanitize("address", "thread")))

namespace allocmark {

namespace {

constexpr uintptr_t kWord = sizeof(uintptr_t);
constexpr std::size_t kCopyBytes = 64 << 10;

struct OwnObject {
  CodeRange own;
  MemRange found[8];
  std::size_t count = 0;
};

// The writable segments and this thread's TLS block of the object whose code holds own.lo.
int find_own_data(dl_phdr_info* info, std::size_t, void* arg) {
  auto* o = static_cast<OwnObject*>(arg);
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0 && o->own.lo >= lo &&
        o->own.lo < lo + ph.p_memsz) {
      mine = true;
    }
  }
  if (!mine) return 0;
  for (int i = 0; i < info->dlpi_phnum && o->count < 8; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) != 0) {
      o->found[o->count++] = MemRange{lo, lo + ph.p_memsz};
    } else if (ph.p_type == PT_TLS && info->dlpi_tls_data != nullptr) {
      const auto tls = reinterpret_cast<uintptr_t>(info->dlpi_tls_data);
      o->found[o->count++] = MemRange{tls, tls + ph.p_memsz};
    }
  }
  return 1;
}

int add_writable_segments(dl_phdr_info* info, std::size_t, void* arg) {
  auto* roots = static_cast<RootSet*>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) == 0) continue;
    const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    roots->add(MemRange{lo, lo + ph.p_memsz});
  }
  return 0;
}

bool parse_hex(const char*& s, const char* end, uintptr_t* out) {
  uintptr_t v = 0;
  const char* start = s;
  for (; s < end; ++s) {
    const char c = *s;
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      break;
    }
    v = v * 16 + static_cast<uintptr_t>(d);
  }
  *out = v;
  return s > start;
}

// One mapping of /proc/self/smaps: its header line, then the flags of its VmFlags line.
struct Mapping {
  MemRange range;
  bool valid = false;
  bool readable_private_writable = false;
  bool anonymous = false;  // no file: [heap], [stack], [anon:...] or nothing
};

// "7f0000-7f1000 rw-p 00000000 00:00 0    [heap]"
Mapping parse_header(const char* s, const char* end) {
  Mapping m;
  uintptr_t lo, hi, ignored;
  if (!parse_hex(s, end, &lo) || s == end || *s++ != '-' || !parse_hex(s, end, &hi)) return m;
  if (end - s < 6 || *s++ != ' ') return m;
  m.readable_private_writable = s[0] == 'r' && s[1] == 'w' && s[3] == 'p';
  s += 4;
  // offset, device (major:minor), inode, then the path (may be empty, may hold spaces)
  while (s < end && *s == ' ') ++s;
  parse_hex(s, end, &ignored);
  while (s < end && *s == ' ') ++s;
  while (s < end && *s != ' ') ++s;
  while (s < end && *s == ' ') ++s;
  bool inode_zero = true;
  for (; s < end && *s != ' '; ++s) inode_zero = inode_zero && *s == '0';
  while (s < end && *s == ' ') ++s;
  const bool no_path = s == end;
  const bool special = !no_path && *s == '[';
  const bool vdso_like = special && (end - s >= 5) &&
                         (std::memcmp(s, "[vvar", 5) == 0 || std::memcmp(s, "[vdso", 5) == 0 ||
                          std::memcmp(s, "[vsys", 5) == 0);
  m.anonymous = inode_zero && (no_path || (special && !vdso_like));
  m.range = MemRange{lo, hi};
  m.valid = true;
  return m;
}

// "VmFlags: rd wr mr mw me nr ..." -> true if the mapping may be read as a root.
bool flags_allow(const char* s, const char* end) {
  for (; s + 1 < end; ++s) {
    if (s[-1] != ' ' || (s + 2 < end && s[2] != ' ')) continue;
    const char a = s[0], b = s[1];
    if ((a == 'n' && b == 'r') ||                // MAP_NORESERVE: allocmark's own memory
        (a == 'u' && (b == 'm' || b == 'w')) ||  // userfaultfd: a read could block forever
        (a == 'i' && b == 'o') || (a == 'p' && b == 'f')) {  // device memory
      return false;
    }
  }
  return true;
}

struct Marker {
  const ScanBlock* blocks;
  std::size_t n;
  uintptr_t min;
  uintptr_t max;
  uint8_t* marked;
  uint32_t* work;
  std::size_t top;
  uintptr_t* copy;  // kCopyBytes of scratch for roots read with process_vm_readv
  bool copy_works;  // false once the kernel refuses process_vm_readv (seccomp, no support)

  // Marks and queues every block one of `count` words points into.
  ALLOCMARK_UNINSTRUMENTED void scan_words(const uintptr_t* words, std::size_t count) {
    for (std::size_t w = 0; w < count; ++w) {
      const uintptr_t v = *static_cast<const volatile uintptr_t*>(words + w);
      if (v < min || v >= max) continue;
      // Last block starting at or before v.
      std::size_t a = 0, b = n;
      while (b - a > 1) {
        const std::size_t mid = a + (b - a) / 2;
        if (blocks[mid].addr <= v) {
          a = mid;
        } else {
          b = mid;
        }
      }
      const ScanBlock& blk = blocks[a];
      const uint64_t span = blk.size == 0 ? 1 : blk.size;
      if (v >= blk.addr && v - blk.addr < span && !marked[a]) {
        marked[a] = 1;
        work[top++] = static_cast<uint32_t>(a);
      }
    }
  }

  // Memory that stays mapped during the scan (live blocks: the tracking lock is held).
  void scan_direct(uintptr_t lo, uintptr_t hi) {
    lo = (lo + kWord - 1) & ~(kWord - 1);
    if (hi > lo) scan_words(reinterpret_cast<const uintptr_t*>(lo), (hi - lo) / kWord);
  }

  // Roots are copied with process_vm_readv: the scan runs at exit, while other threads may
  // still unmap memory, and a root unmapped meanwhile then reads as EFAULT, not a crash.
  void scan_root(uintptr_t lo, uintptr_t hi) {
    lo = (lo + kWord - 1) & ~(kWord - 1);
    const std::size_t page = os::page_size();
    while (hi > lo && hi - lo >= kWord) {
      if (!copy_works) return scan_direct(lo, hi);
      const std::size_t want = hi - lo < kCopyBytes ? (hi - lo) & ~(kWord - 1) : kCopyBytes;
      iovec local{copy, want};
      iovec remote{reinterpret_cast<void*>(lo), want};
      const ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
      if (got > 0) {
        scan_words(copy, static_cast<std::size_t>(got) / kWord);
        lo += static_cast<std::size_t>(got) & ~(kWord - 1);
      } else if (got < 0 && errno == EFAULT) {
        lo = (lo + page) & ~(uintptr_t{page} - 1);  // gone: skip the page
      } else {
        copy_works = false;  // refused: read directly from now on
      }
    }
  }
};

}  // namespace

RootSet::~RootSet() {
  if (ranges_ != nullptr) os::release(ranges_, capacity_ * sizeof(MemRange));
}

bool RootSet::push(MemRange r) noexcept {
  if (r.hi <= r.lo) return true;
  if (count_ == capacity_) {
    const std::size_t cap = capacity_ == 0 ? 4096 : 2 * capacity_;
    void* p = ranges_ == nullptr
                  ? os::reserve(cap * sizeof(MemRange))
                  : os::remap(ranges_, capacity_ * sizeof(MemRange), cap * sizeof(MemRange));
    if (p == nullptr) return false;
    ranges_ = static_cast<MemRange*>(p);
    capacity_ = cap;
  }
  ranges_[count_++] = r;
  return true;
}

bool RootSet::add(MemRange r) noexcept {
  if (r.hi <= r.lo) return true;
  // Cut out each excluded range: what is left of r is at most one piece on each side.
  for (std::size_t i = 0; i < excluded_count_; ++i) {
    const MemRange& x = excluded_[i];
    if (x.hi <= r.lo || x.lo >= r.hi) continue;
    return add(MemRange{r.lo, x.lo > r.lo ? x.lo : r.lo}) &&
           add(MemRange{x.hi < r.hi ? x.hi : r.hi, r.hi});
  }
  return push(r);
}

bool RootSet::covers(uintptr_t addr) const noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    if (addr >= ranges_[i].lo && addr < ranges_[i].hi) return true;
  }
  return false;
}

bool RootSet::collect(uintptr_t stack_from, CodeRange own) noexcept {
  count_ = 0;
  excluded_count_ = 0;
  if (own.hi > own.lo) {
    OwnObject o;
    o.own = own;
    dl_iterate_phdr(find_own_data, &o);
    for (std::size_t i = 0; i < o.count; ++i) excluded_[excluded_count_++] = o.found[i];
  }
  const int fd = ::open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  constexpr std::size_t kBuf = 64 << 10;  // a line longer than this (a huge path) is skipped
  char* buf = static_cast<char*>(os::reserve(kBuf));
  if (buf == nullptr) {
    ::close(fd);
    return false;
  }
  bool ok = true;
  Mapping m;
  std::size_t have = 0;
  for (;;) {
    const ssize_t got = ::read(fd, buf + have, kBuf - have);
    if (got < 0) {
      ok = false;
      break;
    }
    have += static_cast<std::size_t>(got);
    std::size_t start = 0;
    for (;;) {
      const char* nl = static_cast<const char*>(std::memchr(buf + start, '\n', have - start));
      if (nl == nullptr) break;
      const char* s = buf + start;
      const char* end = nl;
      start = static_cast<std::size_t>(nl - buf) + 1;
      if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')) {
        m = parse_header(s, end);
      } else if (end - s > 8 && std::memcmp(s, "VmFlags:", 8) == 0 && m.valid) {
        if (m.readable_private_writable && m.anonymous && flags_allow(s + 8, end)) {
          MemRange r = m.range;
          if (stack_from >= r.lo && stack_from < r.hi) r.lo = stack_from;  // live frames only
          if (!add(r)) ok = false;
        }
        m.valid = false;
      }
    }
    if (start == 0 && have == kBuf) {
      have = 0;  // one line filled the buffer: drop it
    } else {
      std::memmove(buf, buf + start, have - start);
      have -= start;
    }
    if (got == 0) break;
  }
  ::close(fd);
  os::release(buf, kBuf);
  dl_iterate_phdr(add_writable_segments, this);
  return ok && count_ > 0;
}

bool mark_reachable(const ScanBlock* blocks, std::size_t n, const RootSet& roots,
                    uint8_t* marked) noexcept {
  if (n == 0) return true;
  const std::size_t bytes = n * sizeof(uint32_t) + kCopyBytes;
  auto* scratch = static_cast<unsigned char*>(os::reserve(bytes));
  if (scratch == nullptr) return false;
  const ScanBlock& last = blocks[n - 1];
  Marker mk;
  mk.blocks = blocks;
  mk.n = n;
  mk.min = blocks[0].addr;
  mk.max = last.addr + (last.size == 0 ? 1 : last.size);
  mk.marked = marked;
  mk.copy = reinterpret_cast<uintptr_t*>(scratch);
  mk.work = reinterpret_cast<uint32_t*>(scratch + kCopyBytes);
  mk.top = 0;
  mk.copy_works = true;
  for (std::size_t i = 0; i < roots.size(); ++i) {
    mk.scan_root(roots[i].lo, roots[i].hi);
    // Each block is queued once (when first marked), so the worklist never exceeds n.
    while (mk.top > 0) {
      const ScanBlock& b = blocks[mk.work[--mk.top]];
      mk.scan_direct(b.addr, b.addr + b.size);
    }
  }
  os::release(scratch, bytes);
  return true;
}

}  // namespace allocmark
