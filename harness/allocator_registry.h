// The allocators allocmark knows by name, how each is run, and whether it is available here.
// Layer: harness (parent side). The parent never loads an allocator: it only names files.
#pragma once

#include <string>
#include <vector>

namespace allocmark {

struct AllocatorInfo {
  std::string name;
  std::string kind;     // "native" (templated replay in the worker), "preload", "plugin"
  std::string library;  // shared object to preload or dlopen; empty for glibc and natives
  std::string description;
  bool available = true;
  std::string why_unavailable;
};

const std::vector<AllocatorInfo>& builtin_allocators();

// `spec` is a built-in name or NAME=/path/lib.so (any malloc-replacement library).
// False with *error ("unknown allocator 'x' (known: ...)") when neither.
bool resolve_allocator(const std::string& spec, AllocatorInfo* out, std::string* error);

// The default set of `allocmark run`: every available built-in allocator.
std::vector<std::string> default_allocators();

}  // namespace allocmark
