// Starting and watching a child process (base/subprocess.h). Layer: base.
// Cost: one fork + exec, one pipe per captured fd plus one for exec errors; the parent polls
// (at most a second between looks at the clock) until every pipe is closed and the child exits.
#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace allocmark {
namespace {

// Pipe ends are moved above the low fds, so the child's dup2 onto 0-63 cannot clobber one.
constexpr int kHighFd = 64;

bool high_pipe(int fds[2]) {
  int raw[2];
  if (pipe2(raw, O_CLOEXEC) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, kHighFd);
    close(raw[i]);
  }
  return fds[0] >= 0 && fds[1] >= 0;
}

bool named(const std::string& entry, const std::string& name) {
  return entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
         entry[name.size()] == '=';
}

std::vector<std::string> child_environment(const ProcessSpec& spec) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool keep = true;
    for (const auto& n : spec.unset_env) keep = keep && !named(entry, n);
    for (const auto& s : spec.set_env) keep = keep && !named(entry, s.substr(0, s.find('=')));
    if (keep) env.push_back(entry);
  }
  env.insert(env.end(), spec.set_env.begin(), spec.set_env.end());
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& words) {
  std::vector<char*> out;
  for (auto& w : words) out.push_back(w.data());
  out.push_back(nullptr);
  return out;
}

bool captured(const ProcessSpec& spec, int fd) {
  for (const Capture& c : spec.capture)
    if (c.fd == fd) return true;
  return false;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Files the child gets as stdin and stdout, opened in the parent so that an error names the file.
struct Redirects {
  int in = -1, out = -1;
  ~Redirects() {
    if (in >= 0) close(in);
    if (out >= 0) close(out);
  }
};

bool open_redirects(const ProcessSpec& spec, Redirects* r, std::string* error) {
  if (!spec.stdin_path.empty() &&
      (r->in = open(spec.stdin_path.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
    *error = "cannot open " + spec.stdin_path + " for stdin: " + std::strerror(errno);
    return false;
  }
  if (!spec.stdout_path.empty() &&
      (r->out = open(spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
          0) {
    *error = "cannot open " + spec.stdout_path + " for stdout: " + std::strerror(errno);
    return false;
  }
  return true;
}

// What the error pipe carries when the child cannot become the program.
struct ChildFailure {
  int stage;  // 0: exec, 1: chdir
  int error;
};

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const ProcessSpec& spec, const Redirects& redirects,
                             const std::vector<int>& capture_write, int error_write, pid_t parent,
                             char** argv, char** envp) {
  if (spec.own_process_group) setpgid(0, 0);
  if (spec.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
  }
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (spec.null_stdin && null_fd >= 0) dup2(null_fd, 0);
  if (spec.quiet && null_fd >= 0) {
    if (!captured(spec, 1)) dup2(null_fd, 1);
    if (!captured(spec, 2)) dup2(null_fd, 2);
  }
  if (redirects.in >= 0) dup2(redirects.in, 0);
  if (redirects.out >= 0) dup2(redirects.out, 1);
  for (size_t i = 0; i < spec.capture.size(); ++i) dup2(capture_write[i], spec.capture[i].fd);
  if (spec.address_space_limit) {
    const rlimit rl{spec.address_space_limit, spec.address_space_limit};
    setrlimit(RLIMIT_AS, &rl);
  }
  ChildFailure failure{1, 0};
  if (spec.cwd.empty() || chdir(spec.cwd.c_str()) == 0) {
    execvpe(argv[0], argv, envp);
    failure.stage = 0;
  }
  failure.error = errno;
  (void)!write(error_write, &failure, sizeof failure);
  _exit(127);
}

// Waits for the child until the deadline (the pipes may have closed long before it exits);
// kills its group at the deadline. pidfd_open (Linux 5.3) makes the wait pollable; without it
// the wait blocks.
void wait_child(const ProcessSpec& spec, pid_t pid, std::chrono::steady_clock::time_point start,
                ProcessResult* r) {
  if (spec.timeout_s > 0 && !r->timed_out) {
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      for (;;) {
        const double left = spec.timeout_s - seconds_since(start);
        if (left <= 0) {
          r->timed_out = true;
          kill(spec.own_process_group ? -pid : pid, SIGKILL);
          break;
        }
        pollfd f{pidfd, POLLIN, 0};
        const int n = poll(&f, 1, static_cast<int>(std::min(left * 1000 + 1, 1000.0)));
        if (n > 0) break;
      }
      close(pidfd);
    }
  }
  while (wait4(pid, &r->wait_status, 0, &r->usage) < 0 && errno == EINTR) {
  }
}

// Reads every pipe until all are closed, or kills the child at the deadline.
void collect(const ProcessSpec& spec, pid_t pid, std::vector<pollfd>& fds,
             std::chrono::steady_clock::time_point start, ProcessResult* r, ChildFailure* failure) {
  char buf[65536];
  size_t open_fds = fds.size();
  while (open_fds > 0) {
    int wait_ms = 1000;
    if (spec.timeout_s > 0) {
      const double left = spec.timeout_s - seconds_since(start);
      if (left <= 0) {
        r->timed_out = true;
        kill(spec.own_process_group ? -pid : pid, SIGKILL);
        return;
      }
      wait_ms = static_cast<int>(std::min(left * 1000 + 1, 1000.0));
    }
    if (poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) return;
    for (size_t i = 0; i < fds.size(); ++i) {
      pollfd& f = fds[i];
      if (f.fd < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(f.fd, buf, sizeof buf);
      if (n <= 0) {
        close(f.fd);
        f.fd = -1;
        --open_fds;
        continue;
      }
      if (i == fds.size() - 1) {  // the exec-error pipe: why the child did not start
        if (n == sizeof *failure) std::memcpy(failure, buf, sizeof *failure);
        continue;
      }
      const Capture& c = spec.capture[i];
      std::string& dst = r->output[c.fd];
      dst.append(buf, static_cast<size_t>(n));
      if (c.tail_bytes && dst.size() > 2 * c.tail_bytes) dst.erase(0, dst.size() - c.tail_bytes);
    }
  }
}

}  // namespace

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

ProcessResult run_process(const ProcessSpec& spec, std::atomic<pid_t>* running) {
  ProcessResult r;
  if (spec.argv.empty()) return r.error = "no program to run", r;
  std::vector<std::string> args = spec.argv, env = child_environment(spec);
  std::vector<char*> argv = pointers(args), envp = pointers(env);
  Redirects redirects;
  if (!open_redirects(spec, &redirects, &r.error)) return r;
  std::vector<int> read_ends, write_ends;
  auto close_all = [&] {
    for (int fd : read_ends) close(fd);
    for (int fd : write_ends) close(fd);
  };
  for (size_t i = 0; i <= spec.capture.size(); ++i) {  // the last pipe carries exec errors
    int p[2];
    if (!high_pipe(p)) {
      close_all();
      return r.error = std::string("pipe: ") + std::strerror(errno), r;
    }
    read_ends.push_back(p[0]);
    write_ends.push_back(p[1]);
  }
  const auto start = std::chrono::steady_clock::now();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0)
    exec_child(spec, redirects, write_ends, write_ends.back(), parent, argv.data(), envp.data());
  for (int fd : write_ends) close(fd);
  write_ends.clear();
  if (pid < 0) {
    close_all();
    return r.error = std::string("fork: ") + std::strerror(errno), r;
  }
  r.pid = pid;
  if (spec.own_process_group) setpgid(pid, pid);
  if (running) running->store(pid);
  struct sigaction ignore {
  }, old_int{}, old_quit{};
  if (spec.ignore_interrupts) {
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);
  }
  std::vector<pollfd> fds;
  for (int fd : read_ends) fds.push_back({fd, POLLIN, 0});
  ChildFailure failure{0, 0};
  collect(spec, pid, fds, start, &r, &failure);
  for (const pollfd& f : fds)
    if (f.fd >= 0) close(f.fd);
  wait_child(spec, pid, start, &r);
  if (spec.ignore_interrupts) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
  }
  if (running) running->store(0);
  r.elapsed_s = seconds_since(start);
  const rusage& usage = r.usage;
  r.cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  if (failure.error && failure.stage == 1) {
    r.error = "cannot change to directory " + spec.cwd + ": " + std::strerror(failure.error);
    return r;
  }
  if (failure.error) {
    r.exec_errno = failure.error;
    r.error = "cannot execute " + spec.argv[0] + ": " + std::strerror(failure.error);
    return r;
  }
  r.started = true;
  return r;
}

}  // namespace allocmark
