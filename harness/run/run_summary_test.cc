// Tests of summary.json's comparison fields: the baseline, vs_baseline with its verdicts, the A/A
// noise floor, per-cell precision and its why_not, and the Markdown lines that report them.
// Layer: harness tests.
#include "harness/run/run_summary.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace allocmark {
namespace {

using nlohmann::json;

// Result lines of one cell: ns_per_op values as given, memory `heap` bytes above a 1 MiB baseline.
void add_cell(std::vector<json>* lines, const std::string& workload, const std::string& alloc,
              const std::vector<double>& ns, double heap = 4 << 20, int first_rep = 0) {
  int rep = first_rep;
  for (double v : ns)
    lines->push_back({{"workload", workload},
                      {"threads", 1},
                      {"allocator", alloc},
                      {"rep", rep++},
                      {"status", "ok"},
                      {"ns_per_op", v},
                      {"baseline_rss_bytes", 1 << 20},
                      {"peak_rss_bytes", (1 << 20) + heap}});
}

const json& cell(const json& summary, const std::string& name) {
  for (const auto& c : summary["cells"])
    if (c["name"] == name) return c;
  static const json none;
  ADD_FAILURE() << "no cell " << name;
  return none;
}

const std::vector<double> kGlibc{100, 102, 98, 101, 99, 103, 97};
const std::vector<double> kGlibcAgain{101, 99, 100, 103, 98, 102, 100};
const std::vector<double> kFaster{60, 61, 59, 62, 60, 58, 61};

SummaryContext aa_context() {
  SummaryContext ctx;
  ctx.baseline = "glibc";
  ctx.aa = "glibc-aa";
  ctx.precision = 0.05;
  ctx.max_reps = 7;
  return ctx;
}

TEST(RunSummary, RatiosVerdictsAndTheNoiseFloor) {
  std::vector<json> lines;
  for (const char* w : {"churn", "larson"}) {
    add_cell(&lines, w, "glibc", kGlibc);
    add_cell(&lines, w, "glibc-aa", kGlibcAgain);
    add_cell(&lines, w, "mimalloc", kFaster, 8 << 20);
  }
  const json s = summarize_results(lines, aa_context());
  EXPECT_EQ(s["schema_version"], 2);
  EXPECT_EQ(s["baseline"], "glibc");
  EXPECT_TRUE(cell(s, "churn/threads:1/alloc:glibc")["vs_baseline"].is_null());
  const json& mi = cell(s, "churn/threads:1/alloc:mimalloc")["vs_baseline"];
  EXPECT_NEAR(mi["time"]["ratio"].get<double>(), 0.6, 0.01);
  EXPECT_LT(mi["time"]["ci_high"].get<double>(), 1.0);
  EXPECT_EQ(mi["time"]["verdict"], "faster");
  EXPECT_EQ(mi["time"]["floor_source"], "group");
  EXPECT_DOUBLE_EQ(mi["memory"]["ratio"].get<double>(), 2.0);
  EXPECT_EQ(mi["memory"]["verdict"], "larger");
  const json& aa = cell(s, "larson/threads:1/alloc:glibc-aa")["vs_baseline"];
  EXPECT_EQ(aa["time"]["verdict"], "no difference");
  EXPECT_EQ(aa["time"]["floor_source"], "run, without this group");
  EXPECT_EQ(aa["memory"]["verdict"], "no difference");  // same bytes: ratio 1, interval [1, 1]
  const json& nf = s["noise_floor"];
  EXPECT_EQ(nf["allocator"], "glibc-aa");
  ASSERT_EQ(nf["groups"].size(), 2u);
  EXPECT_GT(nf["time"].get<double>(), 0);
  EXPECT_LT(nf["time"].get<double>(), 0.05);
  EXPECT_EQ(nf["memory"].get<double>(), 0);
  EXPECT_EQ(s["methods"]["bootstrap"]["resamples"], 2000);
}

TEST(RunSummary, ADifferenceInsideTheFloorIsNoDifference) {
  // The A/A pair differs by up to ~10 % (a noisy machine); a 3 % faster allocator with a tight
  // interval is inside that floor and must not be ranked.
  std::vector<json> lines;
  add_cell(&lines, "w", "glibc", {100, 100.5, 99.5, 100.2, 99.8, 100.1});
  add_cell(&lines, "w", "glibc-aa", {92, 108, 95, 105, 90, 110});
  add_cell(&lines, "w", "pool", {97, 97.2, 96.8, 97.1, 96.9, 97});
  const json s = summarize_results(lines, aa_context());
  const double floor = s["noise_floor"]["groups"][0]["time"]["floor"].get<double>();
  EXPECT_GT(floor, 0.03);
  const json& pool = cell(s, "w/threads:1/alloc:pool")["vs_baseline"]["time"];
  EXPECT_LT(pool["ci_high"].get<double>(), 1.0);  // the interval alone would say faster
  EXPECT_EQ(pool["verdict"], "no difference");
  // Without the A/A copy the same data is a ranking.
  SummaryContext no_aa = aa_context();
  no_aa.aa.clear();
  const json plain = summarize_results(lines, no_aa);
  EXPECT_EQ(cell(plain, "w/threads:1/alloc:pool")["vs_baseline"]["time"]["verdict"], "faster");
  EXPECT_TRUE(plain["noise_floor"]["allocator"].is_null());
}

TEST(RunSummary, BaselineDefaultsToGlibcElseTheFirstAndMissingSidesAreNull) {
  std::vector<json> lines;
  add_cell(&lines, "w", "pool", {1, 2, 3});
  add_cell(&lines, "w", "glibc", {2, 3, 4});
  EXPECT_EQ(summarize_results(lines)["baseline"], "glibc");
  lines.clear();
  add_cell(&lines, "w", "pool", {1, 2, 3});
  add_cell(&lines, "w", "arena", {2, 3, 4});
  lines.push_back(
      {{"workload", "w"}, {"threads", 1}, {"allocator", "bump"}, {"rep", 0}, {"status", "oom"}});
  const json s = summarize_results(lines);
  EXPECT_EQ(s["baseline"], "arena");  // first in report order (allocator name)
  EXPECT_TRUE(cell(s, "w/threads:1/alloc:bump")["vs_baseline"].is_null());  // no ok repetition
  EXPECT_FALSE(cell(s, "w/threads:1/alloc:pool")["vs_baseline"].is_null());
}

TEST(RunSummary, PrecisionReachedOrWhyNot) {
  std::vector<json> lines;
  add_cell(&lines, "w", "glibc", {100, 101, 99, 100, 102, 98});          // ±2 %: reached
  add_cell(&lines, "w", "glibc-aa", {100, 120, 80, 100, 130, 70, 100});  // ±30 % at the cap 7
  add_cell(&lines, "w", "pool", {50, 51, 52});                           // n < 6, a failure
  lines.push_back({{"workload", "w"},
                   {"threads", 1},
                   {"allocator", "pool"},
                   {"rep", 3},
                   {"status", "crashed"}});
  add_cell(&lines, "w", "arena", {10, 13, 7, 10, 14, 6});  // ±40 %, below the cap: budget
  SummaryContext ctx = aa_context();
  ctx.budget_reached = true;
  const json s = summarize_results(lines, ctx);
  const json& glibc = cell(s, "w/threads:1/alloc:glibc")["precision"];
  EXPECT_EQ(glibc["reached"], true);
  EXPECT_DOUBLE_EQ(glibc["half_width"].get<double>(), 0.02);
  EXPECT_TRUE(glibc["why_not"].is_null());
  const json& aa = cell(s, "w/threads:1/alloc:glibc-aa")["precision"];
  EXPECT_EQ(aa["reached"], false);
  EXPECT_EQ(aa["why_not"], "max reps 7 reached");
  const json& pool = cell(s, "w/threads:1/alloc:pool")["precision"];
  EXPECT_TRUE(pool["half_width"].is_null());
  EXPECT_EQ(pool["why_not"],
            "fewer than 6 ok repetitions: 1 repetition(s) failed, and failed cells are not "
            "repeated");
  EXPECT_EQ(cell(s, "w/threads:1/alloc:arena")["precision"]["why_not"], "time budget reached");
  EXPECT_EQ(s["precision"]["reached"], 1);
  EXPECT_EQ(s["precision"]["cells"], 4);
  EXPECT_DOUBLE_EQ(s["precision"]["target"].get<double>(), 0.05);
  const std::string md = markdown_summary(s);
  EXPECT_NE(md.find("Precision: 1 of 4 cells reached ±5.0 %"), std::string::npos) << md;
  EXPECT_NE(md.find("Noise floor (glibc-aa against glibc"), std::string::npos) << md;
  EXPECT_NE(md.find("| time / glibc [95 % CI] |"), std::string::npos) << md;
  EXPECT_NE(md.find("| baseline |"), std::string::npos) << md;
}

TEST(RunSummary, AnotherBaselineKeepsTheFloorOfTheAaPair) {
  // Re-summarised against pool (`allocmark summarize --baseline pool`): the floor is still
  // glibc-aa against glibc, and glibc-aa is judged against pool like any other allocator.
  std::vector<json> lines;
  add_cell(&lines, "w", "glibc", kGlibc);
  add_cell(&lines, "w", "glibc-aa", kGlibcAgain);
  add_cell(&lines, "w", "pool", kFaster);
  SummaryContext ctx = aa_context();
  ctx.aa_of = "glibc";
  const json at_glibc = summarize_results(lines, ctx);
  ctx.baseline = "pool";
  const json at_pool = summarize_results(lines, ctx);
  EXPECT_EQ(at_pool["baseline"], "pool");
  EXPECT_EQ(at_pool["noise_floor"]["baseline"], "glibc");
  EXPECT_EQ(at_pool["noise_floor"]["groups"], at_glibc["noise_floor"]["groups"]);
  const json& aa = cell(at_pool, "w/threads:1/alloc:glibc-aa")["vs_baseline"]["time"];
  EXPECT_EQ(aa["floor_source"], "group");
  EXPECT_EQ(aa["verdict"], "slower");
  EXPECT_TRUE(cell(at_pool, "w/threads:1/alloc:pool")["vs_baseline"].is_null());
}

TEST(RunSummary, ContextComesFromMeta) {
  const json meta = {
      {"plan",
       {{"baseline", "mimalloc"}, {"aa", "mimalloc-aa"}, {"precision", 0.03}, {"max_reps", 12}}},
      {"precision_rounds", {{"budget_reached", true}}},
      {"interrupted", false}};
  const SummaryContext ctx = summary_context(meta);
  EXPECT_EQ(ctx.baseline, "mimalloc");
  EXPECT_EQ(ctx.aa, "mimalloc-aa");
  EXPECT_EQ(ctx.aa_of, "mimalloc");
  EXPECT_DOUBLE_EQ(ctx.precision, 0.03);
  EXPECT_EQ(ctx.max_reps, 12);
  EXPECT_TRUE(ctx.budget_reached);
  const SummaryContext old = summary_context(json{{"plan", {{"reps", 5}}}});  // before schema 2
  EXPECT_EQ(old.baseline, "");
  EXPECT_EQ(old.precision, 0);
}

// Lines of a threaded replay cell with `threads` trace threads: wall ns_per_op and in-call time.
void add_threaded_cell(std::vector<json>* lines, const std::string& alloc, uint32_t threads,
                       const std::vector<double>& ns, const std::vector<double>& in_call,
                       const std::string& mode = "threads") {
  for (size_t i = 0; i < ns.size(); ++i)
    lines->push_back({{"workload", "systemui"},
                      {"threads", threads},
                      {"allocator", alloc},
                      {"rep", static_cast<int>(i)},
                      {"status", "ok"},
                      {"replay_mode", mode},
                      {"ns_per_op", ns[i]},
                      {"in_call_ns_per_op", in_call[i]},
                      {"baseline_rss_bytes", 1 << 20},
                      {"peak_rss_bytes", 2 << 20}});
}

TEST(RunSummary, ThreadedReplaysWithMoreThreadsThanCoresRankByInCallTime) {
  // Wall time says mimalloc is slower, in-call time says it is faster (systemui's pattern).
  const std::vector<double> glibc_wall{400, 390, 410, 405, 395, 400},
      glibc_call{20, 20.2, 19.8, 20.1, 19.9, 20}, mi_wall{500, 510, 490, 505, 495, 500},
      mi_call{10, 10.1, 9.9, 10.05, 9.95, 10};
  std::vector<json> lines;
  add_threaded_cell(&lines, "glibc", 393, glibc_wall, glibc_call);
  add_threaded_cell(&lines, "mimalloc", 393, mi_wall, mi_call);
  json meta = {{"plan", {{"baseline", "glibc"}}}, {"machine", {{"cores", 2}}}};
  const SummaryContext ctx = summary_context(meta);
  EXPECT_EQ(ctx.cores, 2u);
  const json s = summarize_results(lines, ctx);
  const json& mi = cell(s, "systemui/threads:393/alloc:mimalloc");
  EXPECT_EQ(mi["rank_metric"], "in_call");
  EXPECT_NE(mi["rank_reason"].get<std::string>().find("393 trace threads on 2 cores"),
            std::string::npos);
  EXPECT_DOUBLE_EQ(mi["in_call"]["median"].get<double>(), 10);
  EXPECT_EQ(mi["vs_baseline"]["rank_metric"], "in_call");
  EXPECT_EQ(mi["vs_baseline"]["in_call"]["verdict"], "faster");
  EXPECT_NEAR(mi["vs_baseline"]["in_call"]["ratio"].get<double>(), 0.5, 1e-9);
  EXPECT_EQ(mi["vs_baseline"]["time"]["verdict"], "slower");  // still reported, not ranked on
  EXPECT_EQ(cell(s, "systemui/threads:393/alloc:glibc")["rank_metric"], "in_call");
  const std::string md = markdown_summary(s);
  EXPECT_NE(md.find("0.500 ["), std::string::npos) << md;
  EXPECT_NE(md.find("] faster ◊ |"), std::string::npos) << md;
  EXPECT_NE(md.find("| baseline ◊ |"), std::string::npos) << md;
  EXPECT_NE(md.find("◊ ranked by in-call time"), std::string::npos) << md;
  EXPECT_NE(md.find("| 10.00 [9.90, 10.10] |"), std::string::npos) << md;

  // No more trace threads than cores, or a serial replay, or no core count: wall time ranks.
  for (const auto& [threads, cores, mode] :
       {std::tuple<uint32_t, unsigned, std::string>{2, 2, "threads"},
        {393, 2, "serial"},
        {393, 0, "threads"}}) {
    std::vector<json> l2;
    add_threaded_cell(&l2, "glibc", threads, glibc_wall, glibc_call, mode);
    add_threaded_cell(&l2, "mimalloc", threads, mi_wall, mi_call, mode);
    SummaryContext c2;
    c2.cores = cores;
    const json s2 = summarize_results(l2, c2);
    const json& m2 = s2["cells"][1];
    EXPECT_EQ(m2["allocator"], "mimalloc");
    EXPECT_EQ(m2["rank_metric"], "time") << threads << " " << cores << " " << mode;
    EXPECT_TRUE(m2["rank_reason"].is_null());
    EXPECT_EQ(m2["vs_baseline"]["rank_metric"], "time");
    EXPECT_EQ(m2["vs_baseline"]["in_call"]["verdict"], "faster");  // reported, not ranked on
    EXPECT_EQ(markdown_summary(s2).find("◊"), std::string::npos);
  }
}

TEST(RunSummary, ProgramCellsAndOldLinesStayOnTime) {
  std::vector<json> lines;
  for (const char* alloc : {"glibc", "mimalloc"})
    for (int rep = 0; rep < 3; ++rep)
      lines.push_back({{"workload", "redis"},
                       {"threads", 8},
                       {"allocator", alloc},
                       {"rep", rep},
                       {"status", "ok"},
                       {"kind", "program"},
                       {"wall_ns", 1e9 + rep}});
  // A threaded replay written before in-call time existed: nothing to rank on but wall time.
  add_threaded_cell(&lines, "glibc", 393, {400, 401, 399}, {1, 1, 1});
  for (auto& l : lines)
    if (l.contains("in_call_ns_per_op")) l.erase("in_call_ns_per_op");
  SummaryContext ctx;
  ctx.cores = 2;
  const json s = summarize_results(lines, ctx);
  const json& prog = cell(s, "redis/threads:8/alloc:mimalloc");
  EXPECT_EQ(prog["rank_metric"], "time");
  EXPECT_TRUE(prog["in_call"].is_null());
  EXPECT_TRUE(prog["vs_baseline"]["in_call"].is_null());
  const json& old = cell(s, "systemui/threads:393/alloc:glibc");
  EXPECT_EQ(old["rank_metric"], "time");
  EXPECT_NE(old["rank_reason"].get<std::string>().find("no in-call time was recorded"),
            std::string::npos);
  EXPECT_NE(markdown_summary(s).find("| - |"), std::string::npos);
}

}  // namespace
}  // namespace allocmark
