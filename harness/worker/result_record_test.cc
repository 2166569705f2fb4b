// The worker's record and results/result_fields.json say the same thing: every field the record
// writes is listed with its type and source, and every worker field listed is written.
// Layer: harness tests.
#include "harness/worker/result_record.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "harness/run/result_schema.h"

namespace allocmark {
namespace {

// A record with every optional part present; hw counters on or off.
ResultRecord full_record(bool hw_available) {
  ResultRecord r;
  r.replay_mode = "serial";
  r.allocator_version = "1.2.3";
  r.malloc_provider = "/lib/libx.so";
  r.options = {{"slab_size", 65536}};
  ReplayMeasurement m;
  m.events = 10;
  m.wall_ns = 1000;
  m.fragmentation = 1.5;
  m.utilisation = 0.66;
  m.touch = "pages";
  m.peak_rss_source = "samples";
  m.in_call_clock = "tsc";
  m.in_call_ns = 400;
  m.in_call_ns_per_op = 40;
  if (hw_available)
    m.hw.values = std::array<uint64_t, 4>{1, 2, 3, 4};
  else
    m.hw.why_unavailable = "perf_event_open(cycles): EACCES";
  m.latency["malloc"] = {5, 10, 20, 30, 40, 50};
  m.timeline.t_ns = {0, 100};
  m.timeline.rss = {4096, 8192};
  m.timeline.live = {0, 64};
  m.allocator_stats = AllocatorStats{1, 2, 3, 4, 5};
  r.measured = m;
  return r;
}

std::map<std::string, nlohmann::json> schema_by_name() {
  std::map<std::string, nlohmann::json> out;
  for (const auto& f : result_fields()["fields"]) out[f["name"].get<std::string>()] = f;
  return out;
}

TEST(ResultRecord, EveryWrittenFieldIsInTheSchemaWithItsType) {
  const auto schema = schema_by_name();
  for (bool hw : {true, false}) {
    const nlohmann::json j = full_record(hw);
    for (auto it = j.begin(); it != j.end(); ++it) {
      ASSERT_TRUE(schema.count(it.key())) << it.key() << " is not in results/result_fields.json";
      EXPECT_EQ(schema.at(it.key())["source"], "worker") << it.key();
    }
    // With the parent's fields added, the line passes the loader's check.
    nlohmann::json line = j;
    line.update({{"workload", "churn"},
                 {"trace", "t.amt"},
                 {"allocator", "x"},
                 {"allocator_kind", "preload"},
                 {"threads", 1},
                 {"rep", 0},
                 {"cell_seconds", 0.5},
                 {"peak_live_bytes", 100}});
    EXPECT_EQ(check_result_line(line), "");
  }
}

TEST(ResultRecord, EveryWorkerFieldOfTheSchemaIsWritten) {
  std::set<std::string> written;
  for (bool hw : {true, false}) {
    const nlohmann::json j = full_record(hw);
    for (auto it = j.begin(); it != j.end(); ++it) written.insert(it.key());
  }
  for (const auto& [name, f] : schema_by_name())
    if (f["source"] == "worker") {
      EXPECT_TRUE(written.count(name)) << name << " is never written";
    }
}

TEST(ResultRecord, AFailedReplayHasNoMeasurement) {
  ResultRecord r;
  r.status = "error";
  r.detail = "bad trace";
  const nlohmann::json j = r;
  EXPECT_EQ(j["status"], "error");
  EXPECT_FALSE(j.contains("wall_ns"));
}

TEST(ResultSchema, WrongTypesAndMissingFieldsAreNamed) {
  nlohmann::json line = {
      {"workload", "churn"}, {"trace", "t"}, {"allocator", "x"}, {"allocator_kind", "preload"},
      {"threads", "two"},    {"rep", 0},     {"status", "ok"},   {"cell_seconds", 1.0},
      {"peak_live_bytes", 1}};
  EXPECT_EQ(check_result_line(line), "field 'threads' must be int, got string");
  line["threads"] = 2;
  EXPECT_EQ(check_result_line(line), "");
  line.erase("status");
  EXPECT_EQ(check_result_line(line), "required field 'status' is missing");
  EXPECT_GE(result_schema_version(), 2);
}

}  // namespace
}  // namespace allocmark
