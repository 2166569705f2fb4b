// Arena slow paths: taking chunks, large requests, reset and marks.
// Layer: allocators (leaf). No heap use: also the engine of the arena malloc shim.
#include "allocators/arena.h"

#include <cstring>

#include "allocators/os.h"

namespace allocmark {

ALLOCMARK_THREAD_LOCAL Arena::Slot Arena::slots_[Arena::kSlots];
ALLOCMARK_THREAD_LOCAL Arena::GrowSlot Arena::grow_slots_[Arena::kSlots];

Arena::Arena(const ArenaOptions& options) : options_(options), id_(next_instance_id()) {
  if (!is_pow2(options_.chunk_size) || options_.chunk_size < 4096) options_.chunk_size = 1 << 20;
  if (options_.large_divisor == 0) options_.large_divisor = 1;
}

Arena::~Arena() {
  for (Chunk* list : {head_, warm_}) {
    while (list != nullptr) {
      Chunk* next = list->next;
      os::release(list, list->size);
      list = next;
    }
  }
}

Arena::Chunk* Arena::new_chunk_locked(std::size_t payload) noexcept {
  if (payload <= options_.chunk_size - kHeader && warm_ != nullptr) {
    Chunk* c = warm_;
    warm_ = c->next;
    --warm_count_;
    c->next = head_;
    head_ = c;
    ++chunk_count_;
    return c;
  }
  std::size_t size = options_.chunk_size;
  if (payload > size - kHeader) {
    if (payload > SIZE_MAX / 2) return nullptr;
    size = align_up(payload + kHeader, os::page_size());
  }
  if (options_.max_bytes != 0 && bytes_mapped_ + size > options_.max_bytes) return nullptr;
  auto* c = static_cast<Chunk*>(os::reserve(size, os::page_size()));
  if (c == nullptr) return nullptr;
  ++os_maps_;
  bytes_mapped_ += size;
  c->size = size;
  c->next = head_;
  head_ = c;
  ++chunk_count_;
  return c;
}

void Arena::free_chunk_locked(Chunk* c) noexcept {
  if (c->size == options_.chunk_size && warm_count_ < options_.warm_chunks) {
    c->next = warm_;
    warm_ = c;
    ++warm_count_;
    return;
  }
  bytes_mapped_ -= c->size;
  ++os_unmaps_;
  os::release(c, c->size);
}

void* Arena::allocate_slow(std::size_t n, std::size_t align) noexcept {
  if (n == 0) n = 1;
  const std::size_t a = align != 0 ? align : kDefaultAlign;
  const uintptr_t mask = a - 1;
  Slot& s = slots_[id_ & (kSlots - 1)];
  if (void* p = bump_retry(s, id_, n, mask)) return p;
  if (n > SIZE_MAX / 4 || a > SIZE_MAX / 4) return nullptr;
  // Worst-case payload so an `a`-aligned block of n bytes fits after the header.
  const std::size_t need = n + (a > kHeader ? a - kHeader : 0);
  const bool large = need > options_.chunk_size / options_.large_divisor;
  Chunk* c;
  {
    SpinGuard g(lock_);
    c = new_chunk_locked(need);
  }
  if (c == nullptr) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(c) + kHeader;
  const uintptr_t p = (start + mask) & ~mask;
  if (large) return reinterpret_cast<void*>(p);  // own chunk; this thread keeps its current one
  s.cursor = p + n;
  s.limit = reinterpret_cast<uintptr_t>(c) + c->size;
  s.last = p;
  return reinterpret_cast<void*>(p);
}

Arena::GrowEntry* Arena::grow_table() noexcept {
  GrowSlot& g = grow_slots_[id_ & (kSlots - 1)];
  if (g.owner == id_) return g.table;
  auto* t = static_cast<GrowEntry*>(allocate(kGrowEntries * sizeof(GrowEntry), 64));
  if (t == nullptr) return nullptr;
  std::memset(t, 0, kGrowEntries * sizeof(GrowEntry));  // a reused warm chunk holds old bytes
  g = GrowSlot{id_, t};
  return t;
}

void* Arena::reallocate(void* p, std::size_t old_n, std::size_t n, std::size_t align) noexcept {
  if (p == nullptr) return allocate(n, align);
  if (n == 0) n = 1;
  const auto a = reinterpret_cast<uintptr_t>(p);
  const std::size_t key = grow_key(a);
  GrowSlot& g = grow_slots_[id_ & (kSlots - 1)];
  GrowEntry* e = g.owner == id_ && g.table[key].block == a ? &g.table[key] : nullptr;
  Slot& s = slots_[id_ & (kSlots - 1)];
  if (s.owner == id_ && a == s.last && a != 0 && n <= s.limit - a) {  // policy 1
    s.cursor = a + n;
    if (e != nullptr) e->block = 0;  // its headroom belongs to the cursor again
    return p;
  }
  if (e != nullptr && n <= e->end - a) return p;  // policy 2
  if (n <= old_n) return p;
  GrowEntry* table = grow_table();  // first: the new block must end up as the most recent
  std::size_t room = n <= SIZE_MAX / 4 ? n + n / 2 : n;
  void* q = allocate(room, align);
  if (q == nullptr && room != n) q = allocate(room = n, align);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, old_n);
  if (e != nullptr) e->block = 0;
  if (table != nullptr) {
    const auto b = reinterpret_cast<uintptr_t>(q);
    table[grow_key(b)] = GrowEntry{b, b + room};
  }
  return q;
}

void Arena::reset() noexcept {
  SpinGuard g(lock_);
  Chunk* c = head_;
  head_ = nullptr;
  while (c != nullptr) {
    Chunk* next = c->next;
    free_chunk_locked(c);
    c = next;
  }
  chunk_count_ = 0;
  id_ = next_instance_id();
  ++epoch_;
}

ArenaMark Arena::mark() noexcept {
  SpinGuard g(lock_);
  ArenaMark m;
  m.chunk = head_;
  m.epoch = epoch_;
  const Slot& s = slots_[id_ & (kSlots - 1)];
  if (s.owner == id_) {
    m.cursor = s.cursor;
    m.limit = s.limit;
  }
  return m;
}

bool Arena::rollback(const ArenaMark& m) noexcept {
  SpinGuard g(lock_);
  if (m.epoch != epoch_) return false;
  while (head_ != m.chunk && head_ != nullptr) {
    Chunk* next = head_->next;
    free_chunk_locked(head_);
    --chunk_count_;
    head_ = next;
  }
  id_ = next_instance_id();  // other threads may hold chunks that are gone now
  Slot& s = slots_[id_ & (kSlots - 1)];
  s = Slot{id_, m.cursor, m.limit, 0};
  return true;
}

std::size_t Arena::chunk_count() const noexcept {
  SpinGuard g(lock_);
  return chunk_count_;
}

AllocatorStats Arena::stats() const noexcept {
  SpinGuard g(lock_);
  AllocatorStats st;
  st.bytes_reserved = bytes_mapped_;
  st.bytes_committed = bytes_mapped_;  // upper bound: chunk pages are committed as touched
  st.os_maps = os_maps_;
  st.os_unmaps = os_unmaps_;
  return st;
}

}  // namespace allocmark
