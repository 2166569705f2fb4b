// Reads /proc and /sys for meta.json; every field degrades to "unknown", never fails.
// Layer: harness.
#include "harness/run/system_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/git_revision.h"

namespace allocmark {
namespace {

std::string read_first_line(const char* path) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) return "unknown";
  return line;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

uint64_t memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  f >> key >> kb;
  return kb * 1024;
}

std::string cpu_mhz() {
  const std::string khz = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq");
  if (khz == "unknown") {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("cpu MHz", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
  }
  return std::to_string(std::stoull(khz) / 1000);
}

// Written at every build (cmake/git_revision.cmake), so it names the commit that was built.
std::string git_revision() { return ALLOCMARK_GIT_REVISION; }

}  // namespace

nlohmann::json machine_info() {
  utsname u{};
  uname(&u);
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  return {
      {"hostname", host},
      {"cpu_model", cpu_model()},
      {"cores", std::thread::hardware_concurrency()},
      {"cpu_mhz", cpu_mhz()},
      {"governor", read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")},
      {"thp", read_first_line("/sys/kernel/mm/transparent_hugepage/enabled")},
      {"aslr", read_first_line("/proc/sys/kernel/randomize_va_space")},
      {"kernel", std::string(u.sysname) + " " + u.release + " " + u.machine},
      {"memory_bytes", memory_bytes()},
  };
}

nlohmann::json build_info() {
#if defined(__clang__)
  const std::string compiler = std::string("clang++ ") + __clang_version__;
#elif defined(__GNUC__)
  const std::string compiler = std::string("g++ ") + __VERSION__;
#else
  const std::string compiler = "unknown";
#endif
  std::string flags = ALLOCMARK_CXX_FLAGS;  // CMAKE_CXX_FLAGS + the build type's, maybe empty
  flags.erase(0, flags.find_first_not_of(' '));
  return {
      {"compiler", compiler},
      {"flags", flags},
      {"build_type", ALLOCMARK_BUILD_TYPE},
      {"allocmark_version", ALLOCMARK_VERSION},
      {"git_revision", git_revision()},
  };
}

}  // namespace allocmark
