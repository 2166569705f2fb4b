// Tests of the suite loader: the shipped suites load and generate, broken files are refused with
// file:line:column. Layer: workloads tests.
#include "workloads/suite.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "workloads/trace_file.h"

namespace allocmark {
namespace {

std::string suites() { return std::string(ALLOCMARK_SOURCE_DIR) + "/workloads/suites"; }

// Loads `text` as "bad.toml" and returns the error (empty if it loaded).
std::string refuse(const std::string& text) {
  Suite s;
  std::string error;
  if (parse_suite(text, "bad.toml", &s, &error)) return "";
  return error;
}

TEST(Suite, StandardListsEveryGenerator) {
  Suite s;
  std::string error;
  ASSERT_TRUE(load_suite(suites() + "/standard.toml", &s, &error)) << error;
  EXPECT_EQ(s.name, "standard");
  std::set<std::string> used;
  for (const SuiteWorkload& w : s.workloads) used.insert(w.generator);
  for (const Generator& g : generators()) EXPECT_TRUE(used.count(g.name)) << g.name;
}

TEST(Suite, QuickGeneratesSmallValidTraces) {
  Suite s;
  std::string error;
  ASSERT_TRUE(load_suite(suites() + "/quick.toml", &s, &error)) << error;
  ASSERT_GE(s.workloads.size(), 3u);
  for (const SuiteWorkload& w : s.workloads) {
    for (uint32_t threads : w.threads) {
      Trace t;
      ASSERT_TRUE(generate_trace(*find_generator(w.generator), w.args(threads), &t, &error))
          << error;
      TraceSummary summary;
      TraceError terr;
      ASSERT_TRUE(check_trace(t, &summary, &terr)) << terr.message();
      EXPECT_EQ(summary.threads, threads) << w.name;
      EXPECT_LT(summary.events, 200'000u) << w.name;
    }
  }
}

TEST(Suite, ParsesEveryField) {
  Suite s;
  std::string error;
  ASSERT_TRUE(parse_suite(R"(
name = "mine"
description = "d"
[defaults]
threads = [1, 2]
seed = 9
[[workload]]
name = "big-churn"
generator = "churn"
params = { slots = "4K", size = 128, steps = 10 }
[[workload]]
generator = "glibc-simple"
[[workload]]
generator = "larson"
threads = 3
seed = 5
params = { max_size = 2.5e3 }
)",
                          "x.toml", &s, &error))
      << error;
  ASSERT_EQ(s.workloads.size(), 3u);
  EXPECT_EQ(s.name, "mine");
  const SuiteWorkload& a = s.workloads[0];
  EXPECT_EQ(a.name, "big-churn");
  EXPECT_EQ(a.params.at("slots"), "4K");
  EXPECT_EQ(a.params.at("size"), "128");
  EXPECT_EQ(a.threads, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(a.seed, 9u);
  EXPECT_EQ(s.workloads[1].threads, (std::vector<uint32_t>{1}));  // single-threaded generator
  EXPECT_EQ(s.workloads[2].threads, (std::vector<uint32_t>{3}));
  EXPECT_EQ(s.workloads[2].seed, 5u);
  EXPECT_EQ(s.workloads[2].params.at("max_size"), "2500");
  EXPECT_EQ(s.workloads[2].args(3).threads, 3u);
}

TEST(Suite, RefusesSyntaxErrorsWithLine) {
  const std::string e = refuse("name = \"x\"\n[[workload]]\ngenerator = \n");
  EXPECT_EQ(e.rfind("bad.toml:3:", 0), 0u) << e;
}

TEST(Suite, ParsesProgramTables) {
  Suite s;
  std::string error;
  ASSERT_TRUE(parse_suite(R"(
[[program]]
name = "kv"
command = ["server", "--port", "{port}"]
driver = ["client", "-p", "{port}"]
stdin = "in.txt"
env = { A = "1" }
setup = [["gen", "{dir}/in.txt"], ["true"]]
expect_exit = 3
check_output = true
throughput = { regex = "([0-9.]+) req/s", unit = "requests/s" }
timeout = 9.5
multi_threaded = true
)",
                          "/suites/s.toml", &s, &error))
      << error;
  ASSERT_EQ(s.programs.size(), 1u);
  const ProgramSpec& p = s.programs[0];
  EXPECT_EQ(p.command, (std::vector<std::string>{"server", "--port", "{port}"}));
  EXPECT_EQ(p.driver.size(), 3u);
  EXPECT_EQ(p.setup.size(), 2u);
  EXPECT_EQ(p.setup[0][1], "{dir}/in.txt");
  EXPECT_EQ(p.env[0], (std::pair<std::string, std::string>{"A", "1"}));
  EXPECT_EQ(p.expect_exit, 3);
  EXPECT_TRUE(p.check_output && p.multi_threaded);
  EXPECT_EQ(p.throughput_unit, "requests/s");
  EXPECT_DOUBLE_EQ(p.timeout_s, 9.5);
  EXPECT_EQ(p.suite_dir, "/suites");
  EXPECT_EQ(expand_placeholders("{dir}/x:{port}:{suite_dir}:{other}", "/d", "/s", 7),
            "/d/x:7:/s:{other}");
}

TEST(Suite, RefusesBadContentWithLine) {
  struct Case {
    const char* text;
    const char* prefix;
    const char* says;
  } cases[] = {
      {"[[workload]]\ngenerator = \"nope\"\n", "bad.toml:2:", "unknown generator 'nope'"},
      {"[[workload]]\ngenerator = \"churn\"\nparams = { slotz = 3 }\n",
       "bad.toml:3:", "no param 'slotz' (known: slots, size, steps)"},
      {"[[workload]]\ngenerator = \"churn\"\nthreads = [1, 0]\n",
       "bad.toml:3:", "integers from 1 to"},
      {"[[workload]]\ngenerator = \"glibc-simple\"\n\nthreads = [2]\n",
       "bad.toml:4:", "single-threaded"},
      {"[[workload]]\ngenerator = \"churn\"\n[[workload]]\ngenerator = \"churn\"\n",
       "bad.toml:3:", "already used on line 1"},
      {"[[workload]]\ngenerator = \"churn\"\nthread = 2\n", "bad.toml:3:", "unknown key 'thread'"},
      {"[[workload]]\nname = \"a\"\n", "bad.toml:1:", "needs generator"},
      {"name = \"empty\"\n", "bad.toml:1:", "at least one [[workload]] or [[program]]"},
      {"[[workload]]\ngenerator = \"churn\"\nseed = -1\n", "bad.toml:3:", "non-negative"},
      {"[[workload]]\ngenerator = \"churn\"\nparams = { slots = [1] }\n",
       "bad.toml:3:", "number, string or boolean"},
      {"workloads = 1\n", "bad.toml:1:", "unknown key 'workloads'"},
      {"[[program]]\ncommand = [\"true\"]\n", "bad.toml:1:", "needs name"},
      {"[[program]]\nname = \"a\"\n", "bad.toml:1:", "needs command"},
      {"[[program]]\nname = \"a\"\ncommand = \"true\"\n", "bad.toml:3:", "array of strings"},
      {"[[program]]\nname = \"a\"\ncommand = [\"x\"]\nsetup = [\"y\"]\n",
       "bad.toml:4:", "array of strings"},
      {"[[program]]\nname = \"a\"\ncommand = [\"x\"]\nthroughput = { regex = \"[0-9]+\" }\n",
       "bad.toml:4:", "capture group"},
      {"[[program]]\nname = \"a\"\ncommand = [\"x\"]\ndriver = [\"y\"]\n",
       "bad.toml:1:", "put {port}"},
      {"[[program]]\nname = \"a\"\ncommand = [\"x\"]\nexpect = 1\n",
       "bad.toml:4:", "unknown key 'expect' in [[program]]"},
      {"[[workload]]\ngenerator = \"churn\"\n[[program]]\nname = \"churn\"\ncommand = [\"x\"]\n",
       "bad.toml:3:", "already used on line 1"},
  };
  for (const Case& c : cases) {
    const std::string e = refuse(c.text);
    EXPECT_EQ(e.rfind(c.prefix, 0), 0u) << c.text << " -> " << e;
    EXPECT_NE(e.find(c.says), std::string::npos) << c.text << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

TEST(Suite, FindsByNameOrPath) {
  std::string error;
  unsetenv("ALLOCMARK_SUITES_DIR");
  set_suites_dir(suites());
  EXPECT_EQ(find_suite_file("quick", &error), suites() + "/quick.toml") << error;
  EXPECT_EQ(find_suite_file(suites() + "/standard.toml", &error), suites() + "/standard.toml");
  EXPECT_EQ(find_suite_file("no-such-suite", &error), "");
  EXPECT_NE(error.find("available: programs, quick, standard"), std::string::npos) << error;
  EXPECT_EQ(find_suite_file("/nowhere/x.toml", &error), "");
  EXPECT_NE(error.find("no such file"), std::string::npos) << error;
  setenv("ALLOCMARK_SUITES_DIR", "/nonexistent-dir", 1);
  EXPECT_EQ(find_suite_file("quick", &error), "");
  EXPECT_NE(error.find("/nonexistent-dir"), std::string::npos) << error;
  unsetenv("ALLOCMARK_SUITES_DIR");
}

TEST(Suite, MissingFileIsOneLine) {
  Suite s;
  std::string error;
  EXPECT_FALSE(load_suite("/nonexistent/suite.toml", &s, &error));
  EXPECT_EQ(error, "/nonexistent/suite.toml: cannot open suite file");
}

}  // namespace
}  // namespace allocmark
