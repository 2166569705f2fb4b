// LEB128 variable-length integers and zigzag signs for the trace formats (workloads/FORMAT.md).
// Layer: workloads. Decoding is bounds-checked: a truncated or overlong integer is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace allocmark {

inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Raw form for hot encoders: writes at p (at least 10 bytes of room), returns the end.
inline uint8_t* put_varint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

inline uint64_t zigzag(int64_t v) noexcept {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag(uint64_t v) noexcept {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Cursor over a decoded payload. get_* return false at the end of data or on a malformed value;
// `pos` then points at the offending byte for the error message.
struct ByteReader {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;

  [[gnu::always_inline]] bool get_varint(uint64_t* v) noexcept {
    // Fast path, far from the end of the buffer: up to four bytes (28 bits) unrolled without
    // bounds checks; object-id and dependency deltas of multi-threaded traces often take three.
    if (size - pos >= 10) [[likely]] {
      const uint8_t* b = data + pos;
      uint64_t r = b[0];
      if (r < 0x80) {
        *v = r;
        pos += 1;
        return true;
      }
      r = (r & 0x7f) | (uint64_t{b[1]} << 7);
      if (b[1] < 0x80) {
        *v = r;
        pos += 2;
        return true;
      }
      r = (r & 0x3fff) | (uint64_t{b[2]} << 14);
      if (b[2] < 0x80) {
        *v = r;
        pos += 3;
        return true;
      }
      r = (r & 0x1fffff) | (uint64_t{b[3]} << 21);
      if (b[3] < 0x80) {
        *v = r;
        pos += 4;
        return true;
      }
    }
    return get_varint_slow(v);
  }

  [[gnu::noinline]] bool get_varint_slow(uint64_t* v) noexcept {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= size) return false;
      const uint8_t byte = data[pos++];
      if (shift == 63 && byte > 1) return false;  // more than 64 bits
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool get_byte(uint8_t* b) noexcept {
    if (pos >= size) return false;
    *b = data[pos++];
    return true;
  }
};

}  // namespace allocmark
