// Temporary file, fsync, rename, directory fsync: the one copy of the atomic write.
// Layer: base (leaf: POSIX only).
#include "base/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace allocmark {

bool write_all(int fd, std::string_view data) noexcept {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void fsync_parent_dir(const std::string& path) noexcept {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

bool write_file_atomically(const std::string& path, std::initializer_list<std::string_view> parts,
                           FileWriteError* error, int mode) {
  const std::string tmp = path + ".tmp";
  auto failed = [&](const char* step) {
    *error = FileWriteError{step, errno};
    std::remove(tmp.c_str());
    return false;
  };
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return failed("create");
  // The first failure's errno is the one reported; close runs whatever happened before it.
  int code = 0;
  bool ok = true;
  auto check = [&](bool done) {
    if (ok && !done) {
      ok = false;
      code = errno;
    }
  };
  for (std::string_view part : parts)
    if (ok) check(write_all(fd, part));
  if (ok) check(fsync(fd) == 0);
  check(close(fd) == 0);
  if (!ok) {
    errno = code;
    return failed("write");
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return failed("rename");
  fsync_parent_dir(path);
  return true;
}

}  // namespace allocmark
