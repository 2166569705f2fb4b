// Built-in allocator table, NAME=/path.so resolution, and the allocator checks `run` makes before
// any cell: ELF headers of libraries, option text against the allocators' own options tables.
// Layer: harness (parent side). Library paths come from the build (CMake found them).
#include "harness/run/allocator_registry.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

// Only the options structs (header-only tables) are used: nothing here constructs an allocator.
#include "allocators/native_list.h"
#include "allocators/options.h"
#include "allocators/tracking.h"
#include "harness/run/layout.h"

namespace allocmark {
namespace {

AllocatorInfo make(std::string name, std::string kind, std::string library, std::string desc) {
  AllocatorInfo a;
  a.name = std::move(name);
  a.kind = std::move(kind);
  a.library = std::move(library);
  a.description = std::move(desc);
  if (a.kind != "native" && !a.library.empty() && access(a.library.c_str(), R_OK) != 0) {
    a.available = false;
    a.why_unavailable = "library not found: " + a.library;
  } else if (a.kind == "preload" && a.name != "glibc" && a.library.empty()) {
    a.available = false;
    a.why_unavailable = "not found at build time (install its Debian -dev package and rebuild)";
  }
  return a;
}

// The ELF identity a library must share with this program to load in the worker (built from the
// same tree for the same machine). Read once from /proc/self/exe; if that fails, the compile-time
// class and byte order with machine 0, which skips the machine comparison.
struct ElfIdentity {
  unsigned char elf_class = ELFCLASS64;
  unsigned char data = ELFDATA2LSB;
  uint16_t machine = EM_NONE;
};

const ElfIdentity& own_identity() {
  static const ElfIdentity identity = [] {
    ElfIdentity id;
    id.elf_class = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
    id.data = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
    const int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ElfW(Ehdr) eh{};
    if (fd >= 0 && read(fd, &eh, sizeof eh) == static_cast<ssize_t>(sizeof eh) &&
        std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0) {
      id.machine = eh.e_machine;
    }
    if (fd >= 0) close(fd);
    return id;
  }();
  return identity;
}

// A read-only mapping of a whole file, unmapped on scope exit. Every offset read from the file is
// checked against size_ before use: the file is untrusted input.
class MappedFile {
 public:
  bool open(const std::string& path, std::string* why) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return *why = std::strerror(errno), false;
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return *why = "not a regular file", false;
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) data_ = static_cast<const unsigned char*>(p);
    }
    close(fd);
    if (size_ > 0 && data_ == nullptr) return *why = "cannot be mapped", false;
    return true;
  }
  ~MappedFile() {
    if (data_ != nullptr) munmap(const_cast<unsigned char*>(data_), size_);
  }
  // A pointer to `count` objects of T at `offset`, or null when they do not lie inside the file.
  template <class T>
  const T* at(uint64_t offset, uint64_t count = 1) const {
    if (offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
    if (offset % alignof(T) != 0) return nullptr;
    return reinterpret_cast<const T*>(data_ + offset);
  }
  size_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

// Which built-in options table configures `a`, if any: the native allocators in the worker, and
// the built-in malloc libraries through the environment ("" for everything else).
std::string_view options_table_of(const AllocatorInfo& a) {
  std::string_view table;
  const std::string& name = a.worker_name.empty() ? a.name : a.worker_name;  // variants, A/A
  for_each_native_allocator([&](const auto& entry) {
    const std::string_view base = entry.name();
    if (a.kind == "native" && name == base) table = base;
    if (a.kind == "preload" && a.name == std::string(base) + "-malloc") {
      // Only the library we built: a user's NAME=/x.so called pool-malloc reads whatever it reads.
      for (const auto& b : builtin_allocators())
        if (b.name == a.name && b.library == a.library && !a.library.empty()) table = base;
    }
  });
  return table;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Calls fn(OptionsStruct{}) for the options table named `table`.
template <class Fn>
bool with_options_table(std::string_view table, Fn&& fn) {
  bool ok = true;
  with_native_allocator_entry(table, [&](const auto& entry) {
    ok = fn(typename std::decay_t<decltype(entry)>::Options{});
  });
  return ok;
}

}  // namespace

const std::vector<AllocatorInfo>& builtin_allocators() {
  static const std::vector<AllocatorInfo> table = [] {
    std::vector<AllocatorInfo> rows = {
        make("glibc", "preload", "",
             "the system malloc (ptmalloc2); replays preload nothing, programs preload libc"),
        make("mimalloc", "preload", ALLOCMARK_MIMALLOC_SO, "Microsoft mimalloc, preloaded"),
        make("tcmalloc", "preload", ALLOCMARK_TCMALLOC_SO,
             "gperftools tcmalloc (tcmalloc_minimal), preloaded"),
        make("jemalloc", "preload", ALLOCMARK_JEMALLOC_SO, "jemalloc, preloaded"),
        make("tbbmalloc", "preload", ALLOCMARK_TBBMALLOC_SO,
             "oneTBB scalable allocator proxy, preloaded"),
    };
    // The in-house allocators (allocators/native_list.h), then their drop-in malloc libraries.
    for_each_native_allocator([&](const auto& entry) {
      rows.push_back(make(std::string(entry.name()), "native", "", std::string(entry.description)));
    });
    for_each_native_allocator([&](const auto& entry) {
      const std::string name(entry.name());
      const std::string library = shim_library(name.c_str());
      rows.push_back(make(name + "-malloc", "preload", library,
                          "in-house " + name + " through the malloc interface"));
      if (library.empty()) {  // not built here: never run it as glibc under another name
        rows.back().available = false;
        rows.back().why_unavailable = "libamk_" + name + ".so was not built or installed";
      }
    });
    rows.push_back(make("null", "native", "", "no allocation at all: the harness's own cost"));
    return rows;
  }();
  return table;
}

bool valid_allocator_name(const std::string& name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool check_shared_object(const std::string& path, bool need_malloc, std::string* error) {
  MappedFile file;
  std::string why;
  if (!file.open(path, &why)) return *error = why, false;
  const auto* ident = file.at<unsigned char>(0, EI_NIDENT);
  if (ident == nullptr || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    *error = "not an ELF file (expected a shared object built with -shared)";
    return false;
  }
  const ElfIdentity& self = own_identity();
  if (ident[EI_CLASS] != self.elf_class || ident[EI_DATA] != self.data) {
    *error = std::string("built for another word size or byte order (expected ") +
             (self.elf_class == ELFCLASS64 ? "64" : "32") + "-bit " +
             (self.data == ELFDATA2LSB ? "little" : "big") + "-endian ELF)";
    return false;
  }
  // Same class and byte order as ours from here on, so the native ElfW types read it.
  const auto* eh = file.at<ElfW(Ehdr)>(0);
  if (eh == nullptr) return *error = "truncated ELF header", false;
  if (self.machine != EM_NONE && eh->e_machine != self.machine) {
    *error = "built for another machine (ELF e_machine " + std::to_string(eh->e_machine) +
             ", this allocmark is " + std::to_string(self.machine) + ")";
    return false;
  }
  if (eh->e_type != ET_DYN) {
    *error = std::string(eh->e_type == ET_EXEC  ? "an executable"
                         : eh->e_type == ET_REL ? "an object file (.o)"
                                                : "an ELF file of another type") +
             ", not a shared object (expected one built with -shared)";
    return false;
  }
  if (eh->e_shoff == 0 || eh->e_shnum == 0) return true;  // stripped of sections: as far as we see
  if (eh->e_shentsize != sizeof(ElfW(Shdr))) return *error = "bad section headers", false;
  const auto* sections = file.at<ElfW(Shdr)>(eh->e_shoff, eh->e_shnum);
  if (sections == nullptr) return *error = "section headers lie outside the file", false;

  bool defines_malloc = false;
  for (size_t i = 0; i < eh->e_shnum; ++i) {
    const ElfW(Shdr)& s = sections[i];
    if (s.sh_type == SHT_DYNAMIC) {
      // DF_1_PIE marks an executable built with -pie: ET_DYN too, but ld.so will not preload or
      // dlopen it ("cannot dynamically load position-independent executable").
      const auto* dyn = file.at<ElfW(Dyn)>(s.sh_offset, s.sh_size / sizeof(ElfW(Dyn)));
      for (size_t k = 0; dyn != nullptr && k < s.sh_size / sizeof(ElfW(Dyn)); ++k) {
        if (dyn[k].d_tag == DT_NULL) break;
        if (dyn[k].d_tag == DT_FLAGS_1 && (dyn[k].d_un.d_val & DF_1_PIE) != 0) {
          *error =
              "a position-independent executable, not a shared object (expected one "
              "built with -shared)";
          return false;
        }
      }
    }
    if (s.sh_type == SHT_DYNSYM && need_malloc && s.sh_link < eh->e_shnum) {
      const ElfW(Shdr)& strtab = sections[s.sh_link];
      const size_t count = s.sh_entsize == sizeof(ElfW(Sym)) ? s.sh_size / sizeof(ElfW(Sym)) : 0;
      const auto* syms = file.at<ElfW(Sym)>(s.sh_offset, count);
      const auto* names = file.at<char>(strtab.sh_offset, strtab.sh_size);
      for (size_t k = 0; syms != nullptr && names != nullptr && k < count; ++k) {
        const ElfW(Sym)& sym = syms[k];
        const int type = ELF64_ST_TYPE(sym.st_info);  // the low nibble in both classes
        if (sym.st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC)) continue;
        // "malloc\0" must fit inside the string table.
        if (sym.st_name + sizeof "malloc" <= strtab.sh_size &&
            std::memcmp(names + sym.st_name, "malloc", sizeof "malloc") == 0) {
          defines_malloc = true;
          break;
        }
      }
    }
  }
  if (need_malloc && !defines_malloc) {
    *error =
        "defines no malloc, so preloading it would leave glibc serving every allocation "
        "(expected a malloc replacement; an allocmark plugin goes in --plugin)";
    return false;
  }
  return true;
}

bool resolve_allocator(const std::string& spec, AllocatorInfo* out, std::string* error) {
  const size_t eq = spec.find('=');
  if (eq != std::string::npos) {
    const std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
    if (name.empty() || path.empty()) {
      *error = "--allocators: expected NAME=/path/to/lib.so or NAME=BUILTIN, got '" + spec + "'";
      return false;
    }
    if (!valid_allocator_name(name)) {
      *error = "--allocators: '" + spec +
               "': NAME must be letters, digits, '-', '_' or '.' (it is also the NAME of "
               "--alloc-option NAME:key=value)";
      return false;
    }
    // LD_PRELOAD splits its list at spaces and colons: such a path would preload pieces of it.
    if (path.find_first_of(" :") != std::string::npos) {
      *error = "--allocators: '" + path +
               "': LD_PRELOAD cannot name a path with a space or a colon (link the library "
               "from another path)";
      return false;
    }
    // NAME=BASE: a built-in under another name (a variant, given its own --alloc-env).
    if (path.find('/') == std::string::npos) {
      for (const auto& a : builtin_allocators()) {
        if (a.name != path) continue;
        *out = a;
        out->name = name;
        if (a.kind != "preload") out->worker_name = a.name;  // the worker knows natives by name
        out->description = a.name + " under another name: " + a.description;
        return true;
      }
      *error = "--allocators: '" + spec + "': '" + path +
               "' is neither a built-in allocator nor a path to a library (/path/lib.so)";
      return false;
    }
    std::string why;
    if (!check_shared_object(path, /*need_malloc=*/true, &why)) {
      *error = "--allocators " + spec + ": " + why;
      return false;
    }
    *out = make(name, "preload", path, "malloc replacement from " + path);
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
  *error =
      "--allocators: unknown allocator '" + spec + "' (known: " + known + "; or NAME=/path/lib.so)";
  return false;
}

std::vector<std::string> default_allocators() {
  std::vector<std::string> names;
  for (const auto& a : builtin_allocators())
    if (a.available && a.name.find("-malloc") == std::string::npos) names.push_back(a.name);
  return names;
}

std::string alloc_option_support(const AllocatorInfo& a) {
  if (a.kind == "plugin") return "plugin";
  const std::string_view table = options_table_of(a);
  if (table.empty()) return "none";
  return a.kind == "native" ? "table" : "ALLOCMARK_" + upper(table) + "_<KEY>";
}

bool check_allocator_option(const AllocatorInfo& a, const std::string& key_value,
                            std::string* error) {
  if (alloc_option_support(a) != "table") return *error = a.name + " has no options table", false;
  return with_options_table(options_table_of(a), [&]<class O>(O opts) {
    return parse_option(opts, std::string_view(key_value), error);
  });
}

bool check_allocator_environment(const AllocatorInfo& a, std::string* error) {
  const std::string_view table = options_table_of(a);
  if (table.empty()) return true;
  const bool ok = with_options_table(table, [&]<class O>(O opts) { return load_env(opts, error); });
  if (!ok || a.kind != "preload") return ok;
  // The malloc libraries wrap themselves in the tracking decorator when ALLOCMARK_TRACK is true
  // (allocators/shim/malloc_shim.cc), which then reads its own table.
  const char* track = std::getenv("ALLOCMARK_TRACK");
  if (track == nullptr) return true;
  bool on = false;
  if (!options_detail::parse_bool(track, &on)) {
    *error =
        std::string("ALLOCMARK_TRACK=") + track + ": expected true/false, 1/0, yes/no or on/off";
    return false;
  }
  TrackingOptions tracking;
  return !on || load_env(tracking, error);
}

}  // namespace allocmark
