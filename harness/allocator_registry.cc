// Built-in allocator table. Library paths come from the build (CMake found them). Layer: harness.
#include "harness/allocator_registry.h"

#include <unistd.h>

namespace allocmark {
namespace {

AllocatorInfo make(std::string name, std::string kind, std::string library, std::string desc) {
  AllocatorInfo a{std::move(name), std::move(kind), std::move(library), std::move(desc)};
  if (a.kind != "native" && !a.library.empty() && access(a.library.c_str(), R_OK) != 0) {
    a.available = false;
    a.why_unavailable = "library not found: " + a.library;
  } else if (a.kind == "preload" && a.name != "glibc" && a.library.empty()) {
    a.available = false;
    a.why_unavailable = "not found at build time (install its Debian -dev package and rebuild)";
  }
  return a;
}

}  // namespace

const std::vector<AllocatorInfo>& builtin_allocators() {
  static const std::vector<AllocatorInfo> table = {
      make("glibc", "preload", "", "the system malloc (ptmalloc2), nothing preloaded"),
      make("mimalloc", "preload", ALLOCMARK_MIMALLOC_SO, "Microsoft mimalloc, preloaded"),
      make("tcmalloc", "preload", ALLOCMARK_TCMALLOC_SO,
           "gperftools tcmalloc (tcmalloc_minimal), preloaded"),
      make("jemalloc", "preload", ALLOCMARK_JEMALLOC_SO, "jemalloc, preloaded"),
      make("tbbmalloc", "preload", ALLOCMARK_TBBMALLOC_SO,
           "oneTBB scalable allocator proxy, preloaded"),
      make("bump", "native", "", "in-house bump allocator, native sized API"),
      make("arena", "native", "", "in-house arena (chunks, bulk reset), native sized API"),
      make("pool", "native", "", "in-house size-class pools with thread caches, native sized API"),
      make("bump-malloc", "preload", ALLOCMARK_SHIM_BUMP,
           "in-house bump through the malloc interface"),
      make("arena-malloc", "preload", ALLOCMARK_SHIM_ARENA,
           "in-house arena through the malloc interface"),
      make("pool-malloc", "preload", ALLOCMARK_SHIM_POOL,
           "in-house pool through the malloc interface"),
      make("null", "native", "", "no allocation at all: the harness's own cost"),
  };
  return table;
}

bool resolve_allocator(const std::string& spec, AllocatorInfo* out, std::string* error) {
  const size_t eq = spec.find('=');
  if (eq != std::string::npos) {
    const std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
    if (name.empty() || path.empty()) {
      *error = "--allocators: '" + spec + "' should be NAME=/path/to/lib.so";
      return false;
    }
    if (access(path.c_str(), R_OK) != 0) {
      *error = "--allocators: library '" + path + "' for '" + name + "' cannot be read";
      return false;
    }
    *out = AllocatorInfo{name, "preload", path, "malloc replacement from " + path};
    return true;
  }
  for (const auto& a : builtin_allocators()) {
    if (a.name == spec) {
      *out = a;
      return true;
    }
  }
  std::string known;
  for (const auto& a : builtin_allocators()) known += (known.empty() ? "" : ", ") + a.name;
  *error = "unknown allocator '" + spec + "' (known: " + known + "; or NAME=/path/lib.so)";
  return false;
}

std::vector<std::string> default_allocators() {
  std::vector<std::string> names;
  for (const auto& a : builtin_allocators())
    if (a.available && a.name.find("-malloc") == std::string::npos) names.push_back(a.name);
  return names;
}

}  // namespace allocmark
