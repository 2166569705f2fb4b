// Writing files so that a reader, or the machine after a crash, sees the old contents or the
// new ones, never a part: the run directory's files and trace files. Layer: base (leaf).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace allocmark {

// Where a write failed, for the caller's own wording of the error line.
struct FileWriteError {
  const char* step = "";  // "create" (opening the temporary), "write" (data, fsync), "rename"
  int code = 0;           // errno at that step
};

// Writes all of data to fd, retrying short writes and EINTR. False (errno set) on an error or a
// write that makes no progress. Thread-safe; heap-free.
bool write_all(int fd, std::string_view data) noexcept;

// fsyncs the directory holding path, so that a file created or renamed there survives a crash.
// Best effort: a directory that cannot be opened or synced is left as it is.
void fsync_parent_dir(const std::string& path) noexcept;

// Writes the parts, in order, to `path.tmp` (created with `mode`, less the umask), fsyncs it,
// renames it over `path` and fsyncs the directory. On failure the temporary is removed, `path`
// keeps what it held, and *error says which step failed. Cost: two fsyncs (file and directory).
// Not for two writers of one path at once: they share the temporary name.
bool write_file_atomically(const std::string& path, std::initializer_list<std::string_view> parts,
                           FileWriteError* error, int mode = 0644);

}  // namespace allocmark
