// Placeholder expansion for program words (workloads/program_spec.h). Layer: workloads.
#include "workloads/program_spec.h"

namespace allocmark {

std::string expand_placeholders(const std::string& word, const std::string& dir,
                                const std::string& suite_dir, int port) {
  const std::pair<const char*, std::string> names[] = {
      {"{dir}", dir}, {"{suite_dir}", suite_dir}, {"{port}", std::to_string(port)}};
  std::string out;
  for (size_t i = 0; i < word.size();) {
    bool replaced = false;
    for (const auto& [name, value] : names) {
      if (word.compare(i, std::char_traits<char>::length(name), name) == 0) {
        out += value;
        i += std::char_traits<char>::length(name);
        replaced = true;
        break;
      }
    }
    if (!replaced) out += word[i++];
  }
  return out;
}

bool program_uses_port(const ProgramSpec& p) {
  for (const auto* words : {&p.command, &p.driver})
    for (const auto& w : *words)
      if (w.find("{port}") != std::string::npos) return true;
  return false;
}

}  // namespace allocmark
