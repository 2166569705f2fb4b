// State of the live objects of a trace, keyed by object id, in memory proportional to the live
// set rather than to the trace: an open-addressing hash map (linear probing, backward-shift
// deletion) plus one bit per id ever allocated (ids are single-use). Layer: workloads.
// Why: a 10^9-event trace has ~5 * 10^8 ids; a dense 16-32-byte table per id would need 8-16
// GiB, while its live set is what a program actually held (churn: 1000 objects). Cost: a
// multiply, a shift and one or two probes per lookup (the table stays at most half full), and
// an id bitmap of 1 bit per id (60 MiB for 5 * 10^8 ids). Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "base/mmap_allocator.h"

namespace allocmark {

// kTrackSeen: keep the bit per id ever made live (seen()); off where only liveness matters
// (the replay's slot mapping), so memory stays proportional to the live set alone.
template <class V, bool kTrackSeen = true>
class LiveObjects {
 public:
  explicit LiveObjects(size_t expected_live = 64) { rehash(capacity_for(expected_live)); }

  size_t size() const noexcept { return count_; }

  // The live object's state, or nullptr when `id` is not live.
  V* find(uint32_t id) noexcept {
    for (size_t i = home(id);; i = (i + 1) & mask_) {
      Entry& e = table_[i];
      if (e.id == id && e.used) return &e.value;
      if (!e.used) return nullptr;
    }
  }

  const V* find(uint32_t id) const noexcept { return const_cast<LiveObjects*>(this)->find(id); }

  // Makes `id` live (it must not be) and returns its value, default-constructed.
  V& insert(uint32_t id) {
    if ((count_ + 1) * 2 > table_.size()) rehash(table_.size() * 2);
    if constexpr (kTrackSeen) mark_seen(id);
    ++count_;
    return place(id, V{});
  }

  // Ends `id`'s life (it must be live). Backward-shift deletion: no tombstones, so a long trace
  // never fills the table with them.
  void erase(uint32_t id) noexcept {
    size_t hole = home(id);
    while (!(table_[hole].used && table_[hole].id == id)) hole = (hole + 1) & mask_;
    for (size_t i = (hole + 1) & mask_; table_[i].used; i = (i + 1) & mask_) {
      const size_t want = home(table_[i].id);
      // Move entry i into the hole unless its home lies cyclically in (hole, i].
      const bool stays = hole <= i ? (want > hole && want <= i) : (want > hole || want <= i);
      if (!stays) {
        table_[hole] = table_[i];
        hole = i;
      }
    }
    table_[hole].used = false;
    --count_;
  }

  // Starts loading the line where `id`'s lookup begins (a hint: no effect on the contents). A
  // caller that knows which ids it will touch next overlaps their cache misses with its work.
  // Always inlined: GCC deems a function that only prefetches free of effects and drops calls
  // to it (ipa-pure-const), prefetch and all.
  [[gnu::always_inline]] void prefetch(uint32_t id) const noexcept {
    __builtin_prefetch(&table_[home(id)]);
  }

  // Whether `id` was ever made live (live now or freed).
  bool seen(uint32_t id) const noexcept requires kTrackSeen {
    const size_t word = id >> 6;
    return word < seen_.size() && (seen_[word] >> (id & 63) & 1);
  }

  // Calls f(id, value) for every live object, in no particular order.
  template <class F>
  void for_each(F&& f) {
    for (Entry& e : table_)
      if (e.used) f(e.id, e.value);
  }

 private:
  struct Entry {
    uint32_t id;
    bool used;
    V value;
  };

  static size_t capacity_for(size_t live) {
    size_t c = 16;
    while (c < live * 2) c *= 2;
    return c;
  }
  // Ids are handed out in order and most objects die young, so the ids touched close together
  // in time are close in value: a run of 8 consecutive ids keeps 8 consecutive slots (256 bytes
  // at 32-byte entries) and only the run's number is hashed (multiplicative, Fibonacci). A
  // recording's allocations then land in lines already in cache instead of one miss each
  // (python3, 7 M events: the builder's inserts went from a quarter of the conversion to a
  // tenth). Not the identity: dense runs of live ids (old and young ones a table size apart)
  // merged into clusters of millions of slots under linear probing; here a cluster is a few
  // runs, as with any hash at most half full.
  static constexpr unsigned kRunLog2 = 3;
  size_t home(uint32_t id) const noexcept {
    const uint64_t run = uint64_t{id >> kRunLog2} * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(run >> (shift_ + kRunLog2) << kRunLog2 |
                               (id & ((1u << kRunLog2) - 1)));
  }
  V& place(uint32_t id, const V& value) noexcept {
    size_t i = home(id);
    while (table_[i].used) i = (i + 1) & mask_;
    table_[i] = Entry{id, true, value};
    return table_[i].value;
  }
  void mark_seen(uint32_t id) {
    const size_t word = id >> 6;
    if (word >= seen_.size()) seen_.resize(std::max(word + 1, seen_.size() * 2), 0);
    seen_[word] |= uint64_t{1} << (id & 63);
  }
  void rehash(size_t capacity) {
    MmapVector<Entry> old;
    old.swap(table_);
    table_.assign(capacity, Entry{0, false, V{}});
    mask_ = capacity - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(capacity));
    for (const Entry& e : old)
      if (e.used) place(e.id, e.value);
  }

  MmapVector<Entry> table_;
  MmapVector<uint64_t> seen_;
  size_t mask_ = 0;
  unsigned shift_ = 0;
  size_t count_ = 0;
};

}  // namespace allocmark
