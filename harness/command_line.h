// The command line as meta.json records it (a shell-quoted string one can paste back) and
// `run --resume DIR` alone re-planned from it. Layer: harness (parent side, CLI).
#pragma once

#include <string>
#include <vector>

namespace allocmark {

// Joins words with POSIX shell quoting where needed ('...' around words with spaces or shell
// characters), so the string pastes back into a shell as the same words. Pure.
std::string shell_join(const std::vector<std::string>& words);

// The inverse of shell_join for the quoting it produces plus "..." and backslashes. Pure.
std::vector<std::string> shell_split(const std::string& text);

// `allocmark run --resume DIR` with no plan of its own (only --quiet / --no-report beside it)
// means "finish that run as it was planned": returns true and fills *words with DIR's recorded
// command (program path first) minus --out/--resume, plus --resume DIR and the flags given now.
// False when the arguments carry a plan or are not a bare resume. A bare resume of a directory
// without a readable meta.json returns false too: the runner then refuses it in one line.
bool resume_words(const std::vector<std::string>& argv, std::vector<std::string>* words);

}  // namespace allocmark
