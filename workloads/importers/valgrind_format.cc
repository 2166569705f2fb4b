// valgrind --trace-malloc=yes import. Line forms from coregrind/m_replacemalloc/
// vg_replace_malloc.c (MALLOC_TRACE): "NAME(ARGS)" then " = RESULT"; when the replacement calls
// another traced function first (realloc(p, 0) frees p), the result arrives on a later line as
// "--PID--  = RESULT". Layer: workloads.
#include "workloads/importers/valgrind_format.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "workloads/importers/pointer_map.h"
#include "workloads/importers/text_input.h"
#include "workloads/trace_builder.h"

namespace allocmark {
namespace {

enum class Kind {
  kMalloc,
  kCalloc,
  kRealloc,
  kMemalign,
  kValloc,
  kNew,
  kAlignedNew,
  kFree,
  kDelete,
  kIgnored
};

constexpr std::string_view kFunctions =
    "an allocation function (malloc, calloc, realloc, memalign, valloc, free, _Znwm, _ZdlPv, ...)";

bool classify(std::string_view name, Kind* kind) {
  if (name == "malloc") {
    *kind = Kind::kMalloc;
  } else if (name == "calloc") {
    *kind = Kind::kCalloc;
  } else if (name == "realloc") {
    *kind = Kind::kRealloc;
  } else if (name == "memalign" || name == "posix_memalign" || name == "aligned_alloc") {
    *kind = Kind::kMemalign;
  } else if (name == "valloc") {
    *kind = Kind::kValloc;
  } else if (name == "free" || name == "cfree") {
    *kind = Kind::kFree;
  } else if (name.starts_with("_Znw") || name.starts_with("_Zna") || name == "__builtin_new" ||
             name == "__builtin_vec_new") {
    *kind = name.find("align_val_t") != std::string_view::npos ? Kind::kAlignedNew : Kind::kNew;
  } else if (name.starts_with("_Zdl") || name.starts_with("_Zda") || name == "__builtin_delete" ||
             name == "__builtin_vec_delete") {
    *kind = Kind::kDelete;
  } else if (name == "malloc_usable_size" || name == "malloc_size" || name == "mallinfo" ||
             name == "mallinfo2" || name == "malloc_trim" || name == "malloc_stats" ||
             name == "mallopt") {
    *kind = Kind::kIgnored;
  } else {
    return false;
  }
  return true;
}

bool returns_pointer(Kind k) { return k != Kind::kFree && k != Kind::kDelete; }

// One argument: "16", "0x4A5B040", "al 64", "size 200".
struct Arg {
  std::string_view label;
  uint64_t value = 0;
};

bool parse_number(std::string_view s, uint64_t* v) {
  if (s == "(nil)") {
    *v = 0;
    return true;
  }
  return s.starts_with("0x") || s.starts_with("0X") ? parse_hex(s, v) : parse_dec(s, v);
}

// A call waiting for its " = RESULT".
struct Call {
  Kind kind = Kind::kMalloc;
  std::string name;
  std::vector<Arg> args;
  uint64_t line = 0;
};

class ValgrindImporter : public LineImporter {
 public:
  ValgrindImporter(const std::string& path, ImportStats* stats, std::string* error)
      : LineImporter(path, stats, error) {}

  bool run(std::string_view text) {
    LineCursor lines(text);
    std::string_view l;
    while (lines.next(&l)) {
      line_ = lines.line_number();
      if (!trace_line(l)) return false;
    }
    stats_->lines = lines.line_number();
    for (auto& [pid, p] : processes_) {
      if (!p.pending.empty()) {
        line_ = p.pending.back().line;
        return fail_expected("' = RESULT' of this call later on (truncated?)", "");
      }
    }
    if (calls_ == 0)
      return fail_expected("'--PID-- malloc(SIZE) = 0xPTR' lines (valgrind --trace-malloc=yes)",
                           "");
    return true;
  }

  TraceBuilder& builder() { return builder_; }

 private:
  struct Process {
    uint32_t thread = 0;
    PointerMap blocks;
    std::vector<Call> pending;  // nested calls: innermost last
  };

  // "--PID-- CONTENT": trace output. "==PID== ..." and anything else: not ours, skipped.
  bool trace_line(std::string_view l) {
    if (!l.starts_with("--")) {
      ++stats_->skipped_lines;
      return true;
    }
    const size_t close = l.find("--", 2);
    uint64_t pid = 0;
    if (close == std::string_view::npos || !parse_dec(l.substr(2, close - 2), &pid)) {
      ++stats_->skipped_lines;  // e.g. a program's own "--help" output
      return true;
    }
    std::string_view content = l.substr(close + 2);
    if (!content.empty() && content[0] == ' ') content.remove_prefix(1);
    auto [it, fresh] = processes_.try_emplace(pid);
    if (fresh) it->second.thread = builder_.thread(pid);
    Process& p = it->second;
    bool any = false;
    while (true) {
      content.remove_prefix(std::min(content.find_first_not_of(' '), content.size()));
      if (content.empty()) break;
      if (content.starts_with("= ")) {
        if (p.pending.empty()) return fail_expected("a call before ' = RESULT'", content);
        content.remove_prefix(1);
        Call call = std::move(p.pending.back());
        p.pending.pop_back();
        if (!result(p, call, &content)) return false;
        any = true;
        continue;
      }
      size_t n = 0;
      while (n < content.size() &&
             (std::isalnum(static_cast<unsigned char>(content[n])) || content[n] == '_'))
        ++n;
      if (n == 0 || n == content.size() || content[n] != '(') {
        if (any) return fail_expected("another call or ' = RESULT'", content);
        ++stats_->skipped_lines;  // another valgrind message ("--PID-- Reading syms ...")
        return true;
      }
      const std::string_view name = content.substr(0, n);
      Call call;
      if (!classify(name, &call.kind)) return fail_expected(kFunctions, name);
      const size_t end = content.find(')', n);
      if (end == std::string_view::npos) return fail_expected("')' closing the arguments", content);
      if (!args(content.substr(n + 1, end - n - 1), &call.args)) return false;
      content.remove_prefix(end + 1);
      call.name = std::string(name);
      call.line = line_;
      ++calls_;
      any = true;
      if (!returns_pointer(call.kind)) {
        if (!release(p, call)) return false;
      } else if (content.starts_with(" = ")) {
        content.remove_prefix(2);
        if (!result(p, call, &content)) return false;
      } else {
        p.pending.push_back(std::move(call));
      }
    }
    return true;
  }

  bool args(std::string_view text, std::vector<Arg>* out) {
    while (!text.empty()) {
      const size_t comma = text.find(',');
      std::string_view part = text.substr(0, comma);
      text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
      Fields f(part);
      std::string_view a = f.next(), b = f.next();
      Arg arg;
      if (!b.empty()) {
        arg.label = a;
        a = b;
      }
      if (!parse_number(a, &arg.value) || !f.at_end())
        return fail_expected("an argument (decimal, 0x hex, or 'al N' / 'size N')", part);
      out->push_back(arg);
      if (out->size() > 3) return fail_expected("at most 3 arguments", part);
    }
    return true;
  }

  // The labelled argument `label`, or else the positional one.
  static bool arg(const Call& c, std::string_view label, size_t position, uint64_t* v) {
    for (const Arg& a : c.args)
      if (a.label == label) {
        *v = a.value;
        return true;
      }
    if (position < c.args.size() && c.args[position].label.empty()) {
      *v = c.args[position].value;
      return true;
    }
    return false;
  }

  bool want_args(const Call& c, size_t n) {
    if (c.args.size() == n) return true;
    line_ = c.line;
    return fail(c.name + " takes " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") +
                ", got " + std::to_string(c.args.size()));
  }

  bool checked_size(const Call& c, uint64_t size) {
    if (size <= kMaxImportSize) return true;
    line_ = c.line;
    return fail(c.name + " of " + std::to_string(size) + " bytes: more than 2^47");
  }

  // free / delete.
  bool release(Process& p, const Call& c) {
    if (!want_args(c, 1)) return false;
    const uint64_t ptr = c.args[0].value;
    const uint32_t obj = take_block(p.blocks, ptr);
    if (obj == kNoObject) return true;
    uint16_t flags = 0;
    // Sized delete: "_ZdlPvm", "_ZdaPvmSt11align_val_t" (m: size_t; j: 32-bit size_t).
    if (c.kind == Kind::kDelete && c.name.size() > 6 && c.name.compare(4, 2, "Pv") == 0 &&
        (c.name[6] == 'm' || c.name[6] == 'j'))
      flags |= kFlagSizedFree;
    return builder_.free(p.thread, obj, flags) || builder_failed();
  }

  // A new block at ptr for the call on `line` (see LineImporter::bind for a still-live ptr).
  uint32_t bind(Process& p, uint64_t ptr, uint64_t line) {
    return LineImporter::bind(p.blocks, p.thread, ptr, line);
  }

  // " 0x4A5B040" after " = ": completes `c`.
  bool result(Process& p, const Call& c, std::string_view* content) {
    Fields f(*content);
    const std::string_view s = f.next();
    uint64_t ptr = 0;
    if (!parse_number(s, &ptr)) return fail_expected("a result pointer after ' = '", s);
    *content = f.rest();
    if (!content->empty() && !content->starts_with(" "))
      return fail_expected("end of line", *content);
    if (Fields(*content).at_end()) *content = {};
    switch (c.kind) {
      case Kind::kIgnored:
        return true;
      case Kind::kMalloc:
      case Kind::kNew:
      case Kind::kValloc:
        return malloc_result(p, c, ptr);
      case Kind::kCalloc:
        return calloc_result(p, c, ptr);
      case Kind::kMemalign:
      case Kind::kAlignedNew:
        return aligned_result(p, c, ptr);
      case Kind::kRealloc:
        return realloc_result(p, c, ptr);
      case Kind::kFree:
      case Kind::kDelete:
        break;
    }
    return fail_expected("no result for " + c.name, s);
  }

  // malloc / new / valloc (page-aligned) returning ptr.
  bool malloc_result(Process& p, const Call& c, uint64_t ptr) {
    if (!want_args(c, 1)) return false;
    const uint64_t size = c.args[0].value;
    if (ptr == 0) return skip_failed(c);
    if (!checked_size(c, size)) return false;
    const uint32_t obj = bind(p, ptr, c.line);
    if (obj == kNoObject) return false;
    if (c.kind == Kind::kValloc)
      return builder_.aligned_alloc(p.thread, obj, 4096, size) || builder_failed();
    return builder_.malloc(p.thread, obj, size, c.kind == Kind::kNew ? kFlagCxx : 0) ||
           builder_failed();
  }

  // calloc(nmemb, size) returning ptr; the product must fit the trace's limits.
  bool calloc_result(Process& p, const Call& c, uint64_t ptr) {
    if (!want_args(c, 2)) return false;
    const uint64_t nmemb = c.args[0].value, size = c.args[1].value;
    if (ptr == 0) return skip_failed(c);
    uint64_t total = 0;
    if (__builtin_mul_overflow(nmemb, size, &total) || !checked_size(c, total) ||
        nmemb > UINT32_MAX) {
      line_ = c.line;
      return fail("calloc(" + std::to_string(nmemb) + ", " + std::to_string(size) +
                  ") is larger than 2^47 bytes or 2^32 members");
    }
    const uint32_t obj = bind(p, ptr, c.line);
    return obj != kNoObject && (builder_.calloc(p.thread, obj, nmemb, size) || builder_failed());
  }

  // memalign(al, size) / aligned new(size, al) returning ptr.
  bool aligned_result(Process& p, const Call& c, uint64_t ptr) {
    if (!want_args(c, 2)) return false;
    const bool is_new = c.kind == Kind::kAlignedNew;
    uint64_t size = 0, align = 0;
    if (!arg(c, "al", is_new ? 1 : 0, &align) || !arg(c, "size", is_new ? 0 : 1, &size)) {
      line_ = c.line;
      return fail_expected("arguments 'al N, size N'", c.name);
    }
    if (ptr == 0) return skip_failed(c);
    if (!std::has_single_bit(align) || align > kMaxImportAlign) {
      line_ = c.line;
      return fail(c.name + ": alignment " + std::to_string(align) +
                  " is not a power of two up to 2^40");
    }
    if (!checked_size(c, size)) return false;
    const uint32_t obj = bind(p, ptr, c.line);
    if (obj == kNoObject) return false;
    return builder_.aligned_alloc(p.thread, obj, align, size, is_new ? kFlagCxx : 0) ||
           builder_failed();
  }

  // realloc(old, size) returning ptr: a free, a failure, a fresh block or a moved one.
  bool realloc_result(Process& p, const Call& c, uint64_t ptr) {
    if (!want_args(c, 2)) return false;
    const uint32_t t = p.thread;
    const uint64_t old = c.args[0].value, size = c.args[1].value;
    const uint32_t obj = old == 0 ? PointerMap::kAbsent : p.blocks.find(old);
    if (ptr == 0) {
      // realloc(p, 0) frees p (valgrind logs that free first, nested); a failed realloc
      // leaves p live.
      if (size == 0 && obj != PointerMap::kAbsent) {
        p.blocks.erase(old);
        return builder_.free(t, obj) || builder_failed();
      }
      return size == 0 ? true : skip_failed(c);
    }
    if (!checked_size(c, size)) return false;
    if (obj == PointerMap::kAbsent) {
      if (old != 0) repair(Repair::kUnknownRealloc, c.line);
      const uint32_t fresh = bind(p, ptr, c.line);
      return fresh != kNoObject && (builder_.realloc_from_null(t, fresh, size) || builder_failed());
    }
    if (ptr != old) {
      p.blocks.erase(old);
      if (!end_if_live(p.blocks, t, ptr, c.line)) return false;
      p.blocks.put(ptr, obj);
    }
    return builder_.realloc(t, obj, size) || builder_failed();
  }

  bool skip_failed(const Call& c) { return repair(Repair::kFailedAllocation, c.line); }

  std::unordered_map<uint64_t, Process> processes_;
  uint64_t calls_ = 0;
};

}  // namespace

bool import_valgrind(const std::string& path, Trace* trace, ImportStats* stats,
                     std::string* error) {
  *stats = ImportStats{};
  std::string text, member;
  if (!load_input(path, /*allow_zip=*/false, &text, &member, error)) return false;
  ValgrindImporter importer(path, stats, error);
  if (!importer.run(text)) return false;
  TraceBuilder& b = importer.builder();
  b.set_metadata_json(
      "{\"source\":\"valgrind --trace-malloc=yes\",\"importer\":\"valgrind\","
      "\"file\":" +
      json_string(base_name(path)) + ",\"lines\":" + std::to_string(stats->lines) +
      ",\"repairs\":" + repairs_json(*stats) + "}");
  *trace = b.finish();
  return true;
}

}  // namespace allocmark
