// Loading and checking an allocmark plugin (dlopen, the entry symbol, version and size checks).
// Layer: harness (worker side). Runs before the baseline RSS is read, never in the timed region.
#include "harness/worker/plugin_allocator.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>

namespace allocmark {
namespace {

bool valid_name(const char* s) {
  if (!s || !*s) return false;
  for (; *s; ++s) {
    const char c = *s;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string plugin_describe_json(const std::string& path) {
  const allocmark_plugin_table_v1* table = nullptr;
  PluginInfo info;
  std::string error;
  if (!load_plugin(path, &table, &info, &error))
    return "{\"status\":\"error\",\"detail\":" + json_string(error) + "}";
  return "{\"status\":\"ok\",\"name\":" + json_string(info.name) +
         ",\"version\":" + json_string(info.version) +
         ",\"abi_version\":" + std::to_string(info.abi_version) + "}";
}

bool load_plugin(const std::string& path, const allocmark_plugin_table_v1** table, PluginInfo* info,
                 std::string* error) {
  const std::string where = "plugin " + path + ": ";
  // RTLD_LOCAL: the plugin's own symbols (its malloc, if it defines one) do not interpose on the
  // worker's. RTLD_NOW: a missing dependency fails here, with dlerror's reason, not mid-replay.
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    *error = where + "cannot be loaded: " + (why ? why : "unknown dlopen error");
    return false;
  }
  auto entry = reinterpret_cast<allocmark_plugin_v1_fn>(dlsym(lib, "allocmark_plugin_v1"));
  if (!entry) {
    *error = where +
             "exports no allocmark_plugin_v1 (is it an allocmark plugin? see "
             "include/allocmark/plugin.h)";
    return false;
  }
  const allocmark_plugin_table_v1* t = entry();
  if (!t) {
    *error = where + "allocmark_plugin_v1() returned NULL";
    return false;
  }
  if (t->abi_version != ALLOCMARK_PLUGIN_ABI_VERSION) {
    *error = where + "ABI version " + std::to_string(t->abi_version) + ", this allocmark reads " +
             std::to_string(ALLOCMARK_PLUGIN_ABI_VERSION) + " (rebuild it against this plugin.h)";
    return false;
  }
  if (t->struct_size < sizeof(allocmark_plugin_table_v1)) {
    *error = where + "table of " + std::to_string(t->struct_size) + " bytes, v1 needs " +
             std::to_string(sizeof(allocmark_plugin_table_v1)) +
             " (struct_size must be sizeof(struct allocmark_plugin_table_v1))";
    return false;
  }
  if (!valid_name(t->name)) {
    *error = where + "name must be non-empty letters, digits, '-', '_' or '.'";
    return false;
  }
  const char* missing = !t->create       ? "create"
                        : !t->destroy    ? "destroy"
                        : !t->allocate   ? "allocate"
                        : !t->deallocate ? "deallocate"
                                         : nullptr;
  if (missing) {
    *error = where + "required member '" + missing + "' is NULL";
    return false;
  }
  *table = t;
  info->name = t->name;
  info->version = t->version ? t->version : "";
  info->abi_version = t->abi_version;
  info->struct_size = t->struct_size;
  // Never dlclose: threads the plugin started or thread-local destructors it registered may
  // still run at exit, and unloading under them would crash the worker after a good replay.
  return true;
}

PluginAllocator::~PluginAllocator() {
  if (table_ && state_) table_->destroy(state_);
}

bool PluginAllocator::open(const std::string& path, const std::string& options,
                           std::string* error) {
  if (!load_plugin(path, &table_, &info_, error)) return false;
  char why[512] = "";
  state_ = table_->create(options.c_str(), why, sizeof why);
  if (!state_) {
    why[sizeof why - 1] = '\0';
    *error = "plugin " + path + ": create(\"" + options +
             "\") failed: " + (why[0] ? why : "no reason given");
    return false;
  }
  allocate_ = table_->allocate;
  deallocate_ = table_->deallocate;
  return true;
}

void* PluginAllocator::reallocate_by_copy(void* p, std::size_t old_n, std::size_t n,
                                          std::size_t align) noexcept {
  void* q = allocate_(state_, n, align);
  if (!q) return nullptr;
  std::memcpy(q, p, std::min(old_n, n));
  deallocate_(state_, p, old_n, align);
  return q;
}

AllocatorStats PluginAllocator::stats() const noexcept {
  AllocatorStats s;
  if (!table_ || !table_->stats) return s;
  allocmark_plugin_stats c{};
  table_->stats(state_, &c);
  s.bytes_reserved = c.bytes_reserved;
  s.bytes_committed = c.bytes_committed;
  s.bytes_in_use = c.bytes_in_use;
  s.os_maps = c.os_maps;
  s.os_unmaps = c.os_unmaps;
  return s;
}

}  // namespace allocmark
