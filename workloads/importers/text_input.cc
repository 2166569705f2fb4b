// Shared plumbing of the text importers: loading, lines, numbers, error lines. Layer: workloads.
#include "workloads/importers/text_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "workloads/importers/zip_reader.h"

namespace allocmark {

bool load_input(const std::string& path, bool allow_zip, std::string* data, std::string* member,
                std::string* error) {
  member->clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *error = path + ": not a regular file";
    return false;
  }
  data->clear();
  data->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data->size()) {
    const ssize_t got_bytes = ::read(fd, data->data() + done, data->size() - done);
    if (got_bytes < 0 && errno == EINTR) continue;
    if (got_bytes <= 0) break;
    done += static_cast<size_t>(got_bytes);
  }
  ::close(fd);
  data->resize(done);  // a file that shrank while we read it: take what was there
  if (allow_zip && looks_like_zip(*data)) {
    std::string text, why;
    if (!unzip_single(*data, &text, member, &why)) {
      *error = path + ": " + why;
      return false;
    }
    *data = std::move(text);
  }
  return true;
}

bool LineCursor::next(std::string_view* line) {
  if (rest_.empty()) return false;
  ++line_;
  const void* nl = std::memchr(rest_.data(), '\n', rest_.size());
  size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - rest_.data()) : rest_.size();
  *line = rest_.substr(0, len);
  rest_.remove_prefix(nl ? len + 1 : len);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view Fields::next() {
  size_t i = 0;
  while (i < rest_.size() && is_space(rest_[i])) ++i;
  size_t j = i;
  while (j < rest_.size() && !is_space(rest_[j])) ++j;
  std::string_view field = rest_.substr(i, j - i);
  rest_.remove_prefix(j);
  return field;
}

bool Fields::at_end() {
  size_t i = 0;
  while (i < rest_.size() && is_space(rest_[i])) ++i;
  rest_.remove_prefix(i);
  return rest_.empty();
}

bool parse_dec(std::string_view s, uint64_t* value) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;  // from_chars takes no '+'; no '-'
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value, 10);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_signed_dec(std::string_view s, int64_t* value) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value, 10);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_hex(std::string_view s, uint64_t* value) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  s.remove_prefix(2);
  if (s[0] == '-' || s[0] == '+') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value, 16);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string got(std::string_view text) {
  if (text.empty()) return "got end of line";
  constexpr size_t kShown = 40;
  return "got '" + printable(text.substr(0, kShown)) + (text.size() > kShown ? "...'" : "'");
}

std::string line_error(const std::string& path, uint64_t line, std::string_view what) {
  return path + ":" + std::to_string(line) + ": " + std::string(what);
}

std::string expected_error(const std::string& path, uint64_t line, std::string_view expected,
                           std::string_view text) {
  return line_error(path, line, "expected " + std::string(expected) + ", " + got(text));
}

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace allocmark
