// Shell quoting of the recorded command line, the bare `run --resume DIR` re-plan, and flag value
// checks. Layer: harness (parent side, CLI).
#include "harness/cli/command_line.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

namespace allocmark {
namespace {

bool needs_quotes(const std::string& w) {
  if (w.empty()) return true;
  for (char c : w) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string("-_./=,:+@%^").find(c) != std::string::npos;
    if (!plain) return true;
  }
  return false;
}

// Splits "--flag=value" into its name; other words are returned whole.
std::string flag_name(const std::string& w) { return w.substr(0, w.find('=')); }

}  // namespace

std::string shell_join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    if (!needs_quotes(w)) {
      out += w;
      continue;
    }
    out += '\'';
    for (char c : w) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

std::vector<std::string> shell_split(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      while (++i < text.size() && text[i] != '\'') word += text[i];
    } else if (c == '"') {
      while (++i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        word += text[i];
      }
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

bool resume_words(const std::vector<std::string>& argv, std::vector<std::string>* words) {
  if (argv.size() < 3 || argv[1] != "run") return false;
  std::string dir;
  std::vector<std::string> now;  // output-only flags given with the resume
  for (size_t i = 2; i < argv.size(); ++i) {
    const std::string& w = argv[i];
    if (w == "--resume" && i + 1 < argv.size()) {
      dir = argv[++i];
    } else if (flag_name(w) == "--resume" && w.size() > 9) {
      dir = w.substr(9);
    } else if (w == "--quiet" || w == "--no-report") {
      now.push_back(w);
    } else {
      return false;  // a plan or another setting: the user means what they typed
    }
  }
  if (dir.empty()) return false;
  std::ifstream f(dir + "/meta.json");
  const auto meta = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("command_line") ||
      !meta["command_line"].is_string())
    return false;
  const std::vector<std::string> recorded = shell_split(meta["command_line"].get<std::string>());
  if (recorded.size() < 2 || recorded[1] != "run") return false;
  words->assign({argv[0], "run"});
  for (size_t i = 2; i < recorded.size(); ++i) {
    const std::string& w = recorded[i];
    const std::string name = flag_name(w);
    if ((w == "--out" || w == "--resume") && i + 1 < recorded.size()) {
      ++i;
      continue;
    }
    if (name == "--out" || name == "--resume") continue;
    if (w == "--quiet" || w == "--no-report") continue;  // output flags are the caller's now
    words->push_back(w);
  }
  words->insert(words->end(), now.begin(), now.end());
  words->insert(words->end(), {"--resume", dir});
  return true;
}

std::string expect_whole_number(std::string& text, uint64_t min, uint64_t max) {
  const std::string expected =
      max == UINT64_MAX
          ? (min == 0 ? std::string("a whole number of 0 or more")
                      : "a whole number of " + std::to_string(min) + " or more")
          : "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  // Digits only: strtoull alone would take " 5", "+5" and "-1" (as 2^64-1).
  bool digits = !text.empty();
  for (const char c : text) digits &= c >= '0' && c <= '9';
  errno = 0;
  const unsigned long long v = digits ? std::strtoull(text.c_str(), nullptr, 10) : 0;
  if (!digits || errno == ERANGE || v < min || v > max)
    return "expected " + expected + ", got '" + text + "'";
  text = std::to_string(v);
  return "";
}

std::string expect_seconds(std::string& text) {
  char* end = nullptr;
  errno = 0;
  // strtod skips leading blanks and reads "inf", "nan" and hex: only plain finite numbers pass.
  const double v = text.empty() || std::isspace(static_cast<unsigned char>(text[0]))
                       ? NAN
                       : std::strtod(text.c_str(), &end);
  if (end == nullptr || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    return "expected a number of seconds, got '" + text + "'";
  if (v <= 0 || v > kMaxSeconds) {
    char max[32];
    std::snprintf(max, sizeof max, "%.0f", kMaxSeconds);
    return "expected a number of seconds above 0 and at most " + std::string(max) + ", got '" +
           text + "'";
  }
  char canonical[64];
  std::snprintf(canonical, sizeof canonical, "%.17g", v);
  text = canonical;
  return "";
}

std::string expect_precision(std::string& text) {
  if (text == "off") {
    text = "0";
    return "";
  }
  const bool percent = !text.empty() && text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  char* end = nullptr;
  errno = 0;
  // As for seconds: plain finite numbers only (no blanks, inf, nan, hex).
  double v =
      number.empty() || !(std::isdigit(static_cast<unsigned char>(number[0])) || number[0] == '.')
          ? NAN
          : std::strtod(number.c_str(), &end);
  if (percent) v /= 100;
  const bool hex = number.find_first_of("xX") != std::string::npos;
  if (end == nullptr || *end != '\0' || errno == ERANGE || hex || !(v > 0 && v < 1))
    return "expected a relative precision above 0 and below 100 % like 3% or 0.03, or off, got '" +
           text + "'";
  char canonical[64];
  std::snprintf(canonical, sizeof canonical, "%.17g", v);
  text = canonical;
  return "";
}

std::string expect_one_of(const std::string& text, const std::vector<std::string>& choices) {
  std::string list;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == text) return "";
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  }
  return "expected " + list + ", got '" + text + "'";
}

std::string explain_parse_error(const std::string& what) {
  const size_t colon = what.find(": ");
  if (colon == std::string::npos) return what;
  const std::string flag = what.substr(0, colon), rest = what.substr(colon + 2);
  auto starts = [&](const char* s) { return rest.rfind(s, 0) == 0; };
  const std::string missing = " missing";
  if (starts("1 required ") && rest.size() > missing.size() &&
      rest.compare(rest.size() - missing.size(), missing.size(), missing) == 0)
    return flag + ": expected a value after it";
  // A single-valued flag given twice: "--out: At Most 1 required but received 2".
  if (starts("At Most 1 required but received "))
    return flag + ": given " + rest.substr(32) + " times, expected once";
  return what;
}

}  // namespace allocmark
