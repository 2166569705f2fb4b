// The command line as meta.json records it (a shell-quoted string one can paste back),
// `run --resume DIR` alone re-planned from it, and the checks of flag values that give a bad one
// its single line. Layer: harness (parent side, CLI).
#pragma once

#include <cstdint>
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

// Value checks for CLI11 validators. Each returns "" when `text` is good, else what follows the
// flag's name on its line: "expected ..., got 'text'" (CLI11 prefixes "--flag: "). On success
// `text` is rewritten to a plain spelling ("+07" -> "7") that the flag's C++ type then converts
// without a second, differently worded, complaint from CLI11. Pure.
//
// An integer in [min, max], decimal digits only (no sign below 0, no fraction, no exponent).
std::string expect_whole_number(std::string& text, uint64_t min, uint64_t max);
// A finite number of seconds above 0 and at most kMaxSeconds (far beyond any cell, and small
// enough for every integer conversion of it downstream).
inline constexpr double kMaxSeconds = 1e9;
std::string expect_seconds(std::string& text);
// A relative precision: "3%" or "0.03" (above 0, below 1 = 100 %), rewritten to the fraction;
// "off" is rewritten to "0" (no precision rounds).
std::string expect_precision(std::string& text);
// One of `choices`, exactly.
std::string expect_one_of(const std::string& text, const std::vector<std::string>& choices);

// CLI11's message for a flag given without its value reads "--reps: 1 required INT missing";
// this returns "--reps: expected a value after it". Every other message is returned unchanged.
std::string explain_parse_error(const std::string& what);

}  // namespace allocmark
