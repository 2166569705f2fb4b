// Tests every registered importer against the input any of them may get (missing files,
// directories, empty files, random bytes) and the repair counting they share. Layer: workloads
// tests.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "workloads/importer.h"
#include "workloads/importers/import_test_util.h"

namespace allocmark {
namespace {

using testing_util::temp_file;

TEST(ImporterRegistry, ListsEveryFormatOnce) {
  std::vector<std::string> names;
  for (const Importer& i : importers()) {
    names.push_back(i.name);
    EXPECT_FALSE(i.description.empty()) << i.name;
    EXPECT_NE(i.import, nullptr) << i.name;
    EXPECT_EQ(find_importer(i.name), &i);
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"android", "text", "malloclab", "mtrace", "valgrind"}));
  EXPECT_EQ(find_importer("nope"), nullptr);
}

bool import(const Importer& i, const std::string& path, std::string* error) {
  Trace trace;
  ImportStats stats;
  return i.import(path, &trace, &stats, error);
}

TEST(ImporterRegistry, MissingFileAndDirectoryAreOneLine) {
  for (const Importer& i : importers()) {
    std::string error;
    EXPECT_FALSE(import(i, "/nonexistent/trace.txt", &error));
    EXPECT_EQ(error, "/nonexistent/trace.txt: cannot open: No such file or directory") << i.name;
    EXPECT_FALSE(import(i, ::testing::TempDir(), &error));
    EXPECT_EQ(error, ::testing::TempDir() + ": not a regular file") << i.name;
  }
}

TEST(ImporterRegistry, EmptyFileIsRefusedNamingTheFile) {
  const std::string path = temp_file("empty.txt", "");
  for (const Importer& i : importers()) {
    std::string error;
    EXPECT_FALSE(import(i, path, &error)) << i.name;
    EXPECT_TRUE(error.starts_with(path + ":0: expected ")) << i.name << ": " << error;
  }
  std::remove(path.c_str());
}

TEST(ImporterRegistry, RandomBytesAreRefusedWithOneLine) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 20; ++round) {
    std::string bytes(1 + rng() % 8192, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (round % 2) bytes.insert(0, "PK\x03\x04", 4);  // a zip-looking start
    const std::string path = temp_file("random.bin", bytes);
    for (const Importer& i : importers()) {
      std::string error;
      EXPECT_FALSE(import(i, path, &error)) << i.name << " round " << round;
      EXPECT_TRUE(error.starts_with(path + ":")) << error;
      EXPECT_EQ(error.find('\n'), std::string::npos) << error;
      for (char c : error) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << i.name << ": " << error;
    }
    std::remove(path.c_str());
  }
}

TEST(ImportRepairs, NoRepairsGiveNoWarningsAndAnEmptyObject) {
  ImportStats stats;
  stats.source = "t.txt";
  EXPECT_TRUE(repair_warnings(stats).empty());
  EXPECT_EQ(repairs_json(stats), "{}");
  const testing_util::ImportResult r =
      testing_util::import_text("text", "allocmark-text 1\nT0 malloc #0 8\nT0 free #0\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(repair_warnings(r.stats).empty());
}

TEST(ImportRepairs, TheFirstLineStaysTheFirstRecorded) {
  ImportStats stats;
  stats.source = "t.txt";
  stats.repair(Repair::kFailedAllocation, 7);
  stats.repair(Repair::kFailedAllocation, 9);
  stats.repair(Repair::kNullFree, 2);
  EXPECT_EQ(stats.count(Repair::kFailedAllocation), 2u);
  EXPECT_EQ(stats.first_line(Repair::kFailedAllocation), 7u);
  // One line per kind, in the enum's order, each naming the file and its first line.
  const std::vector<std::string> w = repair_warnings(stats);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], "t.txt:2: warning: free(NULL): skipped (1 time, here)");
  EXPECT_EQ(w[1],
            "t.txt:7: warning: allocation or realloc returned NULL (failed): skipped, a failed "
            "realloc's block stays live (2 times, first here)");
  EXPECT_EQ(repairs_json(stats),
            "{\"null_free\":{\"count\":1,\"first_line\":2},"
            "\"failed_allocation\":{\"count\":2,\"first_line\":7}}");
}

TEST(ImportRepairs, EveryKindHasADistinctName) {
  std::vector<std::string> names;
  for (int k = 0; k < kRepairKinds; ++k) names.push_back(repair_name(static_cast<Repair>(k)));
  EXPECT_EQ(names, (std::vector<std::string>{"live_pointer_reused", "unknown_free",
                                             "unknown_realloc", "null_free", "failed_allocation"}));
}

}  // namespace
}  // namespace allocmark
