// /proc and getrusage readers for the worker. Layer: harness.
#include "harness/worker/proc_stats.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace allocmark {

RssReader::RssReader() {
  fd_ = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  page_ = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}
RssReader::~RssReader() {
  if (fd_ >= 0) close(fd_);
}

uint64_t RssReader::rss_bytes() const {
  char buf[128];
  const ssize_t n = pread(fd_, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = 0;
  // statm: size resident shared text lib data dt (pages)
  const char* p = std::strchr(buf, ' ');
  return p ? std::strtoull(p + 1, nullptr, 10) * page_ : 0;
}

bool reset_peak_rss() {
  const int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

uint64_t peak_rss_bytes() {
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* p = std::strstr(buf, "VmHWM:");
  return p ? std::strtoull(p + 6, nullptr, 10) * 1024 : 0;
}

static uint64_t tv_ns(const timeval& tv) {
  return static_cast<uint64_t>(tv.tv_sec) * 1000000000u + static_cast<uint64_t>(tv.tv_usec) * 1000u;
}

Usage process_usage() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  Usage u;
  u.user_ns = tv_ns(ru.ru_utime);
  u.sys_ns = tv_ns(ru.ru_stime);
  u.minor_faults = static_cast<uint64_t>(ru.ru_minflt);
  u.major_faults = static_cast<uint64_t>(ru.ru_majflt);
  u.voluntary_switches = static_cast<uint64_t>(ru.ru_nvcsw);
  u.involuntary_switches = static_cast<uint64_t>(ru.ru_nivcsw);
  return u;
}

Usage operator-(const Usage& a, const Usage& b) {
  return {a.user_ns - b.user_ns,
          a.sys_ns - b.sys_ns,
          a.minor_faults - b.minor_faults,
          a.major_faults - b.major_faults,
          a.voluntary_switches - b.voluntary_switches,
          a.involuntary_switches - b.involuntary_switches};
}

}  // namespace allocmark
