// TrackingCore: the block table and the call-site table (open addressing over mmap'd memory),
// error lines, the leak report. Layer: allocators (leaf). The tables are heap-free so they can
// run under the malloc shims; symbolisation (report, error lines) runs outside the lock.
#include "allocators/tracking.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "allocators/os.h"

namespace allocmark {

namespace {

std::size_t slot_of(uintptr_t key, std::size_t capacity) {
  return static_cast<std::size_t>(((key >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & (capacity - 1);
}

void write_all(int fd, const char* s, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Appends printf-style text at buf + *len, never past size - 1; keeps buf NUL-terminated.
template <class... Args>
void append(char* buf, std::size_t size, std::size_t* len, const char* fmt, Args... args) {
  if (*len + 1 >= size) return;
  const int n = std::snprintf(buf + *len, size - *len, fmt, args...);
  if (n > 0) *len += static_cast<std::size_t>(n) < size - *len ? n : size - *len - 1;
}

uint64_t hash_stack(const CallStack& s) {
  uint64_t h = 0x9E3779B97F4A7C15ull * (s.depth + 1);
  for (uint32_t i = 0; i < s.depth; ++i) {
    h = (h ^ s.pc[i]) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 29;
  }
  return h | 1;  // never 0
}

bool same_stack(const CallStack& a, const CallStack& b) {
  if (a.depth != b.depth) return false;
  for (uint32_t i = 0; i < a.depth; ++i) {
    if (a.pc[i] != b.pc[i]) return false;
  }
  return true;
}

uint64_t align_code(std::size_t align) {
  return align == 0 ? 0 : static_cast<uint64_t>(__builtin_ctzll(align)) + 1;
}

std::size_t align_of_code(uint64_t code) { return code == 0 ? 0 : std::size_t{1} << (code - 1); }

constexpr uint64_t kMaxRecordedSize = (uint64_t{1} << 56) - 1;

const char* plural(uint64_t n) { return n == 1 ? "" : "s"; }

// One section of the leak report ("lost", "still reachable" or "still live"): the sites listed
// (in mapped scratch filled under the lock) and the totals of all, listed or not.
struct ReportSection {
  const char* what = "";
  TrackingCore::SiteTotal* top = nullptr;
  std::size_t n_sites = 0;
  TrackingCore::SiteTotal all;  // its bytes and blocks
  TrackingCore::SiteTotal rest;

  // all = the listed sites plus the rest; run under the lock, after `top` and `rest` are filled.
  void add_up(std::size_t max) noexcept {
    const std::size_t shown = n_sites < max ? n_sites : max;
    all = rest;
    for (std::size_t i = 0; i < shown; ++i) {
      all.bytes += top[i].bytes;
      all.blocks += top[i].blocks;
    }
  }
};

// One report line at a time in a stack buffer, written with write(2): no stdio, no heap.
struct ReportLine {
  explicit ReportLine(int out_fd) noexcept : fd(out_fd) {}
  int fd;
  char text[2048];
  std::size_t len = 0;

  template <class... Args>
  void add(const char* fmt, Args... args) noexcept {
    append(text, sizeof text, &len, fmt, args...);
  }
  void flush() noexcept {
    if (len + 1 >= sizeof text) text[len - 1] = '\n';  // truncated: still end the line
    write_all(fd, text, len);
    len = 0;
  }
};

// One listed call site: its totals and its stack, named by the symbolizer (heap allowed here).
void write_report_site(ReportLine& out, const TrackingCore::SiteTotal& t, Symbolizer& sym) {
  out.add("allocmark tracking:   %llu bytes in %llu block%s from ", (unsigned long long)t.bytes,
          (unsigned long long)t.blocks, plural(t.blocks));
  if (t.stack.depth == 0) {
    out.add("an unknown call site (no stack captured)");
  } else {
    out.len += sym.format(t.stack, out.text + out.len, sizeof out.text - out.len);
  }
  out.add("\n");
  out.flush();
}

// A section's heading, its listed sites and the line for those not listed; the symbolizer is
// made on the first site named (with file_lines it loads libdw, so not for an empty report).
void write_report_section(ReportLine& out, const ReportSection& sec, std::size_t max,
                          bool file_lines, std::optional<Symbolizer>* sym) {
  const int pid = static_cast<int>(getpid());
  if (sec.n_sites == 0) {
    out.add("allocmark tracking: pid %d: %s: none\n", pid, sec.what);
    out.flush();
    return;
  }
  out.add(
      "allocmark tracking: pid %d: %s: %llu bytes in %llu block%s from %zu call site%s, "
      "largest first:\n",
      pid, sec.what, (unsigned long long)sec.all.bytes, (unsigned long long)sec.all.blocks,
      plural(sec.all.blocks), sec.n_sites, plural(sec.n_sites));
  out.flush();
  const std::size_t shown = sec.n_sites < max ? sec.n_sites : max;
  if (shown > 0 && !*sym) sym->emplace(file_lines);
  for (std::size_t i = 0; i < shown; ++i) write_report_site(out, sec.top[i], **sym);
  if (sec.n_sites > shown) {
    out.add(
        "allocmark tracking:   ... and %zu more call site%s with %llu bytes in %llu "
        "block%s (ALLOCMARK_TRACK_LEAKS_LISTED=%zu lists them all)\n",
        sec.n_sites - shown, plural(sec.n_sites - shown), (unsigned long long)sec.rest.bytes,
        (unsigned long long)sec.rest.blocks, plural(sec.rest.blocks), sec.n_sites);
    out.flush();
  }
}

// The report's tail: totals, error counts and the size histogram (non-empty buckets only).
void write_report_counters(ReportLine& out, const TrackingCounters& c) {
  out.add(
      "allocmark tracking: %llu blocks (%llu bytes) still live; peak %llu bytes in %llu "
      "blocks; %llu allocations, %llu frees, %llu failed\n",
      (unsigned long long)c.live_blocks, (unsigned long long)c.live_bytes,
      (unsigned long long)c.peak_bytes, (unsigned long long)c.peak_blocks,
      (unsigned long long)c.allocations, (unsigned long long)c.frees, (unsigned long long)c.failed);
  out.flush();
  out.add("allocmark tracking: errors: %llu double free, %llu invalid free, %llu size mismatch\n",
          (unsigned long long)c.double_frees, (unsigned long long)c.invalid_frees,
          (unsigned long long)c.size_mismatches);
  out.flush();
  for (std::size_t k = 0; k < c.histogram.size(); ++k) {
    if (c.histogram[k] == 0) continue;
    const unsigned long long lo = k == 0 ? 0 : 1ull << (k - 1);
    const unsigned long long hi = k == 0 ? 0 : (k == 64 ? ~0ull : (1ull << k) - 1);
    out.add("allocmark tracking: size %llu..%llu: %llu\n", lo, hi,
            (unsigned long long)c.histogram[k]);
    out.flush();
  }
}

}  // namespace

TrackingCore::~TrackingCore() {
  if (table_ != nullptr) os::release(table_, capacity_ * sizeof(Entry));
  if (sites_ != nullptr) os::release(sites_, site_capacity_ * sizeof(Site));
  if (site_index_ != nullptr) os::release(site_index_, site_index_capacity_ * sizeof(uint32_t));
}

TrackingCore::Entry* TrackingCore::find_locked(uintptr_t key) const noexcept {
  if (table_ == nullptr) return nullptr;
  for (std::size_t i = slot_of(key, capacity_);; i = (i + 1) & (capacity_ - 1)) {
    Entry& e = table_[i];
    if (e.key == key) return &e;
    if (e.key == 0) return nullptr;
  }
}

bool TrackingCore::grow_locked() noexcept {
  const std::size_t live = c_.live_blocks;
  std::size_t cap = 1024;
  while (cap < 4 * (live + 1)) cap *= 2;
  // Keep tombstones (double-free detection) while they fit under half load; else drop them.
  const bool keep_freed = 2 * used_ < cap;
  auto* t = static_cast<Entry*>(os::reserve(cap * sizeof(Entry)));
  if (t == nullptr) return false;
  for (std::size_t i = 0; i < capacity_; ++i) {
    const Entry& e = table_[i];
    if (e.key == 0 || (e.freed && !keep_freed)) continue;
    std::size_t j = slot_of(e.key, cap);
    while (t[j].key != 0) j = (j + 1) & (cap - 1);
    t[j] = e;
  }
  if (table_ != nullptr) os::release(table_, capacity_ * sizeof(Entry));
  table_ = t;
  capacity_ = cap;
  used_ = keep_freed ? used_ : live;
  return true;
}

// Sites grow by doubling with mremap (ids are indices, so moving the array is free); the index
// is rebuilt at half load. Both are MAP_NORESERVE: untouched capacity costs no memory.
bool TrackingCore::grow_sites_locked() noexcept {
  if (site_count_ == site_capacity_) {
    const std::size_t cap = site_capacity_ == 0 ? 1024 : 2 * site_capacity_;
    if (cap > UINT32_MAX) return false;
    void* s = sites_ == nullptr
                  ? os::reserve(cap * sizeof(Site))
                  : os::remap(sites_, site_capacity_ * sizeof(Site), cap * sizeof(Site));
    if (s == nullptr) return false;
    sites_ = static_cast<Site*>(s);
    site_capacity_ = cap;
    if (site_count_ == 0) site_count_ = 1;  // site 0: blocks without a stack (zeroed memory)
  }
  if (2 * (site_count_ + 1) > site_index_capacity_) {
    const std::size_t cap = site_index_capacity_ == 0 ? 2048 : 2 * site_index_capacity_;
    auto* idx = static_cast<uint32_t*>(os::reserve(cap * sizeof(uint32_t)));
    if (idx == nullptr) return false;
    for (std::size_t id = 1; id < site_count_; ++id) {
      std::size_t j = sites_[id].hash & (cap - 1);
      while (idx[j] != 0) j = (j + 1) & (cap - 1);
      idx[j] = static_cast<uint32_t>(id);
    }
    if (site_index_ != nullptr) os::release(site_index_, site_index_capacity_ * sizeof(uint32_t));
    site_index_ = idx;
    site_index_capacity_ = cap;
  }
  return true;
}

// Finds or adds the site of stack s. 0 (the unknown site) for no stack or when out of memory.
uint32_t TrackingCore::intern_locked(const CallStack* s) noexcept {
  if (sites_ == nullptr && !grow_sites_locked()) return 0;  // creates site 0
  if (s == nullptr || s->depth == 0) return 0;
  const uint64_t h = hash_stack(*s);
  if (site_index_ != nullptr) {
    for (std::size_t j = h & (site_index_capacity_ - 1);;
         j = (j + 1) & (site_index_capacity_ - 1)) {
      const uint32_t id = site_index_[j];
      if (id == 0) break;
      if (sites_[id].hash == h && same_stack(sites_[id].stack, *s)) return id;
    }
  }
  if (!grow_sites_locked()) return 0;
  const auto id = static_cast<uint32_t>(site_count_++);
  sites_[id] = Site{h, 0, 0, *s};
  std::size_t j = h & (site_index_capacity_ - 1);
  while (site_index_[j] != 0) j = (j + 1) & (site_index_capacity_ - 1);
  site_index_[j] = id;
  return id;
}

void TrackingCore::fill_error_locked(ErrorInfo* e, const char* what, const void* p, std::size_t n,
                                     const Entry* entry) const noexcept {
  e->what = what;
  e->p = p;
  e->n = n;
  if (entry == nullptr) return;
  e->recorded = entry->size;
  if (entry->site != 0 && entry->site < site_count_) e->allocated = sites_[entry->site].stack;
  if (entry->freed && entry->free_site != 0 && entry->free_site < site_count_) {
    e->freed = sites_[entry->free_site].stack;
  }
}

// One write() per error so lines from several threads do not interleave. Symbolises with
// dladdr only (no libdw: an error can happen thousands of times; the leak report is once).
void TrackingCore::print_error(const ErrorInfo& e, const CallStack* here) const noexcept {
  if (!options_.print_errors && !options_.abort_on_error) return;
  CallStack own;
  if (here == nullptr || here->depth == 0) {
    capture(&own);
    here = &own;
  }
  Symbolizer sym(false);
  char text[3072];
  std::size_t len = 0;
  append(text, sizeof text, &len, "allocmark tracking: %s of %p", e.what, e.p);
  if (e.n != kUnknownSize && e.recorded != kUnknownSize) {
    append(text, sizeof text, &len, " (freed as %zu bytes, allocated as %zu)", e.n, e.recorded);
  } else if (e.recorded != kUnknownSize) {
    append(text, sizeof text, &len, " (%zu bytes)", e.recorded);
  }
  if (here->depth > 0) {
    append(text, sizeof text, &len, " at ");
    len += sym.format(*here, text + len, sizeof text - len);
  }
  append(text, sizeof text, &len, "\n");
  if (e.allocated.depth > 0) {
    append(text, sizeof text, &len, "allocmark tracking:   allocated at ");
    len += sym.format(e.allocated, text + len, sizeof text - len);
    append(text, sizeof text, &len, "\n");
  }
  if (e.freed.depth > 0) {
    append(text, sizeof text, &len, "allocmark tracking:   first freed at ");
    len += sym.format(e.freed, text + len, sizeof text - len);
    append(text, sizeof text, &len, "\n");
  }
  if (len + 1 >= sizeof text) text[len - 1] = '\n';  // truncated: still end the line
  write_all(STDERR_FILENO, text, len);
  if (options_.abort_on_error) std::abort();
}

void TrackingCore::on_allocate(void* p, std::size_t n, std::size_t align,
                               const CallStack* site) noexcept {
  ErrorInfo err;
  {
    SpinGuard g(lock_);
    const auto key = reinterpret_cast<uintptr_t>(p);
    const uint64_t size = n < kMaxRecordedSize ? n : kMaxRecordedSize;
    ++c_.allocations;
    ++c_.histogram[n == 0 ? 0 : 64 - __builtin_clzll(n)];
    ++c_.live_blocks;
    c_.live_bytes += size;
    if (c_.live_bytes > c_.peak_bytes) c_.peak_bytes = c_.live_bytes;
    if (c_.live_blocks > c_.peak_blocks) c_.peak_blocks = c_.live_blocks;
    Entry* e = find_locked(key);
    if (e != nullptr) {
      if (!e->freed) {
        // The inner allocator handed out a block that is still live: overlap.
        --c_.live_blocks;
        c_.live_bytes -= e->size;
        if (e->site < site_count_) {
          sites_[e->site].live_bytes -= e->size;
          --sites_[e->site].live_blocks;
        }
        fill_error_locked(&err, "allocator returned a live block", p, kUnknownSize, e);
      }
      --used_;  // the entry is reused (counted back in below)
    } else {
      if ((used_ + 1) * 10 > capacity_ * 7 && !grow_locked()) return;  // untracked: no memory
      std::size_t i = slot_of(key, capacity_);
      while (table_[i].key != 0) i = (i + 1) & (capacity_ - 1);
      e = &table_[i];
    }
    ++used_;
    const uint32_t id = intern_locked(site);
    *e = Entry{key, size, align_code(align), 0, id, 0};
    if (id < site_count_) {  // false only if the site table could never be mapped
      sites_[id].live_bytes += size;
      ++sites_[id].live_blocks;
    }
  }
  if (err.what != nullptr) print_error(err, site);
}

void TrackingCore::on_failed() noexcept {
  SpinGuard g(lock_);
  ++c_.failed;
}

bool TrackingCore::on_free(void* p, std::size_t n, std::size_t align, std::size_t* real_n,
                           std::size_t* real_align, const CallStack* site) noexcept {
  ErrorInfo err;
  bool ok = true;
  {
    SpinGuard g(lock_);
    Entry* e = find_locked(reinterpret_cast<uintptr_t>(p));
    if (e == nullptr) {
      ++c_.invalid_frees;
      fill_error_locked(&err, "invalid free (never allocated here)", p, kUnknownSize, nullptr);
      ok = false;
    } else if (e->freed) {
      ++c_.double_frees;
      fill_error_locked(&err, "double free", p, kUnknownSize, e);
      ok = false;
    } else {
      const std::size_t norm = align == 0 ? kDefaultAlign : align;
      const std::size_t rec = align_of_code(e->align_log2p1);
      const std::size_t rec_align = rec == 0 ? kDefaultAlign : rec;
      if (n != kUnknownSize && (n != e->size || norm != rec_align)) {
        ++c_.size_mismatches;
        fill_error_locked(
            &err, n != e->size ? "size mismatch in free" : "alignment mismatch in free", p, n, e);
      }
      *real_n = e->size;
      *real_align = rec;
      if (e->site < site_count_) {
        sites_[e->site].live_bytes -= e->size;
        --sites_[e->site].live_blocks;
      }
      e->freed = 1;
      e->free_site = intern_locked(site);
      ++c_.frees;
      --c_.live_blocks;
      c_.live_bytes -= e->size;
    }
  }
  if (err.what != nullptr) print_error(err, site);
  return ok;
}

std::size_t TrackingCore::size_of(const void* p) const noexcept {
  SpinGuard g(lock_);
  const Entry* e = find_locked(reinterpret_cast<uintptr_t>(p));
  return e != nullptr && !e->freed ? e->size : kUnknownSize;
}

void TrackingCore::forget_all() noexcept {
  SpinGuard g(lock_);
  if (table_ != nullptr) std::memset(static_cast<void*>(table_), 0, capacity_ * sizeof(Entry));
  for (std::size_t id = 0; id < site_count_; ++id) {
    sites_[id].live_bytes = 0;
    sites_[id].live_blocks = 0;
  }
  used_ = 0;
  c_.live_blocks = 0;
  c_.live_bytes = 0;
}

TrackingCounters TrackingCore::counters() const noexcept {
  SpinGuard g(lock_);
  return c_;
}

bool TrackingCore::classify_locked(const RootSet& roots, uint64_t* lost) const noexcept {
  // The allocator's and tracker's own memory must not be a root (it holds every block address).
  if (roots.covers(reinterpret_cast<uintptr_t>(table_)) ||
      roots.covers(reinterpret_cast<uintptr_t>(sites_))) {
    return false;
  }
  const std::size_t n = c_.live_blocks;
  if (n == 0) return true;
  const std::size_t bytes = n * (sizeof(ScanBlock) + 1);
  auto* blocks = static_cast<ScanBlock*>(os::reserve(bytes));
  if (blocks == nullptr) return false;
  auto* marked = reinterpret_cast<uint8_t*>(blocks + n);
  std::size_t k = 0;
  for (std::size_t i = 0; i < capacity_ && k < n; ++i) {
    const Entry& e = table_[i];
    if (e.key != 0 && !e.freed) blocks[k++] = ScanBlock{e.key, e.size, e.site};
  }
  std::sort(blocks, blocks + k,
            [](const ScanBlock& a, const ScanBlock& b) { return a.addr < b.addr; });
  const bool ok = mark_reachable(blocks, k, roots, marked);
  if (ok) {
    for (std::size_t i = 0; i < k; ++i) {
      if (marked[i] || blocks[i].tag >= site_count_) continue;
      lost[2 * blocks[i].tag] += blocks[i].size;
      lost[2 * blocks[i].tag + 1] += 1;
    }
  }
  os::release(blocks, bytes);
  return ok;
}

std::size_t TrackingCore::select_locked(Reach which, const uint64_t* lost, SiteTotal* out,
                                        std::size_t max, SiteTotal* rest) const noexcept {
  if (rest != nullptr) *rest = SiteTotal{};
  auto total = [&](std::size_t id, uint64_t* bytes, uint64_t* blocks) {
    const Site& s = sites_[id];
    switch (which) {
      case Reach::kLive:
        *bytes = s.live_bytes, *blocks = s.live_blocks;
        break;
      case Reach::kLost:
        *bytes = lost[2 * id], *blocks = lost[2 * id + 1];
        break;
      case Reach::kReachable:
        *bytes = s.live_bytes - lost[2 * id], *blocks = s.live_blocks - lost[2 * id + 1];
        break;
    }
  };
  std::size_t n = 0;
  for (std::size_t id = 0; id < site_count_; ++id) {
    uint64_t b = 0, k = 0;
    total(id, &b, &k);
    n += k != 0;
  }
  if (n == 0) return 0;
  // Scratch for the sort: mapped, not malloc'd (this may run inside a malloc shim).
  struct Key {
    uint64_t bytes;
    uint64_t blocks;
    uint32_t id;
  };
  const std::size_t bytes = n * sizeof(Key);
  auto* keys = static_cast<Key*>(os::reserve(bytes));
  if (keys == nullptr) return 0;
  std::size_t k = 0;
  for (std::size_t id = 0; id < site_count_; ++id) {
    Key key{0, 0, static_cast<uint32_t>(id)};
    total(id, &key.bytes, &key.blocks);
    if (key.blocks != 0) keys[k++] = key;
  }
  std::sort(keys, keys + n, [](const Key& a, const Key& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.blocks != b.blocks) return a.blocks > b.blocks;
    return a.id < b.id;
  });
  for (std::size_t i = 0; i < n; ++i) {
    if (i < max) {
      out[i] = SiteTotal{keys[i].bytes, keys[i].blocks, sites_[keys[i].id].stack};
    } else if (rest != nullptr) {
      rest->bytes += keys[i].bytes;
      rest->blocks += keys[i].blocks;
    }
  }
  os::release(keys, bytes);
  return n;
}

std::size_t TrackingCore::sites(Reach which, SiteTotal* out, std::size_t max, SiteTotal* rest,
                                bool* scanned) const noexcept {
  RootSet roots;
  const bool scan = which != Reach::kLive;
  // Roots are found before the lock (reading /proc and the loader's list take their own
  // locks); the memory they name is read under it, so no block is freed during the scan.
  bool ok =
      !scan || roots.collect(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)), own_code_);
  if (rest != nullptr) *rest = SiteTotal{};
  SpinGuard g(lock_);
  uint64_t* lost = nullptr;
  const std::size_t lost_bytes = 2 * site_count_ * sizeof(uint64_t);
  if (ok && scan && site_count_ > 0) {
    lost = static_cast<uint64_t*>(os::reserve(lost_bytes));
    ok = lost != nullptr && classify_locked(roots, lost);
  }
  if (scanned != nullptr) *scanned = ok;
  std::size_t n = 0;
  if (ok && site_count_ > 0) n = select_locked(which, lost, out, max, rest);
  if (lost != nullptr) os::release(lost, lost_bytes);
  return n;
}

void TrackingCore::report(int fd) const noexcept {
  // 1. Under the lock: counters, the split and the listed sites, copied into mapped scratch.
  const std::size_t max = options_.leaks_listed;
  const std::size_t list_bytes = 2 * (max == 0 ? 1 : max) * sizeof(SiteTotal);
  auto* lists = static_cast<SiteTotal*>(os::reserve(list_bytes));
  RootSet roots;
  bool split = options_.reachability &&
               roots.collect(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)), own_code_);
  ReportSection sections[2];
  TrackingCounters c;
  {
    SpinGuard g(lock_);
    c = c_;
    uint64_t* lost = nullptr;
    const std::size_t lost_bytes = 2 * (site_count_ + 1) * sizeof(uint64_t);
    if (split) {
      lost = static_cast<uint64_t*>(os::reserve(lost_bytes));
      split = lost != nullptr && lists != nullptr && classify_locked(roots, lost);
    }
    sections[0].top = lists;
    sections[1].top = lists == nullptr ? nullptr : lists + max;
    const Reach which[2] = {split ? Reach::kLost : Reach::kLive, Reach::kReachable};
    sections[0].what = split ? "lost (no pointer to them found)" : "still live";
    sections[1].what = "still reachable";
    for (int k = 0; k < (split ? 2 : 1); ++k) {
      ReportSection& sec = sections[k];
      if (lists != nullptr && site_count_ > 0) {
        sec.n_sites = select_locked(which[k], lost, sec.top, max, &sec.rest);
      }
      sec.add_up(max);
    }
    if (lost != nullptr) os::release(lost, lost_bytes);
  }

  // 2. Outside it: names (dladdr, libdw: heap allowed now) and the text.
  ReportLine out(fd);
  std::optional<Symbolizer> sym;  // made on first use: with file_lines it loads libdw
  for (int k = 0; k < (split ? 2 : 1); ++k)
    write_report_section(out, sections[k], max, options_.file_lines, &sym);
  if (lists != nullptr) os::release(lists, list_bytes);
  write_report_counters(out, c);
}

}  // namespace allocmark
