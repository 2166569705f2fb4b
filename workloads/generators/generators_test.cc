// Tests of the generator registry, parameter parsing and every generator's trace.
// Layer: workloads tests. Small parameters keep the whole file well under a second per generator.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>
#include <string>

#include "workloads/generator.h"
#include "workloads/trace_file.h"

namespace allocmark {
namespace {

// Small overrides per generator so the tests stay fast; every registered generator must be here,
// which forces a new generator to come with a test configuration.
const std::map<std::string, std::map<std::string, std::string>>& small_params() {
  static const std::map<std::string, std::map<std::string, std::string>> kSmall = {
      {"alloc-only", {{"count", "2000"}}},
      {"churn", {{"slots", "100"}, {"steps", "2000"}}},
      {"phase-reset", {{"requests", "50"}}},
      {"larson", {{"slots", "200"}, {"steps", "500"}, {"generations", "3"}}},
      {"xmalloc", {{"batches", "50"}}},
      {"mstress", {{"iterations", "4"}, {"items", "200"}}},
      {"alloc-test", {{"steps", "3000"}, {"slots", "500"}}},
      {"glibc-simple", {{"rounds", "3"}}},
      {"glibc-thread", {{"steps", "3000"}, {"slots", "200"}}},
      {"lifo-free", {{"rounds", "3"}}},
      {"cache-thrash", {{"iterations", "300"}}},
      {"cache-scratch", {{"iterations", "300"}}},
      {"large-buffers", {{"steps", "10"}, {"min_size", "1M"}, {"max_size", "2M"}}},
      {"realloc-growth", {{"buffers", "50"}, {"steps", "3000"}}},
      {"frag-checkerboard", {{"count", "2000"}, {"rounds", "2"}}},
      {"frag-sawtooth", {{"count", "2000"}, {"rounds", "3"}}},
      {"short-lived-threads", {{"lives", "20"}, {"objects", "100"}}},
      {"fleet", {{"allocations", "5000"}}},
  };
  return kSmall;
}

Trace make(const std::string& name, uint32_t threads, uint64_t seed,
           std::map<std::string, std::string> extra = {}) {
  const Generator* g = find_generator(name);
  EXPECT_NE(g, nullptr) << name;
  GeneratorArgs args;
  args.values = small_params().at(name);
  for (auto& [k, v] : extra) args.values[k] = v;
  args.threads = threads;
  args.seed = seed;
  Trace t;
  std::string error;
  EXPECT_TRUE(generate_trace(*g, args, &t, &error)) << error;
  return t;
}

TraceSummary check(Trace& t) {
  TraceSummary s;
  TraceError e;
  EXPECT_TRUE(check_trace(t, &s, &e)) << e.message();
  return s;
}

bool same_events(const Trace& a, const Trace& b) {
  if (a.threads.size() != b.threads.size() || a.schedule.size() != b.schedule.size() ||
      a.object_count != b.object_count || a.metadata_json != b.metadata_json)
    return false;
  for (size_t t = 0; t < a.threads.size(); ++t) {
    const auto &x = a.threads[t].events, &y = b.threads[t].events;
    if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size() * sizeof(Event)) != 0)
      return false;
  }
  return std::memcmp(a.schedule.data(), b.schedule.data(),
                     a.schedule.size() * sizeof(ScheduleRun)) == 0;
}

TEST(GenRegistry, NamesUniqueDescribedAndTested) {
  std::set<std::string> names;
  for (const Generator& g : generators()) {
    EXPECT_TRUE(names.insert(g.name).second) << g.name;
    EXPECT_FALSE(g.description.empty()) << g.name;
    EXPECT_FALSE(g.follows.empty()) << g.name;
    EXPECT_NE(g.generate, nullptr) << g.name;
    EXPECT_TRUE(small_params().count(g.name)) << g.name << " needs test parameters";
    for (const GeneratorParam& p : g.params) EXPECT_FALSE(p.help.empty()) << g.name << p.name;
  }
  EXPECT_EQ(find_generator("no-such-generator"), nullptr);
}

TEST(GenParams, SizesWithSuffixes) {
  std::vector<GeneratorParam> decl = {{"a", "64K", "x"}, {"b", "1", "x"}, {"c", "2.5", "x"}};
  GeneratorArgs args;
  args.values = {{"b", "3MiB"}};
  ParamReader r(decl, args);
  EXPECT_EQ(r.u64("a"), 64u * 1024);
  EXPECT_EQ(r.u64("b"), 3u << 20);
  EXPECT_DOUBLE_EQ(r.real("c"), 2.5);
  EXPECT_EQ(r.error(), "");
}

TEST(GenParams, BadValuesNameTheParameter) {
  std::vector<GeneratorParam> decl = {{"size", "12x", "x"}, {"n", "99999999999999999999", "x"}};
  GeneratorArgs args;
  ParamReader r(decl, args);
  r.u64("size");
  EXPECT_NE(r.error().find("param 'size'"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("'12x'"), std::string::npos) << r.error();
  ParamReader r2(decl, args);
  r2.u64("n");
  EXPECT_NE(r2.error().find("param 'n'"), std::string::npos) << r2.error();
  args.values = {{"size", "16E"}};
  ParamReader r3(decl, args);
  r3.real("size");
  EXPECT_NE(r3.error().find("expected a number"), std::string::npos) << r3.error();
}

TEST(GenGenerate, RefusesUnknownParamListingKnownOnes) {
  GeneratorArgs args;
  args.values = {{"slotz", "10"}};
  Trace t;
  std::string error;
  EXPECT_FALSE(generate_trace(*find_generator("churn"), args, &t, &error));
  EXPECT_NE(error.find("unknown param 'slotz'"), std::string::npos) << error;
  EXPECT_NE(error.find("slots, size, steps"), std::string::npos) << error;
}

TEST(GenGenerate, RefusesBadValueAndZeroThreads) {
  GeneratorArgs args;
  args.values = {{"slots", "ten"}};
  Trace t;
  std::string error;
  EXPECT_FALSE(generate_trace(*find_generator("churn"), args, &t, &error));
  EXPECT_NE(error.find("param 'slots'"), std::string::npos) << error;
  args.values = {{"slots", "0"}};
  EXPECT_FALSE(generate_trace(*find_generator("churn"), args, &t, &error));
  EXPECT_NE(error.find("'slots' must be at least 1"), std::string::npos) << error;
  args.values.clear();
  args.threads = 0;
  EXPECT_FALSE(generate_trace(*find_generator("churn"), args, &t, &error));
  EXPECT_NE(error.find("threads must be at least 1"), std::string::npos) << error;
  args.threads = 100000;
  EXPECT_FALSE(generate_trace(*find_generator("churn"), args, &t, &error));
}

TEST(GenGenerate, GeneratorsCheckTheirOwnRanges) {
  const std::pair<const char*, std::map<std::string, std::string>> bad[] = {
      {"cache-thrash", {{"size", "1M"}}},
      {"larson", {{"min_size", "100"}, {"max_size", "10"}}},
      {"frag-checkerboard", {{"growth", "1"}}},
      {"phase-reset", {{"early_free_percent", "101"}}},
      {"alloc-only", {{"max_size", "2T"}}},
  };
  for (const auto& [name, values] : bad) {
    GeneratorArgs args;
    args.values = values;
    Trace t;
    std::string error;
    EXPECT_FALSE(generate_trace(*find_generator(name), args, &t, &error)) << name;
    EXPECT_NE(error.find("param '"), std::string::npos) << error;
  }
}

TEST(GenGenerate, SingleThreadedRefusesThreads) {
  for (const Generator& g : generators()) {
    if (g.multi_threaded) continue;
    GeneratorArgs args;
    args.values = small_params().at(g.name);
    args.threads = 2;
    Trace t;
    std::string error;
    EXPECT_FALSE(generate_trace(g, args, &t, &error)) << g.name;
    EXPECT_NE(error.find("single-threaded"), std::string::npos) << error;
  }
}

TEST(GenGenerate, RefusesHugeWorkloads) {
  GeneratorArgs args;
  args.values = {{"steps", "1T"}};
  Trace t;
  std::string error;
  EXPECT_FALSE(generate_trace(*find_generator("churn"), args, &t, &error));
  EXPECT_NE(error.find("events"), std::string::npos) << error;
}

TEST(GenGenerate, MetadataRecordsProvenance) {
  Trace t = make("churn", 2, 7);
  EXPECT_EQ(t.metadata_json,
            R"({"source":"generator","generator":"churn","params":{"slots":"100","size":"64",)"
            R"("steps":"2000"},"threads":2,"seed":7})");
}

class GenEach : public ::testing::TestWithParam<std::string> {};

TEST_P(GenEach, ValidDeterministicAndSeedDependent) {
  const std::string name = GetParam();
  Trace a = make(name, 1, 1), b = make(name, 1, 1), c = make(name, 1, 2);
  TraceSummary s = check(a);
  EXPECT_GT(s.events, 10u);
  EXPECT_GT(s.by_op[static_cast<int>(Op::kMalloc)] + s.by_op[static_cast<int>(Op::kRealloc)] +
                s.by_op[static_cast<int>(Op::kAlignedAlloc)] +
                s.by_op[static_cast<int>(Op::kCalloc)],
            0u);
  EXPECT_TRUE(same_events(a, b));
  EXPECT_FALSE(same_events(a, c));
}

TEST_P(GenEach, RespectsThreads) {
  const std::string name = GetParam();
  const Generator* g = find_generator(name);
  Trace t = make(name, g->multi_threaded ? 3 : 1, 5);
  TraceSummary s = check(t);
  if (name == "short-lived-threads") {
    EXPECT_GT(s.threads, 3u);
    EXPECT_GT(s.by_op[static_cast<int>(Op::kThreadExit)], 3u);
  } else {
    EXPECT_EQ(s.threads, g->multi_threaded ? 3u : 1u);
  }
  for (const ThreadStream& ts : t.threads) EXPECT_FALSE(ts.events.empty());
}

INSTANTIATE_TEST_SUITE_P(Gen, GenEach, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (const Generator& g : generators()) names.push_back(g.name);
                           return names;
                         }()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(GenLarson, HandsObjectsAcrossThreads) {
  Trace t = make("larson", 4, 3);
  TraceSummary s = check(t);
  EXPECT_GT(s.cross_thread_frees, 1000u);
  EXPECT_EQ(s.final_live_objects, 0u);
}

TEST(GenChurn, KeepsTheWorkingSetConstant) {
  Trace t = make("churn", 1, 3);
  TraceSummary s = check(t);
  EXPECT_EQ(s.peak_live_objects, 100u);
  EXPECT_EQ(s.peak_live_bytes, 100u * 64);
  EXPECT_EQ(s.final_live_bytes, 0u);
}

TEST(GenPhaseReset, EndsEveryRequestWithAPhaseEnd) {
  Trace t = make("phase-reset", 2, 3);
  TraceSummary s = check(t);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kPhaseEnd)], 2u * 50);
  uint64_t phase_frees = 0;
  for (const ThreadStream& ts : t.threads)
    for (const Event& e : ts.events) phase_frees += (e.flags & kFlagPhaseFree) != 0;
  EXPECT_GT(phase_frees, 0u);
  EXPECT_EQ(s.final_live_objects, 0u);
}

TEST(GenCache, WritesThroughAccessEvents) {
  Trace thrash = make("cache-thrash", 2, 3);
  TraceSummary s = check(thrash);
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kAccess)], s.by_op[static_cast<int>(Op::kMalloc)] * 8);
  Trace scratch = make("cache-scratch", 4, 3);
  EXPECT_EQ(check(scratch).cross_thread_frees, 3u);  // threads 1..3 free thread 0's objects
}

TEST(GenShortLivedThreads, ThreadsExitAndHandObjectsToMain) {
  Trace t = make("short-lived-threads", 4, 3);
  TraceSummary s = check(t);
  EXPECT_EQ(s.threads, 21u);  // main + 20 lives
  EXPECT_EQ(s.by_op[static_cast<int>(Op::kThreadExit)], 20u);
  EXPECT_GT(s.cross_thread_frees, 0u);
  for (size_t i = 1; i < t.threads.size(); ++i)
    EXPECT_EQ(t.threads[i].events.back().op, Op::kThreadExit);
}

TEST(GenFleet, SmallAllocationsButLargeLiveBytes) {
  GeneratorArgs args;
  args.values = {{"allocations", "200000"}};
  Trace t;
  std::string error;
  ASSERT_TRUE(generate_trace(*find_generator("fleet"), args, &t, &error)) << error;
  // Walk to the middle of the trace (steady state) and split live bytes by object size.
  std::vector<uint64_t> size(t.object_count, 0);
  uint64_t small_allocs = 0, allocs = 0, large_live = 0, live = 0;
  const auto& ev = t.threads[0].events;
  for (size_t i = 0; i < ev.size() / 2; ++i) {
    const Event& e = ev[i];
    if (e.op == Op::kMalloc) {
      size[e.obj] = e.size;
      ++allocs;
      small_allocs += e.size <= 256;
      live += e.size;
      if (e.size > 8192) large_live += e.size;
    } else if (e.op == Op::kFree) {
      live -= size[e.obj];
      if (size[e.obj] > 8192) large_live -= size[e.obj];
    }
  }
  EXPECT_GT(small_allocs * 100, allocs * 70);  // most allocations are small
  EXPECT_GT(large_live * 100, live * 70);      // most live bytes are in large objects
}

TEST(GenLargeBuffers, SizesStayInRange) {
  Trace t = make("large-buffers", 1, 3);
  for (const Event& e : t.threads[0].events)
    if (e.op == Op::kMalloc) {
      EXPECT_GE(e.size, 1u << 20);
      EXPECT_LE(e.size, 2u << 20);
    }
}

// Traces must be identical on every machine and compiler: pin a hash of a few generators that
// use the integer size distributions. A deliberate change to a generator updates these values.
uint64_t fnv(const Trace& t) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ull;
  };
  for (const ThreadStream& ts : t.threads) mix(ts.events.data(), ts.events.size() * sizeof(Event));
  return h;
}

TEST(GenGolden, SameTraceOnEveryMachine) {
  const std::pair<const char*, uint64_t> golden[] = {
      {"glibc-thread", 0x70c002ed20114957ull},
      {"fleet", 0x0c66be773386efe3ull},
      {"alloc-test", 0x6132d3508d5f1abbull},
      {"alloc-only", 0xa1bb0b48d404a9ecull},
  };
  for (const auto& [name, hash] : golden) {
    Trace t = make(name, 1, 1234);
    EXPECT_EQ(fnv(t), hash) << name << " 0x" << std::hex << fnv(t);
  }
}

TEST(GenDefaults, ChurnAndLarsonAreAboutAMillionEvents) {
  for (const char* name : {"churn", "larson"}) {
    GeneratorArgs args;
    Trace t;
    std::string error;
    ASSERT_TRUE(generate_trace(*find_generator(name), args, &t, &error)) << error;
    EXPECT_GT(t.event_count(), 500'000u) << name;
    EXPECT_LT(t.event_count(), 3'000'000u) << name;
  }
}

}  // namespace
}  // namespace allocmark
