// Tests of the recorded command line: shell quoting round trips, a bare `run --resume DIR`
// re-planned from DIR/meta.json, and the wording of bad flag values. Layer: harness tests.
#include "harness/cli/command_line.h"

#include <gtest/gtest.h>

#include <cstdint>
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

TEST(FlagValues, WholeNumbersAreDigitsInRangeAndComeBackPlain) {
  std::string text = "007";
  EXPECT_EQ(expect_whole_number(text, 1, 1000), "");
  EXPECT_EQ(text, "7");  // what CLI11 then converts
  for (std::string bad : {"abc", "", "1.5", "-1", "+5", " 5", "5 ", "1e3", "0", "1001"}) {
    const std::string original = bad;
    EXPECT_EQ(expect_whole_number(bad, 1, 1000),
              "expected a whole number from 1 to 1000, got '" + original + "'");
    EXPECT_EQ(bad, original);  // left as given, so the message quotes it
  }
  std::string seed = "18446744073709551615";
  EXPECT_EQ(expect_whole_number(seed, 0, UINT64_MAX), "");
  std::string over = "18446744073709551616", negative = "-1";
  EXPECT_EQ(expect_whole_number(over, 0, UINT64_MAX),
            "expected a whole number of 0 or more, got '18446744073709551616'");
  EXPECT_EQ(expect_whole_number(negative, 0, UINT64_MAX),
            "expected a whole number of 0 or more, got '-1'");
}

TEST(FlagValues, SecondsAreFinitePositiveAndBounded) {
  std::string text = "2.5";
  EXPECT_EQ(expect_seconds(text), "");
  EXPECT_EQ(std::stod(text), 2.5);
  text = "1e3";
  EXPECT_EQ(expect_seconds(text), "");
  EXPECT_EQ(std::stod(text), 1000);
  for (std::string bad : {"abc", "", "inf", "nan", "5s", " 5", "1e400"}) {
    const std::string original = bad;
    EXPECT_EQ(expect_seconds(bad), "expected a number of seconds, got '" + original + "'");
  }
  for (std::string bad : {"0", "-1", "1e12"}) {
    const std::string original = bad;
    EXPECT_EQ(
        expect_seconds(bad),
        "expected a number of seconds above 0 and at most 1000000000, got '" + original + "'");
  }
}

TEST(FlagValues, PrecisionIsAFractionOrAPercentageOrOff) {
  std::string text = "3%";
  EXPECT_EQ(expect_precision(text), "");
  EXPECT_DOUBLE_EQ(std::stod(text), 0.03);
  text = "0.05";
  EXPECT_EQ(expect_precision(text), "");
  EXPECT_DOUBLE_EQ(std::stod(text), 0.05);
  text = "0.5%";
  EXPECT_EQ(expect_precision(text), "");
  EXPECT_DOUBLE_EQ(std::stod(text), 0.005);
  text = "off";
  EXPECT_EQ(expect_precision(text), "");
  EXPECT_EQ(text, "0");
  for (std::string bad : {"", "%", "abc", "3", "1", "0", "0%", "100%", "-3%", " 3%", "3 %", "inf",
                          "nan", "0x1p-4", "3%%", "1e400"}) {
    const std::string original = bad;
    EXPECT_EQ(expect_precision(bad),
              "expected a relative precision above 0 and below 100 % like 3% or 0.03, or off, "
              "got '" +
                  original + "'");
  }
}

TEST(FlagValues, OneOfListsTheChoices) {
  EXPECT_EQ(expect_one_of("pages", {"none", "first", "pages", "full"}), "");
  EXPECT_EQ(expect_one_of("Pages", {"none", "first", "pages", "full"}),
            "expected none, first, pages or full, got 'Pages'");
  EXPECT_EQ(expect_one_of("x", {"serial", "threads"}), "expected serial or threads, got 'x'");
}

TEST(FlagValues, ParseErrorsSayWhatWasExpected) {
  EXPECT_EQ(explain_parse_error("--reps: 1 required N missing"),
            "--reps: expected a value after it");
  EXPECT_EQ(explain_parse_error("--out: 1 required TEXT missing"),
            "--out: expected a value after it");
  EXPECT_EQ(explain_parse_error("--allocators: At Most 1 required but received 2"),
            "--allocators: given 2 times, expected once");
  const std::string other = "The following argument was not expected: --nosuch";
  EXPECT_EQ(explain_parse_error(other), other);
}

}  // namespace
}  // namespace allocmark
