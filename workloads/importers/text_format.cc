// Text form of the trace model: reader and writer. The grammar is in workloads/README.md, "Text
// form". Layer: workloads. Cost: one hash lookup per event (object ids are arbitrary in text).
#include "workloads/importers/text_format.h"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "workloads/importers/text_input.h"
#include "workloads/trace_file.h"
#include "workloads/trace_order.h"

namespace allocmark {
namespace {

constexpr std::string_view kMagic = "allocmark-text";
constexpr uint64_t kVersion = 1;
constexpr uint64_t kMaxThreads = 1u << 20;  // bounds what a header may make us allocate

constexpr std::string_view kOpNames =
    "an operation (malloc, calloc, realloc, free, aligned_alloc, phase_end, access, thread_exit)";

struct FlagName {
  std::string_view name;
  uint16_t bit;
};
constexpr FlagName kFlagNames[] = {{"from_null", kFlagFromNull},
                                   {"sized", kFlagSizedFree},
                                   {"phase", kFlagPhaseFree},
                                   {"cxx", kFlagCxx}};

bool parse_op(std::string_view s, Op* op) {
  for (int i = 0; i < kOpCount; ++i) {
    if (s == op_name(static_cast<Op>(i))) {
      *op = static_cast<Op>(i);
      return true;
    }
  }
  return false;
}

bool has_object(Op op) { return op != Op::kPhaseEnd && op != Op::kThreadExit; }
bool allocates(Op op) { return op == Op::kMalloc || op == Op::kCalloc || op == Op::kAlignedAlloc; }

// Metadata is one line: backslash, control bytes and newlines are escaped.
std::string escape_metadata(std::string_view s) {
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unescape_metadata(std::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      *out += s[i];
      continue;
    }
    if (++i == s.size()) return false;
    if (s[i] == '\\') {
      *out += '\\';
    } else if (s[i] == 'n') {
      *out += '\n';
    } else if (s[i] == 'x' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
               hex_digit(s[i + 2]) >= 0) {
      *out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

class TextImporter {
 public:
  TextImporter(const std::string& path, ImportStats* stats, std::string* error)
      : path_(path), stats_(stats), error_(error) {}

  bool run(std::string_view text, Trace* trace) {
    LineCursor lines(text);
    std::string_view l;
    bool have_magic = false;
    while (lines.next(&l)) {
      line_ = lines.line_number();
      Fields f(l);
      if (f.at_end() || f.rest()[0] == '#') {  // blank or comment
        ++stats_->skipped_lines;
        continue;
      }
      if (!have_magic) {
        std::string_view magic = f.next(), version = f.next();
        uint64_t v = 0;
        if (magic != kMagic) return fail_expected("the first line 'allocmark-text 1'", l);
        if (!parse_dec(version, &v) || v != kVersion || !f.at_end())
          return fail_expected("text form version 1", version);
        have_magic = true;
        continue;
      }
      if (f.rest()[0] == 'T') {
        if (!event(f)) return false;
      } else if (!header(f)) {
        return false;
      }
    }
    stats_->lines = lines.line_number();
    if (!have_magic) return fail_expected("the first line 'allocmark-text 1'", "");
    return finish(trace);
  }

 private:
  struct ObjectState {
    uint64_t size = 0;
    uint32_t last_thread = 0;
    uint32_t last_index = 0;
    uint8_t state = 0;  // 1 live, 2 freed
  };

  bool fail(std::string_view what) {
    *error_ = line_error(path_, line_, what);
    return false;
  }
  bool fail_expected(std::string_view expected, std::string_view text) {
    *error_ = expected_error(path_, line_, expected, text);
    return false;
  }

  bool header(Fields& f) {
    std::string_view key = f.next();
    if (events_ != 0)
      return fail_expected("an event line 'T<thread> op ...' (headers go first)", key);
    if (key == "metadata") {
      std::string_view rest = f.rest();
      if (!rest.empty()) rest.remove_prefix(1);  // the one separating space
      if (!unescape_metadata(rest, &metadata_))
        return fail_expected("metadata escaped with \\\\, \\n, \\xNN", rest);
      have_metadata_ = true;
      return true;
    }
    std::string_view value = f.next();
    if (key == "threads" || key == "objects") {
      uint64_t n = 0;
      const uint64_t limit = key == "threads" ? kMaxThreads : UINT32_MAX;
      if (!parse_dec(value, &n) || n > limit)
        return fail_expected(key == "threads" ? "a thread count up to 2^20" : "an object count",
                             value);
      if (key == "threads") {
        declared_threads_ = n;
        threads_.resize(n);
        exited_.resize(n, 0);
      } else {
        declared_objects_ = n;
        objects_line_ = line_;
      }
    } else if (key == "schedule") {
      if (value != "recorded" && value != "none")
        return fail_expected("'schedule recorded' or 'schedule none'", value);
      keep_schedule_ = value == "recorded";
    } else if (key == "deps") {
      if (value != "auto" && value != "explicit")
        return fail_expected("'deps auto' or 'deps explicit'", value);
      explicit_deps_ = value == "explicit";
    } else {
      return fail_expected(
          "a header (threads, objects, schedule, deps, metadata) or an event 'T<thread> op ...'",
          key);
    }
    if (!f.at_end()) return fail_expected("end of line", f.rest());
    return true;
  }

  // "T3" -> 3.
  bool thread_ref(std::string_view s, uint32_t* t) {
    uint64_t v = 0;
    if (s.size() < 2 || s[0] != 'T' || !parse_dec(s.substr(1), &v) ||
        v >= (declared_threads_ ? *declared_threads_ : kMaxThreads))
      return fail_expected(declared_threads_ ? "a thread 'T<n>' below the declared thread count"
                                             : "a thread 'T<n>' below 2^20",
                           s);
    *t = static_cast<uint32_t>(v);
    return true;
  }

  bool event(Fields& f) {
    uint32_t t = 0;
    if (!thread_ref(f.next(), &t)) return false;
    if (t >= threads_.size()) {
      threads_.resize(t + 1);
      exited_.resize(t + 1, 0);
    }
    std::string_view op_text = f.next();
    Event e{};
    if (!parse_op(op_text, &e.op)) return fail_expected(kOpNames, op_text);
    e.obj = kNoObject;
    if (has_object(e.op) && !object_fields(f, &e)) return false;
    Extras x;
    for (std::string_view s = f.next(); !s.empty(); s = f.next())
      if (!extra_field(s, &e, &x)) return false;
    if (e.op == Op::kAlignedAlloc && !x.have_align)
      return fail_expected("align=<power of two> on aligned_alloc", "");
    if (e.op == Op::kAccess && !x.have_aux) return fail_expected("at=<offset> on access", "");
    if (e.op == Op::kCalloc && e.aux != 0 && e.size % e.aux != 0)
      return fail("calloc size " + std::to_string(e.size) +
                  " is not a multiple of nmemb=" + std::to_string(e.aux));
    if (x.dep_thread != UINT64_MAX && !set_dependency(t, x, &e)) return false;
    return apply(t, e);
  }

  // "#<id>" and, but for free, "<size>": the event's object and its size.
  bool object_fields(Fields& f, Event* e) {
    std::string_view s = f.next();
    uint64_t id = 0;
    if (s.size() < 2 || s[0] != '#' || !parse_dec(s.substr(1), &id) || id >= kNoObject)
      return fail_expected("an object '#<id>'", s);
    if (declared_objects_ && id >= *declared_objects_)
      return fail_expected("an object id below the declared object count", s);
    e->obj = static_cast<uint32_t>(id);
    if (e->op != Op::kFree) {
      s = f.next();
      if (!parse_dec(s, &e->size)) return fail_expected("a size (decimal)", s);
      if (e->size > kMaxImportSize) return fail_expected("a size of at most 2^47", s);
    }
    return true;
  }

  // What the fields after the size said: which were given once, and the dependency.
  struct Extras {
    bool have_aux = false, have_align = false;
    uint64_t dep_thread = UINT64_MAX, dep_index = 0;
  };

  // One field after the size: a flag name or align= / nmemb= / at= / aux= / dep=.
  bool extra_field(std::string_view s, Event* e, Extras* x) {
    const size_t eq = s.find('=');
    if (eq == std::string_view::npos) {
      bool known = false;
      for (const FlagName& flag : kFlagNames) {
        if (s == flag.name) {
          e->flags |= flag.bit;
          known = true;
        }
      }
      if (!known) return fail_expected("a flag (from_null, sized, phase, cxx) or key=value", s);
      return true;
    }
    const std::string_view key = s.substr(0, eq), value = s.substr(eq + 1);
    uint64_t v = 0;
    if (key == "align") {
      if (x->have_align || !parse_dec(value, &v) || !std::has_single_bit(v) || v > kMaxImportAlign)
        return fail_expected("align=<power of two up to 2^40>", s);
      e->align_log2 = static_cast<uint8_t>(std::countr_zero(v));
      x->have_align = true;
    } else if (key == "nmemb" || key == "at" || key == "aux") {
      if (x->have_aux || !parse_dec(value, &v) || v > UINT32_MAX)
        return fail_expected(std::string(key) + "=<number below 2^32>, once", s);
      e->aux = static_cast<uint32_t>(v);
      x->have_aux = true;
    } else if (key == "dep") {
      if (!explicit_deps_)
        return fail_expected("no dep= unless the header says 'deps explicit'", s);
      const size_t colon = value.find(':');
      uint32_t dt = 0;
      if (colon == std::string_view::npos || x->dep_thread != UINT64_MAX ||
          !thread_ref(value.substr(0, colon), &dt) ||
          !parse_dec(value.substr(colon + 1), &x->dep_index))
        return fail_expected("dep=T<thread>:<event index>", s);
      x->dep_thread = dt;
    } else {
      return fail_expected("align=, nmemb=, at=, aux= or dep=", s);
    }
    return true;
  }

  // dep=T<thread>:<index> on an event of thread t: it must name an earlier event elsewhere.
  bool set_dependency(uint32_t t, const Extras& x, Event* e) {
    if (x.dep_thread == t) return fail("dep= names the event's own thread");
    if (x.dep_thread >= threads_.size() || x.dep_index >= threads_[x.dep_thread].events.size())
      return fail("dep=T" + std::to_string(x.dep_thread) + ":" + std::to_string(x.dep_index) +
                  " names an event that has not happened yet");
    e->flags |= kFlagHasDep;
    e->dep_thread = static_cast<uint32_t>(x.dep_thread);
    e->dep_index = static_cast<uint32_t>(x.dep_index);
    return true;
  }

  // Checks the event against the object table and appends it.
  bool apply(uint32_t t, Event e) {
    if (exited_[t]) return fail("event on T" + std::to_string(t) + " after its thread_exit");
    auto& stream = threads_[t].events;
    if (stream.size() >= UINT32_MAX) return fail("too many events on one thread");
    const uint32_t index = static_cast<uint32_t>(stream.size());
    if (has_object(e.op)) {
      ObjectState& o = objects_[e.obj];
      const std::string id = "#" + std::to_string(e.obj);
      const bool fresh = allocates(e.op) || (e.op == Op::kRealloc && (e.flags & kFlagFromNull));
      if (fresh) {
        if (o.state != 0)
          return fail(
              std::string(op_name(e.op)) + " of " + id +
              (o.state == 1 ? " which is already live" : " which was freed (ids are single-use)"));
      } else if (o.state != 1) {
        return fail(std::string(op_name(e.op)) + " of " + id +
                    (o.state == 0 ? " which was never allocated"
                                  : " which is already freed (double free)"));
      }
      if (e.op == Op::kAccess && (e.aux > o.size || e.size > o.size - e.aux))
        return fail("access [" + std::to_string(e.aux) + ", +" + std::to_string(e.size) +
                    ") outside " + id + " of " + std::to_string(o.size) + " bytes");
      if (!explicit_deps_ && o.state != 0 && o.last_thread != t) {  // as TraceBuilder does
        e.flags |= kFlagHasDep;
        e.dep_thread = o.last_thread;
        e.dep_index = o.last_index;
      }
      if (fresh) {
        o.state = 1;
        o.size = e.size;
        max_object_ = std::max<uint64_t>(max_object_, e.obj);
        any_object_ = true;
        max_object_line_ = e.obj == max_object_ ? line_ : max_object_line_;
      } else if (e.op == Op::kRealloc) {
        o.size = e.size;
      } else if (e.op == Op::kFree) {
        e.size = o.size;
        o.state = 2;
      }
      o.last_thread = t;
      o.last_index = index;
    }
    if (e.op == Op::kThreadExit) exited_[t] = 1;
    stream.push_back(e);
    if (!schedule_.empty() && schedule_.back().thread == t) {
      ++schedule_.back().count;
    } else {
      schedule_.push_back({t, 1});
    }
    ++events_;
    return true;
  }

  bool finish(Trace* trace) {
    const uint64_t objects = declared_objects_ ? *declared_objects_
                             : any_object_     ? max_object_ + 1
                                               : 0;
    // As the binary reader: object_count <= event count keeps every table proportional to input.
    if (objects > events_) {
      if (declared_objects_) {
        line_ = objects_line_;
        return fail("'objects " + std::to_string(objects) + "' is more than the " +
                    std::to_string(events_) + " events (ids must be dense)");
      }
      line_ = max_object_line_;
      return fail("object ids reach " + std::to_string(objects - 1) + " but there are only " +
                  std::to_string(events_) + " events (ids must be dense)");
    }
    Trace t;
    t.threads = std::move(threads_);
    // Checked along the line order even for `schedule none` (the lines are a valid order, and a
    // schedule-less check is a round robin that costs threads x rounds); dropped afterwards.
    t.schedule = std::move(schedule_);
    t.object_count = static_cast<uint32_t>(objects);
    t.metadata_json = have_metadata_
                          ? metadata_
                          : "{\"source\":\"text\",\"file\":" + json_string(base_name(path_)) + "}";
    // The line checks above are the ones check_trace makes; this is the safety net.
    TraceSummary summary;
    TraceError te;
    if (!check_trace(t, &summary, &te)) {
      *error_ = path_ + ": " + te.where + ": " + te.reason;
      return false;
    }
    if (!keep_schedule_) t.schedule.clear();
    *trace = std::move(t);
    return true;
  }

  const std::string& path_;
  ImportStats* stats_;
  std::string* error_;
  uint64_t line_ = 0;
  std::optional<uint64_t> declared_threads_, declared_objects_;
  bool keep_schedule_ = true;
  bool explicit_deps_ = false;
  bool have_metadata_ = false;
  std::string metadata_;
  std::vector<ThreadStream> threads_;
  std::vector<uint8_t> exited_;
  MmapVector<ScheduleRun> schedule_;
  std::unordered_map<uint32_t, ObjectState> objects_;
  uint64_t events_ = 0;
  uint64_t max_object_ = 0;
  uint64_t max_object_line_ = 0;
  uint64_t objects_line_ = 0;
  bool any_object_ = false;
};

// Would TraceBuilder have given exactly these dependencies? Then the file can say `deps auto`.
bool deps_are_automatic(const Trace& trace) {
  struct Last {
    uint32_t thread = UINT32_MAX;
    uint32_t index = 0;
  };
  std::vector<Last> last(trace.object_count);
  bool automatic = true;
  std::string ignored;
  walk_in_order(
      trace,
      [&](uint32_t t, uint32_t i) {
        const Event& e = trace.threads[t].events[i];
        bool want = false;
        uint32_t dt = 0, di = 0;
        if (has_object(e.op) && e.obj < last.size()) {
          Last& l = last[e.obj];
          if (l.thread != UINT32_MAX && l.thread != t) {
            want = true;
            dt = l.thread;
            di = l.index;
          }
          l = {t, i};
        }
        const bool has = e.flags & kFlagHasDep;
        if (has != want || (has && (e.dep_thread != dt || e.dep_index != di))) automatic = false;
        return automatic;
      },
      &ignored);
  return automatic;
}

}  // namespace

bool import_text(const std::string& path, Trace* trace, ImportStats* stats, std::string* error) {
  *stats = ImportStats{};
  stats->source = path;  // the text form is exact: it has nothing to repair
  std::string text, member;
  if (!load_input(path, /*allow_zip=*/false, &text, &member, error)) return false;
  return TextImporter(path, stats, error).run(text, trace);
}

bool export_text(const Trace& trace, std::FILE* out, std::string* error) {
  const bool automatic = deps_are_automatic(trace);
  std::string head = std::string(kMagic) + " " + std::to_string(kVersion) + "\n";
  head += "threads " + std::to_string(trace.threads.size()) + "\n";
  head += "objects " + std::to_string(trace.object_count) + "\n";
  head += trace.schedule.empty() ? "schedule none\n" : "schedule recorded\n";
  head += automatic ? "deps auto\n" : "deps explicit\n";
  head += "metadata " + escape_metadata(trace.metadata_json) + "\n";
  if (std::fwrite(head.data(), 1, head.size(), out) != head.size()) {
    *error = "write error";
    return false;
  }
  bool ok = true;
  std::string line;
  const bool walked = walk_in_order(
      trace,
      [&](uint32_t t, uint32_t i) {
        const Event& e = trace.threads[t].events[i];
        line = "T" + std::to_string(t) + " " + op_name(e.op);
        if (static_cast<uint8_t>(e.op) >= kOpCount) {
          *error =
              "thread " + std::to_string(t) + " event " + std::to_string(i) + ": unknown operation";
          return ok = false;
        }
        if (has_object(e.op)) {
          line += " #" + std::to_string(e.obj);
          if (e.op != Op::kFree) line += " " + std::to_string(e.size);
        }
        if (e.align_log2 != 0 || e.op == Op::kAlignedAlloc) {
          if (e.align_log2 >= 64) {
            *error = "thread " + std::to_string(t) + " event " + std::to_string(i) +
                     ": alignment 2^" + std::to_string(e.align_log2) + " out of range";
            return ok = false;
          }
          line += " align=" + std::to_string(uint64_t{1} << e.align_log2);
        }
        if (e.op == Op::kAccess) {
          line += " at=" + std::to_string(e.aux);
        } else if (e.aux != 0) {
          line += (e.op == Op::kCalloc ? " nmemb=" : " aux=") + std::to_string(e.aux);
        }
        if (!automatic && (e.flags & kFlagHasDep))
          line += " dep=T" + std::to_string(e.dep_thread) + ":" + std::to_string(e.dep_index);
        for (const FlagName& flag : kFlagNames)
          if (e.flags & flag.bit) line += " " + std::string(flag.name);
        line += '\n';
        if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
          *error = "write error";
          return ok = false;
        }
        return true;
      },
      error);
  return walked && ok;
}

}  // namespace allocmark
