// glibc mtrace() log import. Line forms from glibc's malloc/mtrace-impl.c (2.34+, printed by
// libc_malloc_debug.so): tr_where's "@ CALLER " prefix, then the record. Layer: workloads.
#include "workloads/importers/mtrace_format.h"

#include <string_view>

#include "workloads/importers/pointer_map.h"
#include "workloads/importers/text_input.h"
#include "workloads/trace_builder.h"

namespace allocmark {
namespace {

constexpr std::string_view kRecords = "a record (+, -, <, >, !, =)";

class MtraceImporter : public LineImporter {
 public:
  MtraceImporter(const std::string& path, ImportStats* stats, std::string* error)
      : LineImporter(path, stats, error), thread_(builder_.thread(0)) {}

  bool run(std::string_view text) {
    if (!each_line(text, [&](std::string_view l, Fields&) { return record(l); })) return false;
    if (pending_) {
      line_ = pending_line_;
      return fail_expected("'> NEWPTR SIZE' after this '<' (truncated?)", "");
    }
    if (!started_) return fail_expected("'= Start' (an mtrace log)", "");
    return true;
  }

  TraceBuilder& builder() { return builder_; }

 private:
  // glibc prints a null pointer as "(nil)".
  bool pointer(Fields& f, uint64_t* v) {
    std::string_view s = f.next();
    if (s == "(nil)") {
      *v = 0;
      return true;
    }
    return parse_hex(s, v) || fail_expected("a pointer (0x... or (nil))", s);
  }
  bool size(Fields& f, uint64_t* v) {
    std::string_view s = f.next();
    return parse_hex(s, v) || fail_expected("a size (hex with 0x)", s);
  }
  bool checked_size(std::string_view text, uint64_t v) {
    return v <= kMaxImportSize || fail_expected("a size of at most 2^47", text);
  }
  bool end_of_line(Fields& f) { return f.at_end() || fail_expected("end of line", f.rest()); }

  bool record(std::string_view l) {
    Fields f(l);
    f.at_end();
    std::string_view rest = f.rest();
    if (rest.starts_with("= ")) {
      const std::string_view what = Fields(rest.substr(2)).next();
      if (what == "Start") {
        started_ = true;
      } else if (what != "End") {
        return fail_expected("'= Start' or '= End'", rest);
      }
      return true;
    }
    if (!started_) return fail_expected("'= Start' (an mtrace log)", rest);
    if (rest.starts_with("@ ")) {
      // Caller: "./prog:[0x11de]" or "/lib/libc.so.6:(fn+0x1c)[0x7f...]"; a path may hold
      // spaces, so the caller ends at the first "] ".
      const size_t end = rest.find("] ");
      if (end == std::string_view::npos)
        return fail_expected("a caller '@ WHERE[0xADDR] ' before the record", rest);
      rest.remove_prefix(end + 2);
    }
    Fields g(rest);
    const std::string_view op = g.next();
    if (pending_ && op != ">") return fail_expected("'> NEWPTR SIZE' after '<'", op);
    uint64_t ptr = 0, n = 0;
    if (op == "+") {
      if (!pointer(g, &ptr)) return false;
      const std::string_view size_text = g.rest();
      if (!size(g, &n) || !end_of_line(g)) return false;
      if (ptr == 0) return skip_failed();
      if (!checked_size(Fields(size_text).next(), n)) return false;
      const uint32_t obj = bind(ptr);
      return obj != kNoObject && (builder_.malloc(thread_, obj, n) || builder_failed());
    }
    if (op == "-") {
      if (!pointer(g, &ptr) || !end_of_line(g)) return false;
      const uint32_t obj = take_block(blocks_, ptr);
      return obj == kNoObject || builder_.free(thread_, obj) || builder_failed();
    }
    if (op == "<") {
      if (!pointer(g, &ptr) || !end_of_line(g)) return false;
      if (ptr == 0) return fail_expected("a non-null pointer after '<'", "(nil)");
      pending_ = true;
      pending_old_ = ptr;
      pending_line_ = line_;
      return true;
    }
    if (op == ">") {
      if (!pending_) return fail_expected("'<' before '>'", op);
      pending_ = false;
      if (!pointer(g, &ptr)) return false;
      const std::string_view size_text = g.rest();
      if (!size(g, &n) || !end_of_line(g)) return false;
      if (!checked_size(Fields(size_text).next(), n)) return false;
      if (ptr == 0) return fail_expected("a non-null pointer after '>'", "(nil)");
      const uint32_t obj = blocks_.erase(pending_old_);
      if (obj == PointerMap::kAbsent) {  // allocated before mtrace(): realloc of the unknown
        repair(Repair::kUnknownRealloc);
        const uint32_t fresh = bind(ptr);
        return fresh != kNoObject &&
               (builder_.realloc_from_null(thread_, fresh, n) || builder_failed());
      }
      if (!end_if_live(blocks_, thread_, ptr, line_)) return false;
      blocks_.put(ptr, obj);
      return builder_.realloc(thread_, obj, n) || builder_failed();
    }
    if (op == "!") {  // realloc(OLD, SIZE) failed; OLD stays live
      if (!pointer(g, &ptr) || !size(g, &n) || !end_of_line(g)) return false;
      return skip_failed();
    }
    return fail_expected(kRecords, op);
  }

  bool skip_failed() { return repair(Repair::kFailedAllocation); }

  // A new block at ptr (see LineImporter::bind for a pointer that is still live).
  uint32_t bind(uint64_t ptr) { return LineImporter::bind(blocks_, thread_, ptr, line_); }

  uint32_t thread_;
  PointerMap blocks_;
  bool started_ = false;
  bool pending_ = false;
  uint64_t pending_old_ = 0;
  uint64_t pending_line_ = 0;
};

}  // namespace

bool import_mtrace(const std::string& path, Trace* trace, ImportStats* stats, std::string* error) {
  *stats = ImportStats{};
  std::string text, member;
  if (!load_input(path, /*allow_zip=*/false, &text, &member, error)) return false;
  MtraceImporter importer(path, stats, error);
  if (!importer.run(text)) return false;
  TraceBuilder& b = importer.builder();
  b.set_metadata_json("{\"source\":\"glibc mtrace\",\"importer\":\"mtrace\",\"file\":" +
                      json_string(base_name(path)) + ",\"lines\":" + std::to_string(stats->lines) +
                      ",\"repairs\":" + repairs_json(*stats) + "}");
  *trace = b.finish();
  return true;
}

}  // namespace allocmark
