// write_file_atomically and write_all (base/atomic_file.h): contents in order, replacement,
// failures that leave the old file and no temporary. Layer: base tests.
#include "base/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace allocmark {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path fresh_dir(const char* name) {
  const fs::path dir = fs::temp_directory_path() /
                       (std::string("allocmark_") + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(AtomicFile, WritesThePartsInOrderAndReplaces) {
  const fs::path dir = fresh_dir("atomic_file");
  const std::string path = (dir / "out.json").string();
  FileWriteError error;
  ASSERT_TRUE(write_file_atomically(path, {"old"}, &error)) << error.step;
  const char bytes[3] = {'a', '\0', 'b'};  // binary parts keep their NULs
  ASSERT_TRUE(write_file_atomically(path, {std::string_view(bytes, 3), "", "cd"}, &error));
  EXPECT_EQ(read_file(path), std::string("a\0bcd", 5));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  fs::remove_all(dir);
}

TEST(AtomicFile, AFailedRenameKeepsTheOldFileAndNoTemporary) {
  const fs::path dir = fresh_dir("atomic_file_rename");
  // A directory in the way: the temporary is written, the rename over it fails.
  fs::create_directories(dir / "taken" / "child");
  const std::string path = (dir / "taken").string();
  FileWriteError error;
  EXPECT_FALSE(write_file_atomically(path, {"new"}, &error));
  EXPECT_STREQ(error.step, "rename");
  EXPECT_NE(error.code, 0);
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  fs::remove_all(dir);
}

TEST(AtomicFile, AMissingDirectoryFailsAtCreate) {
  FileWriteError error;
  EXPECT_FALSE(write_file_atomically("/nonexistent-allocmark-dir/x", {"data"}, &error));
  EXPECT_STREQ(error.step, "create");
  EXPECT_EQ(error.code, ENOENT);
}

TEST(AtomicFile, WriteAllWritesEverythingThroughAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string data(40000, 'x');  // less than a Linux pipe's 64 KiB: no reader needed
  EXPECT_TRUE(write_all(fds[1], data));
  close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, n);
  close(fds[0]);
  EXPECT_EQ(got, data);
}

}  // namespace
}  // namespace allocmark
