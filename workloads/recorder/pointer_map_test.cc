// PointerMap (pointer_map.h) against std::unordered_map under heap-like address patterns.
#include "workloads/recorder/pointer_map.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace allocmark {
namespace {

// Runs `steps` random allocations and frees of addresses from `next_address` against both maps
// and checks that they agree on every lookup. The map grows from its initial 64 Ki slots.
template <class NextAddress>
void agree_with_model(NextAddress next_address, int steps, uint32_t seed) {
  PointerMap<uint32_t> map;
  std::unordered_map<uint64_t, uint32_t> model;
  std::vector<uint64_t> live;
  std::mt19937 rng(seed);
  uint32_t id = 0;
  for (int step = 0; step < steps; ++step) {
    if (live.empty() || rng() % 5 < 3) {
      const uint64_t p = next_address(rng);
      const size_t i = map.slot(p);
      ASSERT_EQ(map.found(i), model.count(p) == 1) << "address " << p;
      if (map.found(i)) {  // reused while live in the model: rebind, as the converter does
        map.set(i, ++id);
      } else {
        map.insert_at(i, p, ++id);
        live.push_back(p);
      }
      model[p] = id;
    } else {
      const size_t k = rng() % live.size();
      const uint64_t p = live[k];
      live[k] = live.back();
      live.pop_back();
      const size_t i = map.slot(p);
      ASSERT_TRUE(map.found(i));
      EXPECT_EQ(map.value(i), model[p]);
      map.erase_at(i);
      model.erase(p);
      EXPECT_FALSE(map.found(map.slot(p)));
    }
  }
  EXPECT_EQ(map.size(), model.size());
  for (const auto& [p, v] : model) {
    const size_t i = map.slot(p);
    ASSERT_TRUE(map.found(i));
    EXPECT_EQ(map.value(i), v);
  }
}

// Blocks cut one after another from a bump region: dense neighbours, the case the region hash
// keeps together (many keys per 16-slot run).
TEST(PointerMap, AgreesWithAHashMapForBumpAddresses) {
  uint64_t top = 0x555500000000;
  agree_with_model(
      [&](std::mt19937& rng) {
        top += 16 * (1 + rng() % 6);
        return top;
      },
      400000, 1);
}

// Every 16-byte granule of a small arena, reused at random: full runs and keys closer than a
// granule's neighbours (8-byte steps share a home).
TEST(PointerMap, AgreesWithAHashMapForAReusedArena) {
  agree_with_model([](std::mt19937& rng) { return 0x7f0000001000 + 8 * (rng() % 200000); }, 400000,
                   2);
}

// Addresses far apart (mmap'd blocks, other arenas): the plain hashing case.
TEST(PointerMap, AgreesWithAHashMapForScatteredAddresses) {
  agree_with_model([](std::mt19937& rng) { return (uint64_t{rng()} << 16 | 0x10) + 0x10000; },
                   400000, 3);
}

}  // namespace
}  // namespace allocmark
