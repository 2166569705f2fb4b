// The one grammar for byte counts on the command line, in suite files, generator parameters,
// allocator options and their environment variables. Layer: base (leaf: depends on nothing).
// Header-only, heap-free and noexcept, so the malloc shims can use it while malloc initialises.
#pragma once

#include <cstdint>
#include <string_view>

namespace allocmark {

// Digits, then optionally one of K, M, G, T (either case; powers of 1024) followed by nothing,
// "B" or "iB": 64, 64K, 64KB, 64KiB, 1m, 2GiB. Returns nullptr and sets *out, or returns what
// was expected (for a "--flag: expected ..., got '...'" line) and leaves *out alone.
constexpr const char* parse_size_text(std::string_view s, uint64_t* out) noexcept {
  constexpr const char* kExpected =
      "a byte count: digits with an optional K, M, G or T suffix (powers of 1024, e.g. 64K, 1MiB)";
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - digit) / 10) return "a byte count below 2^64";
    v = v * 10 + digit;
    ++i;
  }
  if (i == 0) return kExpected;
  unsigned shift = 0;
  if (i < s.size()) {
    switch (s[i]) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      default:
        return kExpected;
    }
    const std::string_view rest = s.substr(i + 1);
    if (!(rest.empty() || rest == "B" || rest == "b" || rest == "iB")) return kExpected;
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) return "a byte count below 2^64";
  *out = v << shift;
  return nullptr;
}

// Digits only: a count, not a size.
constexpr const char* parse_count_text(std::string_view s, uint64_t* out) noexcept {
  if (s.empty()) return "an unsigned integer";
  for (char c : s)
    if (c < '0' || c > '9') return "an unsigned integer";
  return parse_size_text(s, out);
}

}  // namespace allocmark
