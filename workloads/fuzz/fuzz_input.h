// Shared by the libFuzzer targets: hands the fuzz input to path-taking readers through a memfd
// (no temp files to clean up, no disk traffic). Layer: workloads fuzzing only.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace allocmark::fuzz {

// An anonymous in-memory file holding `data`, reachable by path as /proc/self/fd/N.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = memfd_create("allocmark-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemFile() : MemFile(nullptr, 0) {}
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  const std::string& path() const { return path_; }
  // A FILE* appending to this file (for the exporters); the caller closes it.
  std::FILE* open_for_write() const {
    const int dup_fd = ::dup(fd_);
    if (dup_fd < 0) std::abort();
    return ::fdopen(dup_fd, "w");
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace allocmark::fuzz
