// The one way allocmark starts another program: an argument vector (never a shell string, so a
// path with quotes or spaces stays one word), an environment edited before fork, optional
// capture of any of the child's file descriptors, a timeout that kills the child's whole process
// group, and exec failures told apart from the program's own exit status 127.
// Layer: base (leaf: the C++ standard library and POSIX only).
//
// Thread-safety: run_process may be called from several threads at once; everything the child
// needs is built before fork, so the child calls only async-signal-safe functions before exec.
// Failure: never throws for a child's misbehaviour; `started` false with `error` when the child
// could not be started at all.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace allocmark {

// A child fd whose output is collected; tail_bytes > 0 keeps only about the last that many.
struct Capture {
  Capture(int child_fd, size_t keep_tail = 0) : fd(child_fd), tail_bytes(keep_tail) {}  // NOLINT
  int fd;
  size_t tail_bytes;
};

struct ProcessSpec {
  std::vector<std::string> argv;       // argv[0]: a path, or a program name looked up in PATH
  std::vector<std::string> set_env;    // NAME=VALUE, replacing an inherited NAME
  std::vector<std::string> unset_env;  // names dropped from the inherited environment
  bool own_process_group = false;      // a terminal's Ctrl-C then reaches only us
  bool die_with_parent = false;        // SIGKILL when the calling thread's process dies
  bool ignore_interrupts = false;      // like system(): SIGINT/SIGQUIT go to the child alone
  bool quiet = false;                  // stdout and stderr to /dev/null (unless captured)
  bool null_stdin = false;             // stdin from /dev/null
  std::string stdin_path;              // stdin from this file ("" = inherited or null_stdin)
  std::string stdout_path;             // stdout into this file, truncated ("" = as above)
  std::string cwd;                     // working directory of the child ("" = ours)
  uint64_t address_space_limit = 0;    // RLIMIT_AS in bytes, 0 = none
  std::vector<Capture> capture;        // child fds whose output is collected (e.g. 2, 3)
  double timeout_s = 0;                // 0 = none; at the limit the child's group is killed
};

struct ProcessResult {
  bool started = false;
  pid_t pid = -1;          // the child's, once forked
  std::string error;       // why it did not start: "cannot execute X: No such file or directory"
  int exec_errno = 0;      // exec's errno when that is why (ENOENT: 127 to a shell, else 126)
  int wait_status = 0;     // waitpid's status
  bool timed_out = false;  // killed at timeout_s
  double elapsed_s = 0;
  double cpu_s = 0;  // user + system time of the child (and children it waited for)
  rusage usage{};    // wait4's: CPU, faults, context switches, max RSS
  std::map<int, std::string> output;  // captured fd -> what the child wrote there
};

// Runs the program and waits for it (also after it closed every captured pipe: the timeout
// holds until the child itself has exited). `running`, when given, holds the child's pid while it
// runs (a signal handler may kill its group: kill(-pid, SIGKILL)).
ProcessResult run_process(const ProcessSpec& spec, std::atomic<pid_t>* running = nullptr);

// The shell's convention: the exit status, or 128 + signal number.
int exit_code(int wait_status);

}  // namespace allocmark
