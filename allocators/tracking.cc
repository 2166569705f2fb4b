// TrackingCore: the block table (open addressing over mmap'd memory), error lines, leak report.
// Layer: allocators (leaf). Heap-free so it can run under the malloc shims.
#include "allocators/tracking.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

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

}  // namespace

TrackingCore::~TrackingCore() {
  if (table_ != nullptr) os::release(table_, capacity_ * sizeof(Entry));
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

void TrackingCore::error_locked(const char* what, const void* p, std::size_t n,
                                std::size_t recorded) noexcept {
  if (!options_.print_errors && !options_.abort_on_error) return;
  char line[200];
  int len;
  if (n == kUnknownSize) {
    len = std::snprintf(line, sizeof line, "allocmark tracking: %s of %p\n", what, p);
  } else {
    len = std::snprintf(line, sizeof line,
                        "allocmark tracking: %s of %p (freed as %zu bytes, allocated as %zu)\n",
                        what, p, n, recorded);
  }
  if (len > 0) write_all(STDERR_FILENO, line, static_cast<std::size_t>(len));
  if (options_.abort_on_error) std::abort();
}

void TrackingCore::on_allocate(void* p, std::size_t n, std::size_t align) noexcept {
  SpinGuard g(lock_);
  const auto key = reinterpret_cast<uintptr_t>(p);
  ++c_.allocations;
  ++c_.histogram[n == 0 ? 0 : 64 - __builtin_clzll(n)];
  ++c_.live_blocks;
  c_.live_bytes += n;
  if (c_.live_bytes > c_.peak_bytes) c_.peak_bytes = c_.live_bytes;
  if (c_.live_blocks > c_.peak_blocks) c_.peak_blocks = c_.live_blocks;
  Entry* e = find_locked(key);
  if (e != nullptr) {
    if (!e->freed) {
      // The inner allocator handed out a block that is still live: overlap.
      --c_.live_blocks;
      c_.live_bytes -= e->size;
      error_locked("allocator returned a live block", p, kUnknownSize, 0);
    }
    --used_;  // the entry is reused (counted back in below)
  } else {
    if ((used_ + 1) * 10 > capacity_ * 7 && !grow_locked()) return;  // untracked: out of memory
    std::size_t i = slot_of(key, capacity_);
    while (table_[i].key != 0) i = (i + 1) & (capacity_ - 1);
    e = &table_[i];
  }
  ++used_;
  *e = Entry{key, n, static_cast<uint32_t>(align), 0};
}

void TrackingCore::on_failed() noexcept {
  SpinGuard g(lock_);
  ++c_.failed;
}

bool TrackingCore::on_free(void* p, std::size_t n, std::size_t align, std::size_t* real_n,
                           std::size_t* real_align) noexcept {
  SpinGuard g(lock_);
  Entry* e = find_locked(reinterpret_cast<uintptr_t>(p));
  if (e == nullptr) {
    ++c_.invalid_frees;
    error_locked("invalid free (never allocated here)", p, kUnknownSize, 0);
    return false;
  }
  if (e->freed) {
    ++c_.double_frees;
    error_locked("double free", p, kUnknownSize, 0);
    return false;
  }
  const std::size_t norm = align == 0 ? kDefaultAlign : align;
  const std::size_t rec_align = e->align == 0 ? kDefaultAlign : e->align;
  if (n != kUnknownSize && (n != e->size || norm != rec_align)) {
    ++c_.size_mismatches;
    error_locked(n != e->size ? "size mismatch in free" : "alignment mismatch in free", p, n,
                 e->size);
  }
  *real_n = e->size;
  *real_align = e->align;
  e->freed = 1;
  ++c_.frees;
  --c_.live_blocks;
  c_.live_bytes -= e->size;
  return true;
}

std::size_t TrackingCore::size_of(const void* p) const noexcept {
  SpinGuard g(lock_);
  const Entry* e = find_locked(reinterpret_cast<uintptr_t>(p));
  return e != nullptr && !e->freed ? e->size : kUnknownSize;
}

void TrackingCore::forget_all() noexcept {
  SpinGuard g(lock_);
  if (table_ != nullptr) std::memset(static_cast<void*>(table_), 0, capacity_ * sizeof(Entry));
  used_ = 0;
  c_.live_blocks = 0;
  c_.live_bytes = 0;
}

TrackingCounters TrackingCore::counters() const noexcept {
  SpinGuard g(lock_);
  return c_;
}

void TrackingCore::report(int fd) const noexcept {
  SpinGuard g(lock_);
  char line[256];
  auto emit = [&](int len) {
    if (len > 0)
      write_all(fd, line, static_cast<std::size_t>(len) < sizeof line ? len : sizeof line - 1);
  };
  emit(std::snprintf(line, sizeof line,
                     "allocmark tracking: %llu blocks (%llu bytes) still live; peak %llu bytes "
                     "in %llu blocks; %llu allocations, %llu frees, %llu failed\n",
                     (unsigned long long)c_.live_blocks, (unsigned long long)c_.live_bytes,
                     (unsigned long long)c_.peak_bytes, (unsigned long long)c_.peak_blocks,
                     (unsigned long long)c_.allocations, (unsigned long long)c_.frees,
                     (unsigned long long)c_.failed));
  emit(std::snprintf(line, sizeof line,
                     "allocmark tracking: errors: %llu double free, %llu invalid free, %llu size "
                     "mismatch\n",
                     (unsigned long long)c_.double_frees, (unsigned long long)c_.invalid_frees,
                     (unsigned long long)c_.size_mismatches));
  for (std::size_t k = 0; k < c_.histogram.size(); ++k) {
    if (c_.histogram[k] == 0) continue;
    const unsigned long long lo = k == 0 ? 0 : 1ull << (k - 1);
    const unsigned long long hi = k == 0 ? 0 : (k == 64 ? ~0ull : (1ull << k) - 1);
    emit(std::snprintf(line, sizeof line, "allocmark tracking: size %llu..%llu: %llu\n", lo, hi,
                       (unsigned long long)c_.histogram[k]));
  }
  std::size_t listed = 0;
  for (std::size_t i = 0; i < capacity_ && listed < options_.leaks_listed; ++i) {
    const Entry& e = table_[i];
    if (e.key == 0 || e.freed) continue;
    ++listed;
    emit(std::snprintf(line, sizeof line, "allocmark tracking: leak %p: %llu bytes, align %u\n",
                       reinterpret_cast<void*>(e.key), (unsigned long long)e.size, e.align));
  }
  if (c_.live_blocks > listed) {
    emit(std::snprintf(line, sizeof line, "allocmark tracking: ... and %llu more live blocks\n",
                       (unsigned long long)(c_.live_blocks - listed)));
  }
}

}  // namespace allocmark
