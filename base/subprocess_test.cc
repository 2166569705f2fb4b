// run_process (base/subprocess.h): argument vectors, environment, capture, timeout, exec errors.
// Layer: base tests. Uses /bin/sh only as a program under test, never to run allocmark's commands.
#include "base/subprocess.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace allocmark {
namespace {

TEST(Subprocess, ArgumentsStayWholeAndOutputIsCaptured) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh",       "-c", "printf '%s|' \"$@\"; echo err >&2; echo three >&3", "sh",
               "it's one word", "a b"};
  spec.capture = {1, 2, 3};
  const ProcessResult r = run_process(spec);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(exit_code(r.wait_status), 0);
  EXPECT_EQ(r.output.at(1), "it's one word|a b|");
  EXPECT_EQ(r.output.at(2), "err\n");
  EXPECT_EQ(r.output.at(3), "three\n");
}

TEST(Subprocess, EnvironmentIsEditedForTheChildOnly) {
  setenv("AMK_TEST_DROP", "x", 1);
  setenv("AMK_TEST_KEEP", "kept", 1);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo \"${AMK_TEST_DROP:-none} $AMK_TEST_KEEP $AMK_TEST_SET\""};
  spec.unset_env = {"AMK_TEST_DROP"};
  spec.set_env = {"AMK_TEST_SET=new", "AMK_TEST_KEEP=replaced"};
  spec.capture = {1};
  const ProcessResult r = run_process(spec);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.output.at(1), "none replaced new\n");
  EXPECT_STREQ(std::getenv("AMK_TEST_DROP"), "x");
}

TEST(Subprocess, ExitStatusesAndSignals) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "exit 127"};  // the program's own 127 is not an exec failure
  ProcessResult r = run_process(spec);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(exit_code(r.wait_status), 127);
  spec.argv = {"/bin/sh", "-c", "kill -SEGV $$"};
  r = run_process(spec);
  ASSERT_TRUE(r.started);
  EXPECT_TRUE(WIFSIGNALED(r.wait_status));
  EXPECT_EQ(exit_code(r.wait_status), 128 + SIGSEGV);
}

TEST(Subprocess, ExecFailureIsNamed) {
  ProcessSpec spec;
  spec.argv = {"/no/such/program", "x"};
  const ProcessResult r = run_process(spec);
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.error, "cannot execute /no/such/program: No such file or directory");
  spec.argv = {"no-such-program-on-path-amk"};
  EXPECT_FALSE(run_process(spec).started);
}

TEST(Subprocess, TimeoutKillsTheWholeGroup) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30; echo never"};
  spec.own_process_group = true;
  spec.timeout_s = 0.3;
  spec.capture = {1};
  const ProcessResult r = run_process(spec);
  ASSERT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(WIFSIGNALED(r.wait_status));
  EXPECT_LT(r.elapsed_s, 5.0);  // not the 30 s the children wanted (their pipe closed too)
}

TEST(Subprocess, CaptureKeepsTheTail) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line$i; i=$((i+1)); done"};
  spec.capture = {Capture(1, 100)};
  const ProcessResult r = run_process(spec);
  ASSERT_TRUE(r.started);
  EXPECT_LE(r.output.at(1).size(), 65536u + 200u);
  EXPECT_NE(r.output.at(1).find("line19999\n"), std::string::npos);
}

// A child that closes its pipes (stderr to /dev/null, no capture) is still held to the timeout.
TEST(Subprocess, TimeoutHoldsWithoutPipes) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "exec 2>/dev/null; sleep 30"};
  spec.own_process_group = true;
  spec.timeout_s = 0.3;
  const ProcessResult r = run_process(spec);
  ASSERT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(r.elapsed_s, 5.0);
}

TEST(Subprocess, StdinStdoutAndDirectory) {
  char dir[] = "/tmp/amk-subprocess-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string in = std::string(dir) + "/in.txt", out = std::string(dir) + "/out.txt";
  { std::ofstream(in) << "from a file\n"; }
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "cat; pwd"};
  spec.stdin_path = in;
  spec.stdout_path = out;
  spec.cwd = dir;
  const ProcessResult r = run_process(spec);
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_GT(r.usage.ru_maxrss, 0);
  std::ifstream f(out);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "from a file\n" + std::string(dir) + "\n");
  spec.cwd = std::string(dir) + "/missing";
  EXPECT_EQ(run_process(spec).error,
            "cannot change to directory " + spec.cwd + ": No such file or directory");
  spec.cwd.clear();
  spec.stdin_path = std::string(dir) + "/missing.txt";
  EXPECT_EQ(run_process(spec).error,
            "cannot open " + spec.stdin_path + " for stdin: No such file or directory");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace allocmark
