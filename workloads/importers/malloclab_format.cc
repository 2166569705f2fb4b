// CS:APP malloc-lab `.rep` import (format: the lab's traces/README and mdriver.c read_trace).
// Layer: workloads. Cost: one pass, one hash lookup per line.
#include "workloads/importers/malloclab_format.h"

#include <string_view>
#include <unordered_map>
#include <vector>

#include "workloads/importers/text_input.h"
#include "workloads/trace_builder.h"

namespace allocmark {
namespace {

class MallocLabImporter : public LineImporter {
 public:
  MallocLabImporter(const std::string& path, ImportStats* stats, std::string* error)
      : LineImporter(path, stats, error), thread_(builder_.thread(0)) {}

  bool run(std::string_view text) {
    const bool read = each_line(text, [&](std::string_view, Fields& f) {
      if (!in_body_) {
        const std::string_view first = f.rest();
        if (first[0] >= '0' && first[0] <= '9') {  // mdriver fscanf()s the header: any layout
          for (std::string_view s = f.next(); !s.empty(); s = f.next()) {
            uint64_t v = 0;
            if (!parse_dec(s, &v) || header_.size() == 4)
              return fail_expected(
                  header_.size() == 4 ? "a request line (a, r or f)" : "a header number (decimal)",
                  s);
            header_.push_back(v);
          }
          return true;
        }
        if (!begin_body(first)) return false;
      }
      return op_line(f);
    });
    if (!read) return false;
    if (!in_body_ && !begin_body("")) return false;
    if (ops_ != num_ops_)
      return fail("header says " + std::to_string(num_ops_) + " requests, the file has " +
                  std::to_string(ops_) + " (truncated?)");
    return true;
  }

  TraceBuilder& builder() { return builder_; }
  uint64_t weight() const { return weight_; }

 private:
  bool begin_body(std::string_view first) {
    if (header_.size() == 4) {
      num_ids_ = header_[1];
      num_ops_ = header_[2];
      weight_ = header_[3];
    } else if (header_.size() == 3) {
      num_ids_ = header_[0];
      num_ops_ = header_[1];
      weight_ = header_[2];
    } else {
      return fail_expected(header_.empty() ? "a header of 3 or 4 numbers (ids, ops, ...)"
                                           : "3 or 4 header numbers, then request lines",
                           first);
    }
    in_body_ = true;
    return true;
  }

  bool id(Fields& f, uint64_t* v) {
    std::string_view s = f.next();
    if (!parse_dec(s, v)) return fail_expected("a request id (decimal)", s);
    if (*v >= num_ids_)
      return fail_expected("an id below the header's id count " + std::to_string(num_ids_), s);
    return true;
  }
  bool size(Fields& f, uint64_t* v) {
    std::string_view s = f.next();
    if (!parse_dec(s, v)) return fail_expected("a size (decimal)", s);
    if (*v > kMaxImportSize) return fail_expected("a size of at most 2^47", s);
    return true;
  }
  bool end_of_line(Fields& f) { return f.at_end() || fail_expected("end of line", f.rest()); }

  uint32_t live(uint64_t id) const {
    auto it = live_.find(id);
    return it == live_.end() ? kNoObject : it->second;
  }

  bool op_line(Fields& f) {
    const std::string_view op = f.next();
    ++ops_;
    if (ops_ > num_ops_) return fail("more requests than the header's " + std::to_string(num_ops_));
    uint64_t i = 0, n = 0;
    if (op == "a") {
      if (!id(f, &i) || !size(f, &n) || !end_of_line(f)) return false;
      if (live(i) != kNoObject)
        return fail("'a " + std::to_string(i) + "' while id " + std::to_string(i) +
                    " is still allocated");
      const uint32_t obj = builder_.new_object();
      live_[i] = obj;
      return builder_.malloc(thread_, obj, n) || builder_failed();
    }
    if (op == "f") {
      const std::string_view s = f.rest();
      if (Fields(s).next() == "-1") {  // free(NULL) in some generated traces
        f.next();
        if (!end_of_line(f)) return false;
        return repair(Repair::kNullFree);
      }
      if (!id(f, &i) || !end_of_line(f)) return false;
      const uint32_t obj = live(i);
      if (obj == kNoObject)
        return fail("'f " + std::to_string(i) + "' of an id that is not allocated (double free?)");
      live_.erase(i);
      return builder_.free(thread_, obj) || builder_failed();
    }
    if (op == "r") {
      if (!id(f, &i) || !size(f, &n) || !end_of_line(f)) return false;
      const uint32_t obj = live(i);
      if (obj == kNoObject) {  // realloc(NULL, n)
        const uint32_t fresh = builder_.new_object();
        live_[i] = fresh;
        return builder_.realloc_from_null(thread_, fresh, n) || builder_failed();
      }
      if (n == 0) {  // the lab defines mm_realloc(p, 0) as mm_free(p)
        live_.erase(i);
        return builder_.free(thread_, obj) || builder_failed();
      }
      return builder_.realloc(thread_, obj, n) || builder_failed();
    }
    return fail_expected("a request (a, r or f)", op);
  }

  uint32_t thread_;
  std::vector<uint64_t> header_;
  bool in_body_ = false;
  uint64_t num_ids_ = 0, num_ops_ = 0, weight_ = 0, ops_ = 0;
  std::unordered_map<uint64_t, uint32_t> live_;
};

}  // namespace

bool import_malloclab(const std::string& path, Trace* trace, ImportStats* stats,
                      std::string* error) {
  *stats = ImportStats{};
  std::string text, member;
  if (!load_input(path, /*allow_zip=*/false, &text, &member, error)) return false;
  MallocLabImporter importer(path, stats, error);
  if (!importer.run(text)) return false;
  TraceBuilder& b = importer.builder();
  b.set_metadata_json(
      "{\"source\":\"CS:APP malloc lab\",\"importer\":\"malloclab\",\"file\":" +
      json_string(base_name(path)) + ",\"weight\":" + std::to_string(importer.weight()) +
      ",\"lines\":" + std::to_string(stats->lines) + ",\"repairs\":" + repairs_json(*stats) + "}");
  *trace = b.finish();
  return true;
}

}  // namespace allocmark
