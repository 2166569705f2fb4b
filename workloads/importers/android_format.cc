// Android memory_replay import/export. The grammar is in AOSP memory_replay/traces/README and in
// workloads/testdata/android/SOURCE.md. Layer: workloads. Cost: one pass, O(1) per line.
#include "workloads/importers/android_format.h"

#include <bit>
#include <cinttypes>
#include <string_view>
#include <unordered_map>

#include "workloads/importers/pointer_map.h"
#include "workloads/importers/text_input.h"
#include "workloads/trace_builder.h"
#include "workloads/trace_order.h"

namespace allocmark {
namespace {

constexpr std::string_view kOps =
    "an operation (malloc, calloc, memalign, realloc, free, thread_done)";

// OS thread ids are reused: after `thread_done` the same tid starts a new trace thread.
class ThreadMap {
 public:
  explicit ThreadMap(TraceBuilder& b) : builder_(b) {}
  uint32_t get(uint32_t tid) {
    if (tid == last_tid_) return last_thread_;  // runs of one thread are the common case
    auto [it, fresh] = running_.try_emplace(tid, 0);
    if (fresh) it->second = builder_.thread(tid | (uint64_t{generation_[tid]} << 32));
    last_tid_ = tid;
    return last_thread_ = it->second;
  }
  void exited(uint32_t tid) {
    running_.erase(tid);
    ++generation_[tid];
    last_tid_ = UINT64_MAX;
  }

 private:
  TraceBuilder& builder_;
  std::unordered_map<uint32_t, uint32_t> running_;
  std::unordered_map<uint32_t, uint32_t> generation_;
  uint64_t last_tid_ = UINT64_MAX;
  uint32_t last_thread_ = 0;
};

class AndroidImporter : public LineImporter {
 public:
  AndroidImporter(const std::string& path, ImportStats* stats, std::string* error)
      : LineImporter(path, stats, error), threads_(builder_) {}

  bool run(std::string_view text) {
    uint64_t events = 0;
    const bool read = each_line(text, [&](std::string_view l, Fields&) {
      ++events;
      return parse_line(l);
    });
    if (!read) return false;
    if (events == 0) return fail_expected("a line 'TID: op PTR ...'", "");  // empty file
    return true;
  }

  TraceBuilder& builder() { return builder_; }

 private:
  bool pointer(Fields& f, uint64_t* v) {
    std::string_view s = f.next();
    return parse_hex(s, v) || fail_expected("a pointer (hex with 0x)", s);
  }
  bool number(Fields& f, std::string_view what, uint64_t* v) {
    std::string_view s = f.next();
    return parse_dec(s, v) || fail_expected(what, s);
  }
  bool size(Fields& f, uint64_t* v) {
    std::string_view s = f.next();
    if (!parse_dec(s, v)) return fail_expected("a size (decimal)", s);
    if (*v > kMaxImportSize) return fail_expected("a size of at most 2^47", s);
    return true;
  }
  // After the operands: nothing, or the two timestamps of newer recordings.
  bool end_of_line(Fields& f) {
    if (f.at_end()) return true;
    uint64_t start = 0, end = 0;
    std::string_view a = f.next();
    if (!parse_dec(a, &start)) return fail_expected("end of line or two timestamps (ns)", a);
    std::string_view b = f.next();
    if (!parse_dec(b, &end)) return fail_expected("an end timestamp (ns)", b);
    if (!f.at_end()) return fail_expected("end of line", f.rest());
    return true;
  }

  // A new block at `ptr` (see LineImporter::bind for a pointer that is still live).
  bool bind(uint32_t thread, uint64_t ptr, uint32_t* obj) {
    *obj = LineImporter::bind(blocks_, thread, ptr, line_);
    return *obj != kNoObject;
  }

  bool parse_line(std::string_view l) {
    Fields f(l);
    std::string_view tid_field = f.next();
    std::string_view op;
    const size_t colon = tid_field.find(':');
    if (colon == std::string_view::npos) return fail_expected("'TID:'", tid_field);
    op = tid_field.substr(colon + 1);  // "300:realloc" appears in the format's own README
    tid_field = tid_field.substr(0, colon);
    uint64_t tid = 0;
    if (!parse_dec(tid_field, &tid) || tid > UINT32_MAX)
      return fail_expected("a thread id (decimal, below 2^32)", tid_field);
    if (op.empty()) op = f.next();
    const uint32_t thread = threads_.get(static_cast<uint32_t>(tid));
    uint64_t ptr = 0;
    if (op == "malloc") {
      uint64_t n = 0;
      if (!pointer(f, &ptr) || !size(f, &n) || !end_of_line(f)) return false;
      if (ptr == 0) return failed_alloc();
      uint32_t obj;
      return bind(thread, ptr, &obj) && (builder_.malloc(thread, obj, n) || builder_failed());
    }
    if (op == "free") {
      if (!pointer(f, &ptr) || !end_of_line(f)) return false;
      const uint32_t obj = take_block(blocks_, ptr);
      return obj == kNoObject || builder_.free(thread, obj) || builder_failed();
    }
    if (op == "realloc") {
      uint64_t old_ptr = 0, n = 0;
      if (!pointer(f, &ptr) || !pointer(f, &old_ptr) || !size(f, &n) || !end_of_line(f))
        return false;
      return realloc(thread, ptr, old_ptr, n);
    }
    if (op == "calloc") {
      uint64_t nmemb = 0, elem = 0, total = 0;
      if (!pointer(f, &ptr) || !number(f, "a member count (decimal)", &nmemb) || !size(f, &elem) ||
          !end_of_line(f))
        return false;
      if (__builtin_mul_overflow(nmemb, elem, &total) || total > kMaxImportSize ||
          nmemb > UINT32_MAX)
        return fail("calloc(" + std::to_string(nmemb) + ", " + std::to_string(elem) +
                    ") is larger than 2^47 bytes or 2^32 members");
      if (ptr == 0) return failed_alloc();
      uint32_t obj;
      return bind(thread, ptr, &obj) &&
             (builder_.calloc(thread, obj, nmemb, elem) || builder_failed());
    }
    if (op == "memalign") {
      uint64_t align = 0, n = 0;
      if (!pointer(f, &ptr)) return false;
      std::string_view a = f.next();
      if (!parse_dec(a, &align) || !std::has_single_bit(align) || align > kMaxImportAlign)
        return fail_expected("a power-of-two alignment up to 2^40", a);
      if (!size(f, &n) || !end_of_line(f)) return false;
      if (ptr == 0) return failed_alloc();
      uint32_t obj;
      return bind(thread, ptr, &obj) &&
             (builder_.aligned_alloc(thread, obj, align, n) || builder_failed());
    }
    if (op == "thread_done") {
      if (!pointer(f, &ptr) || !end_of_line(f)) return false;
      if (!builder_.thread_exit(thread)) return builder_failed();
      threads_.exited(static_cast<uint32_t>(tid));
      return true;
    }
    return fail_expected(kOps, op);
  }

  bool failed_alloc() { return repair(Repair::kFailedAllocation); }

  // realloc(old_ptr, n) returned ptr.
  bool realloc(uint32_t thread, uint64_t ptr, uint64_t old_ptr, uint64_t n) {
    uint32_t obj = old_ptr == 0 ? PointerMap::kAbsent : blocks_.find(old_ptr);
    if (obj == PointerMap::kAbsent) {  // realloc(NULL, n) is malloc(n)
      if (ptr == 0) {
        // realloc(unknown, 0) freed a block we never saw; otherwise the call failed.
        if (old_ptr != 0 && n == 0) return repair(Repair::kUnknownFree);
        return failed_alloc();
      }
      if (old_ptr != 0) repair(Repair::kUnknownRealloc);
      uint32_t fresh;
      return bind(thread, ptr, &fresh) &&
             (builder_.realloc_from_null(thread, fresh, n) || builder_failed());
    }
    if (ptr == 0) {
      if (n == 0) {  // realloc(p, 0) freed p and returned NULL
        blocks_.erase(old_ptr);
        return builder_.free(thread, obj) || builder_failed();
      }
      return failed_alloc();  // a failed realloc leaves the old block live
    }
    if (ptr != old_ptr) {
      blocks_.erase(old_ptr);
      if (!end_if_live(blocks_, thread, ptr, line_)) return false;
      blocks_.put(ptr, obj);
    }
    return builder_.realloc(thread, obj, n) || builder_failed();
  }

  ThreadMap threads_;
  PointerMap blocks_;
};

}  // namespace

bool import_android(const std::string& path, Trace* trace, ImportStats* stats, std::string* error) {
  *stats = ImportStats{};
  std::string text, member;
  if (!load_input(path, /*allow_zip=*/true, &text, &member, error)) return false;
  // Errors name the member too when the text came out of a zip: "a.zip:systemui.txt:12: ...".
  const std::string shown = member.empty() ? path : path + ":" + printable(member);
  AndroidImporter importer(shown, stats, error);
  if (!importer.run(text)) return false;
  TraceBuilder& b = importer.builder();
  b.set_metadata_json(
      "{\"source\":\"android memory_replay\",\"importer\":\"android\",\"file\":" +
      json_string(base_name(path)) + (member.empty() ? "" : ",\"member\":" + json_string(member)) +
      ",\"lines\":" + std::to_string(stats->lines) + ",\"repairs\":" + repairs_json(*stats) + "}");
  *trace = b.finish();
  return true;
}

bool export_android(const Trace& trace, std::FILE* out, std::string* error) {
  char buf[128];
  bool ok = true;
  auto ptr = [](uint32_t obj) { return (static_cast<uint64_t>(obj) + 1) << 4; };
  const bool walked = walk_in_order(
      trace,
      [&](uint32_t t, uint32_t i) {
        const Event& e = trace.threads[t].events[i];
        const unsigned tid = t + 1;
        int n = 0;
        if (e.op != Op::kPhaseEnd && e.op != Op::kThreadExit && e.obj >= trace.object_count) {
          *error = "thread " + std::to_string(t) + " event " + std::to_string(i) +
                   ": object id out of range";
          return ok = false;
        }
        switch (e.op) {
          case Op::kMalloc:
            if (e.align_log2 != 0) {
              n = std::snprintf(buf, sizeof buf,
                                "%u: memalign 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", tid,
                                ptr(e.obj), uint64_t{1} << (e.align_log2 & 63), e.size);
            } else {
              n = std::snprintf(buf, sizeof buf, "%u: malloc 0x%" PRIx64 " %" PRIu64 "\n", tid,
                                ptr(e.obj), e.size);
            }
            break;
          case Op::kCalloc: {
            const uint64_t nmemb = e.aux == 0 ? (e.size == 0 ? 0 : 1) : e.aux;
            const uint64_t elem = nmemb == 0 ? 0 : e.size / nmemb;
            n = std::snprintf(buf, sizeof buf, "%u: calloc 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
                              tid, ptr(e.obj), nmemb, elem);
            break;
          }
          case Op::kAlignedAlloc:
            n = std::snprintf(buf, sizeof buf,
                              "%u: memalign 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", tid,
                              ptr(e.obj), uint64_t{1} << (e.align_log2 & 63), e.size);
            break;
          case Op::kRealloc:
            n = std::snprintf(
                buf, sizeof buf, "%u: realloc 0x%" PRIx64 " 0x%" PRIx64 " %" PRIu64 "\n", tid,
                ptr(e.obj), (e.flags & kFlagFromNull) ? uint64_t{0} : ptr(e.obj), e.size);
            break;
          case Op::kFree:
            n = std::snprintf(buf, sizeof buf, "%u: free 0x%" PRIx64 "\n", tid, ptr(e.obj));
            break;
          case Op::kThreadExit:
            n = std::snprintf(buf, sizeof buf, "%u: thread_done 0x0\n", tid);
            break;
          case Op::kPhaseEnd:
          case Op::kAccess:
            return true;  // no Android equivalent (see the header)
        }
        if (n > 0 && std::fwrite(buf, 1, static_cast<size_t>(n), out) != static_cast<size_t>(n)) {
          *error = "write error";
          return ok = false;
        }
        return true;
      },
      error);
  return walked && ok;
}

}  // namespace allocmark
