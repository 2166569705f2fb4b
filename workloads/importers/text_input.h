// Shared plumbing of the text importers: whole-file loading (plain or a one-member .zip), a line
// cursor, overflow-checked number parsing and the one-line error format. Layer: workloads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "workloads/importer.h"
#include "workloads/importers/pointer_map.h"
#include "workloads/trace_builder.h"

namespace allocmark {

// Largest size an importer accepts: larger than any address space we replay on (check_trace
// refuses the same), so a corrupt number is refused here instead of reaching an allocator.
inline constexpr uint64_t kMaxImportSize = 1ull << 47;
// Largest alignment: the trace format stores its exponent and reads at most 40.
inline constexpr uint64_t kMaxImportAlign = 1ull << 40;

// Reads `path` whole into *data. With `allow_zip`, a file starting with a zip local header is
// unpacked (it must hold exactly one file); *member gets that member's name ("" otherwise).
// Returns false with one line in *error ("PATH: why").
bool load_input(const std::string& path, bool allow_zip, std::string* data, std::string* member,
                std::string* error);

// Yields the lines of a text one at a time without copying; "\n" and "\r\n" both end a line.
// Cost: one memchr per line.
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : rest_(text) {}
  bool next(std::string_view* line);
  uint64_t line_number() const noexcept { return line_; }  // of the last line returned

 private:
  std::string_view rest_;
  uint64_t line_ = 0;
};

// Splits one line into whitespace-separated fields (space and tab).
class Fields {
 public:
  explicit Fields(std::string_view line) : rest_(line) {}
  // The next field, or an empty view at the end of the line.
  std::string_view next();
  bool at_end();
  std::string_view rest() const noexcept { return rest_; }

 private:
  std::string_view rest_;
};

// Whole-field parsers; false on anything but digits or on overflow of 64 bits.
bool parse_dec(std::string_view s, uint64_t* value);
bool parse_signed_dec(std::string_view s, int64_t* value);
bool parse_hex(std::string_view s, uint64_t* value);  // "0x" or "0X" prefix required

// "got 'TEXT'" for an error message: at most 40 characters, non-printable bytes as \xNN, and
// "got end of line" for an empty field.
std::string got(std::string_view text);
// `text` with bytes outside printable ASCII (and backslash) as \xNN: safe inside a one-line
// message whatever a file holds.
std::string printable(std::string_view text);
// "PATH:LINE: WHAT" (the one-line error every importer returns).
std::string line_error(const std::string& path, uint64_t line, std::string_view what);
// "PATH:LINE: expected EXPECTED, got 'TEXT'".
std::string expected_error(const std::string& path, uint64_t line, std::string_view expected,
                           std::string_view text);
// The last path component, for messages and metadata.
std::string base_name(const std::string& path);
// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

// What every line-oriented importer holds: where it is (for the one-line errors), its counters
// and the builder it feeds. Importers derive from it and set line_ as they go; every repair goes
// through repair() so that each is counted, warned about and kept in the metadata the same way.
class LineImporter {
 protected:
  LineImporter(const std::string& path, ImportStats* stats, std::string* error)
      : path_(path), stats_(stats), error_(error) {
    stats_->source = path;
  }

  bool fail(std::string_view what) {
    *error_ = line_error(path_, line_, what);
    return false;
  }
  bool fail_expected(std::string_view expected, std::string_view text) {
    *error_ = expected_error(path_, line_, expected, text);
    return false;
  }
  bool builder_failed() { return fail(builder_.error()); }
  // The line loop of the importers: sets line_ to each line's number, counts a blank line in
  // skipped_lines, hands any other to on_line(line, fields) (`fields`: the line past its leading
  // blanks) and stops at the first false. Sets stats_->lines when every line was taken.
  template <typename OnLine>
  bool each_line(std::string_view text, OnLine&& on_line) {
    LineCursor lines(text);
    std::string_view l;
    while (lines.next(&l)) {
      line_ = lines.line_number();
      Fields f(l);
      if (f.at_end()) {
        ++stats_->skipped_lines;
        continue;
      }
      if (!on_line(l, f)) return false;
    }
    stats_->lines = lines.line_number();
    return true;
  }
  // Counts a repair made on `line` (default: the current one). Always true, to chain.
  bool repair(Repair kind, uint64_t line) {
    stats_->repair(kind, line);
    return true;
  }
  bool repair(Repair kind) { return repair(kind, line_); }
  // The object a recorded free releases, or kNoObject for the two quirks real recordings have
  // (free(NULL), a pointer the recording never saw allocated), counted as repairs.
  uint32_t take_block(PointerMap& blocks, uint64_t ptr) {
    if (ptr == 0) {
      repair(Repair::kNullFree);
      return kNoObject;
    }
    const uint32_t obj = blocks.erase(ptr);
    if (obj == PointerMap::kAbsent) {
      repair(Repair::kUnknownFree);
      return kNoObject;
    }
    return obj;
  }
  // A new object for an allocation that returned `ptr` on `line`. A pointer that is still live
  // means the recording lost that block's free (e.g. made by another thread while the log was
  // written): the old block is freed first, on `thread`. kNoObject with *error_ set if the
  // builder refuses that free.
  uint32_t bind(PointerMap& blocks, uint32_t thread, uint64_t ptr, uint64_t line) {
    if (!end_if_live(blocks, thread, ptr, line)) return kNoObject;
    const uint32_t obj = builder_.new_object();
    blocks.put(ptr, obj);
    return obj;
  }
  // A block is about to start at `ptr` (an allocation, or a realloc moving there): frees the
  // block the map still holds there, as a repair. False with *error_ set if the builder refuses.
  bool end_if_live(PointerMap& blocks, uint32_t thread, uint64_t ptr, uint64_t line) {
    const uint32_t old = blocks.erase(ptr);
    if (old == PointerMap::kAbsent) return true;
    repair(Repair::kLivePointerReused, line);
    return builder_.free(thread, old) || builder_failed();
  }

  const std::string& path_;
  ImportStats* stats_;
  std::string* error_;
  TraceBuilder builder_;
  uint64_t line_ = 0;
};

}  // namespace allocmark
