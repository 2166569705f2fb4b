// Process-tree RSS sampling (harness/program/tree_sampler.h). Layer: harness (program).
#include "harness/program/tree_sampler.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/clock.h"

namespace allocmark {
namespace {

// Small /proc files in one read; "" when the process is gone.
std::string read_small(const std::string& path) {
  char buf[4096];
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

uint64_t resident_bytes(pid_t pid) {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const std::string statm = read_small("/proc/" + std::to_string(pid) + "/statm");
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(statm.c_str(), "%llu %llu", &size, &resident) != 2) return 0;
  return resident * page;
}

// The children of every thread of `pid`.
void children_of(pid_t pid, std::vector<pid_t>* out) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(task_dir.c_str());
  if (!d) return;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string list = read_small(task_dir + "/" + e->d_name + "/children");
    const char* p = list.c_str();
    char* end = nullptr;
    for (long child = std::strtol(p, &end, 10); end != p; child = std::strtol(p, &end, 10)) {
      out->push_back(static_cast<pid_t>(child));
      p = end;
    }
  }
  closedir(d);
}

}  // namespace

uint64_t tree_rss_bytes(pid_t root, size_t* processes) {
  std::vector<pid_t> pending{root};
  uint64_t total = 0;
  size_t count = 0;
  while (!pending.empty()) {
    const pid_t pid = pending.back();
    pending.pop_back();
    const uint64_t rss = resident_bytes(pid);
    if (rss == 0) continue;  // gone, or a zombie
    total += rss;
    ++count;
    children_of(pid, &pending);
  }
  if (processes) *processes = count;
  return total;
}

TreeSampler::TreeSampler(const std::atomic<pid_t>* root, double interval_s)
    : root_(root), interval_ns_(static_cast<uint64_t>(interval_s * 1e9)) {
  if (interval_ns_ == 0) interval_ns_ = 1'000'000;
  thread_ = std::thread([this] { loop(); });
}

TreeSampler::~TreeSampler() { stop(); }

void TreeSampler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TreeSampler::record(uint64_t t, uint64_t bytes) {
  if (t_ns_.size() >= kMaxPoints) {  // thin: keep every other point, sample half as often
    size_t kept = 0;
    for (size_t i = 0; i < t_ns_.size(); i += 2, ++kept) {
      t_ns_[kept] = t_ns_[i];
      rss_[kept] = rss_[i];
    }
    t_ns_.resize(kept);
    rss_.resize(kept);
    interval_ns_ *= 2;
  }
  t_ns_.push_back(t);
  rss_.push_back(bytes);
}

void TreeSampler::loop() {
  uint64_t start = 0;
  for (;;) {
    const pid_t root = root_->load();
    if (root > 0) {
      const uint64_t now = now_ns();
      if (start == 0) start = now;
      size_t processes = 0;
      const uint64_t bytes = tree_rss_bytes(root, &processes);
      if (processes > 0) {
        ++samples_;
        if (bytes > peak_) peak_ = bytes;
        if (processes > max_processes_) max_processes_ = processes;
        record(now - start, bytes);
      }
    }
    // Sleep in short steps while waiting for the child, the interval once it runs.
    const uint64_t sleep_ns = root > 0 ? interval_ns_ : 200'000;
    std::unique_lock<std::mutex> lock(mutex_);
    if (wake_.wait_for(lock, std::chrono::nanoseconds(sleep_ns), [this] { return stop_; })) break;
  }
  timespec cpu{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  cpu_ns_ = static_cast<uint64_t>(cpu.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(cpu.tv_nsec);
}

}  // namespace allocmark
