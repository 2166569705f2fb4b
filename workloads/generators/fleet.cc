// fleet: an empirical steady-state heap; sizes and lifetimes drawn from a table shaped like
// warehouse-scale fleet profiles (most allocations small, most live bytes in large, long-lived
// objects). Layer: workloads. The table is ours; see workloads/README.md for the source it follows.
#include <functional>
#include <queue>

#include "workloads/generators/gen_util.h"
#include "workloads/generators/generator_list.h"

namespace allocmark::gen {
namespace {

// One row: allocations in per-mille, a size range (log-uniform inside), and lifetimes measured in
// allocations (log-uniform), with a share of long-lived ones. Shape targets, from the fleet
// profile in Hunter et al. (OSDI'21) and TCMalloc's size-class design notes: ~80 % of allocations
// are <= 256 bytes, yet objects over 8 KiB hold most of the live bytes because they live longer.
struct Row {
  uint32_t per_mille;
  uint64_t min_size, max_size;
  uint64_t min_life, max_life;
  uint32_t long_percent;  // share with lifetimes in [max_life, kLongLife]
};
constexpr uint64_t kLongLife = 200000;
constexpr Row kRows[] = {
    {500, 8, 64, 1, 1000, 10},             // small structs, strings, list nodes
    {300, 65, 256, 1, 1000, 10},           // small containers
    {100, 257, 1024, 1, 20000, 5},         // medium buffers
    {70, 1025, 8192, 1, 20000, 5},         // pages of data, I/O buffers
    {27, 8193, 262144, 100, 20000, 10},    // large arrays, hash tables
    {3, 262145, 2097152, 1000, 50000, 0},  // very large buffers, caches
};
static_assert([] {
  uint32_t sum = 0;
  for (const Row& r : kRows) sum += r.per_mille;
  return sum == 1000;
}());

bool generate(const GeneratorArgs& args, ParamReader& p, TraceOutput* out, std::string* error) {
  const uint64_t allocations = p.u64("allocations");
  if (!check_params(p, error) ||
      !check_events(sat_mul(args.threads, sat_mul(allocations, 2)), error))
    return false;
  Emitter e(out, args.threads);
  using Death = std::pair<uint64_t, uint32_t>;  // (tick of death, object): ties broken by id
  struct State {
    Rng rng;
    std::priority_queue<Death, std::vector<Death>, std::greater<Death>> heap{};
    uint64_t tick = 0;
  };
  std::vector<State> st;
  for (uint32_t t = 0; t < args.threads; ++t) st.push_back({Rng(args.seed, t), {}});
  interleave(e, args.threads, 64, [&](uint32_t t) {
    State& s = st[t];
    if (s.tick >= allocations) {
      for (; !s.heap.empty(); s.heap.pop()) e.free(t, s.heap.top().second);
      return false;
    }
    // Time is counted in allocations: everything due by now dies, then one new object is born.
    for (; !s.heap.empty() && s.heap.top().first <= s.tick; s.heap.pop())
      e.free(t, s.heap.top().second);
    uint32_t pick = static_cast<uint32_t>(s.rng.below(1000));
    const Row* row = kRows;
    while (pick >= row->per_mille) pick -= (row++)->per_mille;
    const uint64_t size = s.rng.log_uniform(row->min_size, row->max_size);
    const uint64_t life = s.rng.chance(row->long_percent, 100)
                              ? s.rng.log_uniform(row->max_life, kLongLife)
                              : s.rng.log_uniform(row->min_life, row->max_life);
    s.heap.push({s.tick + life, e.malloc(t, size)});
    ++s.tick;
    return true;
  });
  return e.finish(error);
}

}  // namespace

Generator fleet_generator() {
  return {"fleet",
          "empirical steady-state heap: sizes and lifetimes from a fleet-shaped table (80 % of "
          "allocations <= 256 B, most live bytes in objects > 8 KiB); independent per thread",
          "TCMalloc fleet profile as described in Hunter et al., 'Beyond malloc efficiency to "
          "fleet efficiency' (OSDI'21); table in workloads/generators/fleet.cc",
          {{"allocations", "500000", "allocations per thread (time is counted in allocations)"}},
          true,
          generate};
}

}  // namespace allocmark::gen
