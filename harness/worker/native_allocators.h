// The in-house allocators by name, constructed with their options, for the templated replay.
// Layer: harness (worker). The list itself is allocators/native_list.h.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "allocators/native_list.h"
#include "allocators/null_allocator.h"
#include "allocators/options.h"

namespace allocmark {

// Options text is "key=value,key=value" (values from `--alloc-option NAME:key=value`), applied
// after the ALLOCMARK_<NAME>_<KEY> environment. False with *error on a bad option.
template <HasOptionTable O>
bool parse_allocator_options(std::string_view text, O* opts, std::string* error) {
  if (!load_env(*opts, error)) return false;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    if (!item.empty() && !parse_option(*opts, item, error)) return false;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return true;
}

// Calls fn(allocator&) with the named native allocator. False (with *error) when the name is not
// a native allocator or its options are bad.
template <class Fn>
bool with_native_allocator(const std::string& name, std::string_view options,
                           std::string* options_json, std::string* error, Fn&& fn) {
  bool ok = false;
  const bool listed = with_native_allocator_entry(name, [&](const auto& entry) {
    using E = std::decay_t<decltype(entry)>;
    typename E::Options opts;
    if (!parse_allocator_options(options, &opts, error)) return;
    *options_json = describe(opts);
    typename E::Alloc alloc(opts);
    fn(alloc);
    ok = true;
  });
  if (listed) return ok;
  if (name == "null") {
    if (!options.empty()) return *error = "the null allocator has no options", false;
    NullAllocator alloc;
    fn(alloc);
    return true;
  }
  *error = "'" + name + "' is not a native allocator";
  return false;
}

}  // namespace allocmark
