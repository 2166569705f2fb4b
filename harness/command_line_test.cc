// Tests of the recorded command line: shell quoting round trips, and a bare `run --resume DIR`
// re-planned from DIR/meta.json. Layer: harness tests.
#include "harness/command_line.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace allocmark {
namespace {

using Words = std::vector<std::string>;

TEST(CommandLine, PlainWordsStayPlain) {
  EXPECT_EQ(shell_join({"allocmark", "run", "--threads", "1,2,4", "--out=results/x"}),
            "allocmark run --threads 1,2,4 --out=results/x");
}

TEST(CommandLine, QuotingRoundTrips) {
  const Words words{"allocmark", "run", "--trace", "my trace.amt", "it's", "", "a\"b", "$HOME"};
  const std::string joined = shell_join(words);
  EXPECT_EQ(joined, "allocmark run --trace 'my trace.amt' 'it'\\''s' '' 'a\"b' '$HOME'");
  EXPECT_EQ(shell_split(joined), words);
  EXPECT_EQ(shell_split("a \"b c\" d\\ e  "), (Words{"a", "b c", "d e"}));
}

class ResumeWords : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() /
        ("allocmark_resume_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write_meta(const std::string& command_line) {
    std::ofstream(dir_ / "meta.json") << nlohmann::json{{"command_line", command_line}}.dump();
  }
  std::filesystem::path dir_;
};

TEST_F(ResumeWords, BareResumeTakesTheRecordedPlan) {
  write_meta("/old/allocmark run --trace 'a b.amt' --reps 3 --out /old/dir --quiet");
  Words words;
  ASSERT_TRUE(
      resume_words({"./allocmark", "run", "--resume", dir_.string(), "--no-report"}, &words));
  EXPECT_EQ(words, (Words{"./allocmark", "run", "--trace", "a b.amt", "--reps", "3", "--no-report",
                          "--resume", dir_.string()}));
  ASSERT_TRUE(resume_words({"./allocmark", "run", "--resume=" + dir_.string()}, &words));
  EXPECT_EQ(words.back(), dir_.string());
}

TEST_F(ResumeWords, APlanOnTheCommandLineWins) {
  write_meta("allocmark run --reps 3");
  Words words;
  EXPECT_FALSE(
      resume_words({"allocmark", "run", "--resume", dir_.string(), "--reps", "2"}, &words));
  EXPECT_FALSE(resume_words({"allocmark", "run", "--reps", "2"}, &words));
  EXPECT_FALSE(resume_words({"allocmark", "trace", "--resume", dir_.string()}, &words));
}

TEST_F(ResumeWords, NoMetaMeansNoRewrite) {
  Words words;
  EXPECT_FALSE(resume_words({"allocmark", "run", "--resume", (dir_ / "nope").string()}, &words));
}

}  // namespace
}  // namespace allocmark
