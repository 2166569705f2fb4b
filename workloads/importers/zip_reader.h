// Unpacks the single file of a .zip archive in memory (stored or deflated members) with zlib's raw
// inflate. Layer: workloads. Never trusts the archive: every offset and size is checked first.
#pragma once

#include <string>
#include <string_view>

namespace allocmark {

// True when `bytes` starts like a zip archive (local file header signature "PK\3\4").
bool looks_like_zip(std::string_view bytes) noexcept;

// Unpacks the one regular file in `zip` (directories and macOS "__MACOSX/" entries are skipped)
// into *out, its name into *member. Refuses archives with several files, encrypted or zip64
// (over 4 GiB) members, methods other than stored/deflate, a CRC mismatch, or a declared size
// above the deflate limit (1032 times the compressed size). Memory grows with what inflate really
// produces, never with what a header claims. On false *error says why ("zip archive: ...").
bool unzip_single(std::string_view zip, std::string* out, std::string* member, std::string* error);

}  // namespace allocmark
