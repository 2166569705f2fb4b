// One options table per allocator: parse `key=value`, read ALLOCMARK_<NAME>_<KEY>, describe as
// JSON. Layer: allocators (on base/ only). Header-only; nothing here allocates except parse errors
// and describe().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/size_text.h"

namespace allocmark {

// How a value is written. kSize accepts K/M/G/T suffixes (powers of 1024) and is stored in
// bytes; kCount is a plain unsigned integer; kBool accepts 1/0/true/false/yes/no/on/off.
enum class OptionKind : uint8_t { kSize, kCount, kBool };

// The bounds of a number option, for the row factories of OptionSpec.
struct OptionBounds {
  std::size_t min = 0;  // inclusive
  std::size_t max = SIZE_MAX;
  bool power_of_two = false;
};
inline constexpr bool kPowerOfTwo = true;  // spelled out in OptionBounds{min, max, kPowerOfTwo}

// One row of an allocator's options table. `O` is the options struct; every tunable is a
// std::size_t or bool member so a single member-pointer type per kind is enough. A row is written
// with designated initializers or, one line a row for long tables, with the factories below.
template <class O>
struct OptionSpec {
  std::string_view key;  // lower_snake; environment name is ALLOCMARK_<NAME>_<KEY upper>
  OptionKind kind;
  std::size_t O::*number = nullptr;  // kSize, kCount
  bool O::*flag = nullptr;           // kBool
  std::size_t min = 0;               // inclusive bounds for numbers, checked on parse
  std::size_t max = SIZE_MAX;
  bool power_of_two = false;  // numbers that must be a power of two (alignments, slab sizes)
  std::string_view help;

  static constexpr OptionSpec size(std::string_view key, std::size_t O::*number,
                                   std::string_view help, OptionBounds b = {}) {
    return {key, OptionKind::kSize, number, nullptr, b.min, b.max, b.power_of_two, help};
  }
  static constexpr OptionSpec count(std::string_view key, std::size_t O::*number,
                                    std::string_view help, OptionBounds b = {}) {
    return {key, OptionKind::kCount, number, nullptr, b.min, b.max, b.power_of_two, help};
  }
  static constexpr OptionSpec boolean(std::string_view key, bool O::*flag, std::string_view help) {
    return {.key = key, .kind = OptionKind::kBool, .flag = flag, .help = help};
  }
};

// An options struct opts in with `static constexpr std::string_view kName` (the allocator's
// name, also the environment prefix) and `static constexpr auto options_table()` returning a
// std::array of OptionSpec; a function body may name the struct's own members (see bump.h).
template <class O>
concept HasOptionTable = requires {
  { O::kName } -> std::convertible_to<std::string_view>;
  O::options_table();
};

namespace options_detail {

inline bool parse_bool(std::string_view text, bool* out) {
  for (std::string_view t : {"1", "true", "yes", "on"}) {
    if (text == t) return *out = true, true;
  }
  for (std::string_view t : {"0", "false", "no", "off"}) {
    if (text == t) return *out = false, true;
  }
  return false;
}

}  // namespace options_detail

// Sets one option from text. Returns false and fills *error (when non-null) with one line naming
// the key and what was expected; `opts` is unchanged on failure. Not thread-safe on `opts`.
template <HasOptionTable O>
bool parse_option(O& opts, std::string_view key, std::string_view value, std::string* error) {
  for (const OptionSpec<O>& spec : O::options_table()) {
    if (spec.key != key) continue;
    auto fail = [&](std::string_view expected) {
      if (error != nullptr) {
        *error = std::string(O::kName) + " option " + std::string(key) + "=" + std::string(value) +
                 ": expected " + std::string(expected);
      }
      return false;
    };
    if (spec.kind == OptionKind::kBool) {
      bool b = false;
      if (!options_detail::parse_bool(value, &b)) return fail("true/false, 1/0, yes/no or on/off");
      opts.*spec.flag = b;
      return true;
    }
    // The one size grammar (base/size_text.h): the same text --mem-limit and suites take.
    uint64_t parsed = 0;
    const char* expected = spec.kind == OptionKind::kSize ? parse_size_text(value, &parsed)
                                                          : parse_count_text(value, &parsed);
    if (expected != nullptr) return fail(expected);
    if (parsed > SIZE_MAX) return fail("a value below 2^64");
    const std::size_t n = static_cast<std::size_t>(parsed);
    if (n < spec.min || n > spec.max) {
      return fail("a value in [" + std::to_string(spec.min) + ", " + std::to_string(spec.max) +
                  "]");
    }
    if (spec.power_of_two && (n & (n - 1)) != 0) return fail("a power of two");
    opts.*spec.number = n;
    return true;
  }
  if (error != nullptr) {
    std::string known;
    for (const OptionSpec<O>& spec : O::options_table()) {
      known += known.empty() ? "" : ", ";
      known += spec.key;
    }
    *error = std::string(O::kName) + ": unknown option '" + std::string(key) +
             "' (known: " + known + ")";
  }
  return false;
}

// Parses "key=value" (the harness's spelling of one option).
template <HasOptionTable O>
bool parse_option(O& opts, std::string_view key_equals_value, std::string* error) {
  const std::size_t eq = key_equals_value.find('=');
  if (eq == std::string_view::npos) {
    if (error != nullptr) {
      *error = std::string(O::kName) + " option '" + std::string(key_equals_value) +
               "': expected key=value";
    }
    return false;
  }
  return parse_option(opts, key_equals_value.substr(0, eq), key_equals_value.substr(eq + 1), error);
}

// Environment variable name for one option, e.g. ALLOCMARK_BUMP_CAPACITY. Writes into `buf`
// (no heap: the malloc shims call this before their heap exists). Returns false if too long.
template <HasOptionTable O>
bool option_env_name(const OptionSpec<O>& spec, char* buf, std::size_t buf_size) {
  std::size_t n = 0;
  auto put = [&](std::string_view s) {
    for (char c : s) {
      if (n + 1 >= buf_size) return false;
      buf[n++] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    return true;
  };
  if (!put("ALLOCMARK_") || !put(O::kName) || !put("_") || !put(spec.key)) return false;
  buf[n] = '\0';
  return true;
}

// Overlays ALLOCMARK_<NAME>_<KEY> variables onto `opts`. Precedence used across allocmark:
// compiled defaults < environment < command line (so call this before parse_option).
// Heap-free on success (safe inside a malloc shim's initialisation); on a bad value returns false
// and, when error is non-null, describes it (that path allocates). Reads the environment, so it
// must not race with setenv.
template <HasOptionTable O>
bool load_env(O& opts, std::string* error) {
  bool ok = true;
  for (const OptionSpec<O>& spec : O::options_table()) {
    char name[96];
    if (!option_env_name(spec, name, sizeof name)) continue;
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    if (!parse_option(opts, spec.key, std::string_view(value), error)) {
      if (error != nullptr) *error = std::string(name) + ": " + *error;
      ok = false;
      error = nullptr;  // keep the first message
    }
  }
  return ok;
}

// Defaults overlaid with the environment; bad variables are left at their defaults.
template <HasOptionTable O>
O options_from_env() {
  O opts;
  load_env(opts, nullptr);
  return opts;
}

// The values in force as one JSON object, e.g. {"capacity":1073741824,"block_size":65536}.
// Recorded with every result so a figure always says how the allocator was configured.
template <HasOptionTable O>
std::string describe(const O& opts) {
  std::string out = "{";
  for (const OptionSpec<O>& spec : O::options_table()) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += spec.key;
    out += "\":";
    if (spec.kind == OptionKind::kBool) {
      out += (opts.*spec.flag) ? "true" : "false";
    } else {
      out += std::to_string(opts.*spec.number);
    }
  }
  out += '}';
  return out;
}

}  // namespace allocmark
