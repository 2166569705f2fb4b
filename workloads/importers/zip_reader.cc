// Single-member .zip unpacking over zlib raw inflate (the archive layout is PKWARE APPNOTE 6.3:
// end-of-central-directory record, central directory, local headers). Layer: workloads.
#include "workloads/importers/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "workloads/importers/text_input.h"

namespace allocmark {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr size_t kEndBytes = 22;
constexpr size_t kCentralBytes = 46;
constexpr size_t kLocalBytes = 30;
constexpr uint64_t kMaxRatio = 1032;  // deflate cannot compress better than ~1032:1
// The output grows with what inflate actually produces, so a lying header costs at most this.
constexpr size_t kFirstChunk = 1u << 20;

uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

bool fail(std::string* error, std::string why) {
  *error = "zip archive: " + std::move(why);
  return false;
}

struct Member {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint32_t csize = 0;
  uint32_t usize = 0;
  uint32_t local_offset = 0;
};

bool inflate_member(const unsigned char* src, uint32_t csize, uint32_t usize, std::string* out,
                    std::string* error) {
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return fail(error, "zlib inflateInit2 failed");
  out->clear();
  out->resize(std::min<size_t>(usize, kFirstChunk));
  zs.next_in = const_cast<unsigned char*>(src);
  zs.avail_in = csize;
  int rc = Z_OK;
  while (true) {
    if (zs.total_out == out->size()) {
      if (out->size() == usize) break;  // full: anything more is a size mismatch, caught below
      out->resize(std::min<size_t>(usize, out->size() * 2));
    }
    zs.next_out = reinterpret_cast<unsigned char*>(out->data()) + zs.total_out;
    zs.avail_out = static_cast<uInt>(out->size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK) break;  // Z_BUF_ERROR here means truncated input: no progress possible
  }
  const uint64_t produced = zs.total_out;
  // A stream that still has output left once the buffer is full is longer than declared.
  bool longer = false;
  if (rc != Z_STREAM_END && produced == usize) {
    unsigned char probe;
    zs.next_out = &probe;
    zs.avail_out = 1;
    const int more = inflate(&zs, Z_NO_FLUSH);
    longer = zs.avail_out == 0;
    if (more == Z_STREAM_END) rc = Z_STREAM_END;
  }
  inflateEnd(&zs);
  if (longer) return fail(error, "member inflates to more than its declared size");
  if (rc != Z_STREAM_END)
    return fail(error, rc == Z_DATA_ERROR ? "corrupt deflate data" : "truncated deflate data");
  if (produced != usize) return fail(error, "member inflates to less than its declared size");
  return true;
}

// Where the end record says the central directory is, and how many entries it holds.
struct Directory {
  uint16_t entries = 0;
  uint32_t size = 0;
  uint32_t offset = 0;
};

// Finds the end-of-central-directory record (scanning back over a comment of up to 64 KiB)
// and checks that the directory it names is single-volume, not zip64, and inside the archive.
bool read_end_record(const unsigned char* base, size_t n, Directory* d, std::string* error) {
  if (n < kEndBytes) return fail(error, "too short to hold an end-of-central-directory record");
  // The end record sits in the last 22 + 65535 (comment) bytes; scan backwards for it.
  size_t end = SIZE_MAX;
  const size_t lowest = n > kEndBytes + 0xffff ? n - kEndBytes - 0xffff : 0;
  for (size_t i = n - kEndBytes + 1; i-- > lowest;) {
    if (le32(base + i) == kEndSig && i + kEndBytes + le16(base + i + 20) == n) {
      end = i;
      break;
    }
  }
  if (end == SIZE_MAX) return fail(error, "no end-of-central-directory record (truncated?)");
  const unsigned char* e = base + end;
  d->entries = le16(e + 10);
  d->size = le32(e + 12);
  d->offset = le32(e + 16);
  if (le16(e + 4) != 0 || le16(e + 6) != 0 || le16(e + 8) != d->entries)
    return fail(error, "multi-volume archives are not supported");
  if (d->entries == 0xffff || d->size == 0xffffffff || d->offset == 0xffffffff)
    return fail(error, "zip64 archives are not supported");
  if (static_cast<uint64_t>(d->offset) + d->size > end)
    return fail(error, "central directory lies outside the archive");
  return true;
}

// The one file of the central directory (directories and __MACOSX/ entries are passed over);
// an archive with none or with two is refused.
bool find_single_member(const unsigned char* base, const Directory& d, Member* found,
                        std::string* error) {
  const uint64_t cd_end = static_cast<uint64_t>(d.offset) + d.size;
  int files = 0;
  size_t pos = d.offset;
  for (uint32_t k = 0; k < d.entries; ++k) {
    if (pos + kCentralBytes > cd_end) return fail(error, "central directory is truncated");
    const unsigned char* c = base + pos;
    if (le32(c) != kCentralSig) return fail(error, "bad central directory entry signature");
    const size_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
    const size_t next = pos + kCentralBytes + name_len + extra_len + comment_len;
    if (next > cd_end) return fail(error, "central directory is truncated");
    std::string name(reinterpret_cast<const char*>(c + kCentralBytes), name_len);
    pos = next;
    if (name.empty() || name.back() == '/' || name.starts_with("__MACOSX/")) continue;
    if (++files > 1)
      return fail(error, "holds more than one file ('" + printable(found->name) + "', '" +
                             printable(name) + "'): unpack the one you want");
    found->name = std::move(name);
    found->flags = le16(c + 8);
    found->method = le16(c + 10);
    found->crc = le32(c + 16);
    found->csize = le32(c + 20);
    found->usize = le32(c + 24);
    found->local_offset = le32(c + 42);
  }
  if (files == 0) return fail(error, "holds no file");
  return true;
}

// Offset of the member's data, past its local header; refuses what we cannot unpack
// (encrypted, zip64, methods other than stored and deflate) and data outside the archive.
bool member_data(const unsigned char* base, const Directory& d, const Member& found, uint64_t* data,
                 std::string* error) {
  if (found.flags & 1) return fail(error, "'" + printable(found.name) + "' is encrypted");
  if (found.csize == 0xffffffff || found.usize == 0xffffffff || found.local_offset == 0xffffffff)
    return fail(error, "zip64 members are not supported");
  if (found.method != 0 && found.method != 8)
    return fail(error, "'" + printable(found.name) + "' uses compression method " +
                           std::to_string(found.method) + " (only stored and deflate)");
  if (static_cast<uint64_t>(found.local_offset) + kLocalBytes > d.offset)
    return fail(error, "local header lies outside the archive");
  const unsigned char* l = base + found.local_offset;
  if (le32(l) != kLocalSig) return fail(error, "bad local header signature");
  *data = static_cast<uint64_t>(found.local_offset) + kLocalBytes + le16(l + 26) + le16(l + 28);
  if (*data + found.csize > d.offset) return fail(error, "member data lies outside the archive");
  return true;
}

}  // namespace

bool looks_like_zip(std::string_view bytes) noexcept {
  return bytes.size() >= 4 &&
         le32(reinterpret_cast<const unsigned char*>(bytes.data())) == kLocalSig;
}

bool unzip_single(std::string_view zip, std::string* out, std::string* member, std::string* error) {
  const auto* base = reinterpret_cast<const unsigned char*>(zip.data());
  Directory d;
  Member found;
  uint64_t data = 0;
  if (!read_end_record(base, zip.size(), &d, error) ||
      !find_single_member(base, d, &found, error) || !member_data(base, d, found, &data, error))
    return false;

  const unsigned char* src = base + data;
  if (found.method == 0) {
    if (found.csize != found.usize) return fail(error, "stored member with two sizes");
    out->assign(reinterpret_cast<const char*>(src), found.csize);
  } else {
    if (found.usize > kMaxRatio * found.csize + 64)
      return fail(error, "declared size " + std::to_string(found.usize) +
                             " is impossible for its compressed size");
    if (!inflate_member(src, found.csize, found.usize, out, error)) return false;
  }
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(out->data()), static_cast<uInt>(out->size())));
  if (crc != found.crc) return fail(error, "CRC mismatch in '" + printable(found.name) + "'");
  *member = found.name;
  return true;
}

}  // namespace allocmark
