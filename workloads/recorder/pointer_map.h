// Live pointer -> what the recorder's converter (raw_convert.cc) knows of the block there.
// Layer: workloads/recorder. Not thread-safe.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "base/mmap_allocator.h"

namespace allocmark {

// Live pointer -> V: open addressing, linear probing, backward-shift deletion. A recorded
// program can hold tens of millions of live blocks; std::unordered_map spent a third of the
// conversion in node allocation and pointer chasing. Key and value share one slot, so a lookup
// in a table far larger than the cache is one miss, not two (separate key and value arrays cost
// 0.1 s more on the 7 M-event python3 recording of bench/record_overhead.sh). Key 0 marks an
// empty slot (no block is at 0).
template <class V>
class PointerMap {
 public:
  PointerMap() { rehash(1u << 16); }
  // The slot holding `key`, or the empty slot where it would go.
  size_t slot(uint64_t key) const {
    size_t i = hash(key);
    while (slots_[i].key != 0 && slots_[i].key != key) i = (i + 1) & mask_;
    return i;
  }
  // Starts loading the lines where `key`'s lookup begins (a hint, see Converter::prefetch in
  // raw_convert.cc; always inlined for the reason given at LiveObjects::prefetch): its home slot
  // and the next one, which an erase looks at first and which is on the next cache line when
  // the home is the last slot of its own line (python3 recording: that load was a third of the
  // conversion's time before it was prefetched too).
  [[gnu::always_inline]] void prefetch(uint64_t key) const {
    const size_t i = hash(key);
    __builtin_prefetch(&slots_[i]);
    __builtin_prefetch(&slots_[(i + 1) & mask_]);
  }
  size_t size() const { return size_; }
  bool found(size_t i) const { return slots_[i].key != 0; }
  V& value(size_t i) { return slots_[i].value; }
  const V& value(size_t i) const { return slots_[i].value; }
  void set(size_t i, const V& v) { slots_[i].value = v; }
  // Binds `key` at its empty slot i (from slot()); returns the value where it now lies.
  V& insert_at(size_t i, uint64_t key, const V& v) {
    slots_[i] = {key, v};
    if (++size_ * 2 > slots_.size()) {
      rehash(slots_.size() * 2);
      i = slot(key);
    }
    return slots_[i].value;
  }
  void erase_at(size_t i) {
    --size_;
    for (size_t j = (i + 1) & mask_; slots_[j].key != 0; j = (j + 1) & mask_) {
      const size_t home = hash(slots_[j].key);
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].key = 0;
  }

 private:
  struct Slot {
    uint64_t key;
    V value;
  };
  // Blocks malloc hands out close together in time are mostly close in memory (cut one after
  // another from the same chunk, or a just-freed block reused), so a 256-byte region of the heap
  // keeps one run of 16 slots (8 cache lines at 32-byte slots), its 16-byte granules in order,
  // and only the region's number is hashed (multiplicative). Neighbouring blocks then share
  // lines already in cache; a plain hash of the pointer made each lookup a miss (python3
  // recording: the map's lookups fell from ~40 % to ~25 % of the conversion). Pointers closer
  // than 16 bytes share a home and probe on, as any collision does.
  static constexpr int kRegionLog2 = 4;  // granules per region, log2
  size_t hash(uint64_t key) const {
    const uint64_t region = (key >> (4 + kRegionLog2)) * 0x9E3779B97F4A7C15ull;
    return (region >> (shift_ + kRegionLog2)) << kRegionLog2 |
           ((key >> 4) & ((size_t{1} << kRegionLog2) - 1));
  }
  void rehash(size_t capacity) {
    MmapVector<Slot> old(capacity, Slot{0, V{}});
    old.swap(slots_);
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    for (const Slot& s : old) {
      if (s.key == 0) continue;
      size_t j = hash(s.key);
      while (slots_[j].key != 0) j = (j + 1) & mask_;
      slots_[j] = s;
    }
  }
  MmapVector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  int shift_ = 64;
};
}  // namespace allocmark
