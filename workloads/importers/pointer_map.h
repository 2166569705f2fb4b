// Live-block table of the address-keyed importers (Android, mtrace, valgrind): recorded pointer
// value -> object id. Layer: workloads. Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace allocmark {

// Open addressing with linear probing and backward-shift deletion (no tombstones, so a trace
// with millions of frees keeps short probe runs). Key 0 marks an empty slot: a null pointer is
// never live. Cost: one multiply and, at load <= 1/2, about 1.5 probes per operation.
class PointerMap {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  PointerMap() : slots_(16) {}

  uint32_t find(uint64_t key) const noexcept {
    for (size_t i = home(key);; i = (i + 1) & mask()) {
      if (slots_[i].key == key) return slots_[i].value;
      if (slots_[i].key == 0) return kAbsent;
    }
  }

  // Inserts or overwrites; key must not be 0.
  void put(uint64_t key, uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t i = home(key);
    while (slots_[i].key != 0 && slots_[i].key != key) i = (i + 1) & mask();
    if (slots_[i].key == 0) ++size_;
    slots_[i] = {key, value};
  }

  // Removes key if present; returns its value or kAbsent.
  uint32_t erase(uint64_t key) noexcept {
    size_t i = home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == 0) return kAbsent;
      i = (i + 1) & mask();
    }
    const uint32_t value = slots_[i].value;
    // Shift later members of the probe run back so lookups never stop at the hole too early.
    for (size_t j = (i + 1) & mask(); slots_[j].key != 0; j = (j + 1) & mask()) {
      const size_t h = home(slots_[j].key);
      // Move j into the hole i when its home is not in the cyclic range (i, j].
      if (((j - h) & mask()) >= ((j - i) & mask())) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = {0, 0};
    --size_;
    return value;
  }

  size_t size() const noexcept { return size_; }

 private:
  struct Slot {
    uint64_t key;
    uint32_t value;
  };

  size_t mask() const noexcept { return slots_.size() - 1; }
  size_t home(uint64_t key) const noexcept {
    // Fibonacci hashing: pointers share low zero bits and high prefixes, the multiply mixes both.
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask();
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_ = 0;
    for (const Slot& s : old)
      if (s.key != 0) put(s.key, s.value);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace allocmark
