// Shell quoting of the recorded command line, and the bare `run --resume DIR` re-plan.
// Layer: harness (parent side, CLI).
#include "harness/command_line.h"

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

}  // namespace allocmark
