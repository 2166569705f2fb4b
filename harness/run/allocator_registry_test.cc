// Tests of the allocator checks `run` makes before any cell: ELF headers of the libraries named
// on the command line, option text against the allocators' tables, their environment.
// Layer: harness tests.
#include "harness/run/allocator_registry.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace allocmark {
namespace {

namespace fs = std::filesystem;

// The file a function of this process was loaded from (a real shared object of this machine).
std::string library_of(const void* symbol) {
  Dl_info info{};
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

class SharedObjectCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("allocmark_registry_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    libc_ = library_of(reinterpret_cast<const void*>(&::malloc));
    ASSERT_FALSE(libc_.empty());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file of the first `keep` bytes of libc, with `patch` applied at `offset`.
  std::string libc_copy(const std::string& name, size_t keep, size_t offset = 0,
                        const std::string& patch = "") {
    std::ifstream in(libc_, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes.resize(std::min(keep, bytes.size()));
    bytes.replace(offset, patch.size(), patch);
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
  std::string libc_;
};

TEST_F(SharedObjectCheck, ALibraryDefiningMallocPasses) {
  std::string error;
  EXPECT_TRUE(check_shared_object(libc_, /*need_malloc=*/true, &error)) << error;
}

TEST_F(SharedObjectCheck, ALibraryWithoutMallocIsNoMallocReplacement) {
  // libstdc++ is a shared object of this machine that defines no malloc of its own.
  const std::string libstdcxx = library_of(reinterpret_cast<const void*>(&std::terminate));
  ASSERT_FALSE(libstdcxx.empty());
  ASSERT_NE(libstdcxx, libc_);
  std::string error;
  EXPECT_TRUE(check_shared_object(libstdcxx, /*need_malloc=*/false, &error)) << error;
  EXPECT_FALSE(check_shared_object(libstdcxx, /*need_malloc=*/true, &error));
  EXPECT_NE(error.find("defines no malloc"), std::string::npos) << error;
}

TEST_F(SharedObjectCheck, NonElfFilesAndDirectoriesAreRefused) {
  const std::string text = (dir_ / "fake.so").string();
  std::ofstream(text) << "not an ELF file\n";
  std::string error;
  EXPECT_FALSE(check_shared_object(text, false, &error));
  EXPECT_NE(error.find("not an ELF file"), std::string::npos) << error;
  const std::string empty = (dir_ / "empty.so").string();
  std::ofstream{empty};
  EXPECT_FALSE(check_shared_object(empty, false, &error));
  EXPECT_NE(error.find("not an ELF file"), std::string::npos) << error;
  EXPECT_FALSE(check_shared_object(dir_.string(), false, &error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  EXPECT_FALSE(check_shared_object((dir_ / "missing.so").string(), false, &error));
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST_F(SharedObjectCheck, ExecutablesAreNotSharedObjects) {
  // This test program: a position-independent executable (ET_DYN with DF_1_PIE) or, built
  // without -pie, a plain executable (ET_EXEC). Either way it cannot be preloaded.
  std::string error;
  EXPECT_FALSE(check_shared_object("/proc/self/exe", false, &error));
  EXPECT_NE(error.find("executable, not a shared object"), std::string::npos) << error;
}

TEST_F(SharedObjectCheck, OtherMachinesAndWordSizesAndTruncationsAreRefused) {
  std::string error;
  // e_ident[EI_CLASS] = 1 (32-bit): the worker could not load it.
  EXPECT_FALSE(
      check_shared_object(libc_copy("class.so", 4096, 4, std::string(1, '\1')), false, &error));
  EXPECT_NE(error.find("another word size"), std::string::npos) << error;
  // e_machine (offset 18) = 0xb7b7: no machine this runs on.
  EXPECT_FALSE(check_shared_object(libc_copy("machine.so", 4096, 18, "\xb7\xb7"), false, &error));
  EXPECT_NE(error.find("another machine"), std::string::npos) << error;
  // A header whose section table lies past the end of the file: refused, never read out of
  // bounds.
  EXPECT_FALSE(check_shared_object(libc_copy("cut.so", 4096), false, &error));
  EXPECT_NE(error.find("outside the file"), std::string::npos) << error;
  EXPECT_FALSE(check_shared_object(libc_copy("tiny.so", 20), false, &error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
}

TEST(AllocatorNames, AreTheCharactersResultsAndFlagsCanCarry) {
  EXPECT_TRUE(valid_allocator_name("my-alloc_2.1"));
  for (const char* bad : {"", "a b", "a:b", "a,b", "a=b", "a/b"})
    EXPECT_FALSE(valid_allocator_name(bad)) << bad;
}

TEST(AllocatorNames, NameEqualsPathIsCheckedBeforeAnythingRuns) {
  AllocatorInfo info;
  std::string error;
  EXPECT_FALSE(resolve_allocator("nosuch", &info, &error));
  EXPECT_EQ(error.rfind("--allocators: unknown allocator 'nosuch'", 0), 0u) << error;
  EXPECT_FALSE(resolve_allocator("x=/nonexistent/lib.so", &info, &error));
  EXPECT_EQ(error, "--allocators x=/nonexistent/lib.so: No such file or directory");
  EXPECT_FALSE(resolve_allocator("x=/a b.so", &info, &error));
  EXPECT_NE(error.find("LD_PRELOAD"), std::string::npos) << error;
  EXPECT_FALSE(resolve_allocator("a b=/x.so", &info, &error));
  EXPECT_NE(error.find("NAME must be"), std::string::npos) << error;
  const std::string libc = library_of(reinterpret_cast<const void*>(&::malloc));
  ASSERT_TRUE(resolve_allocator("mine=" + libc, &info, &error)) << error;
  EXPECT_EQ(info.kind, "preload");
  EXPECT_EQ(info.library, libc);
}

AllocatorInfo builtin(const std::string& name) {
  for (const auto& a : builtin_allocators())
    if (a.name == name) return a;
  ADD_FAILURE() << "no built-in " << name;
  return {};
}

TEST(AllocatorOptions, NativeOptionsAreParsedAsTheWorkerWill) {
  std::string error;
  EXPECT_EQ(alloc_option_support(builtin("pool")), "table");
  EXPECT_TRUE(check_allocator_option(builtin("pool"), "slab_size=1M", &error)) << error;
  EXPECT_TRUE(check_allocator_option(builtin("bump"), "decommit_on_reset=yes", &error)) << error;
  EXPECT_FALSE(check_allocator_option(builtin("pool"), "nosuch=1", &error));
  EXPECT_NE(error.find("unknown option 'nosuch'"), std::string::npos) << error;
  EXPECT_FALSE(check_allocator_option(builtin("pool"), "slab_size=3", &error));
  EXPECT_NE(error.find("expected a value in"), std::string::npos) << error;
  EXPECT_FALSE(check_allocator_option(builtin("arena"), "chunk_size=abc", &error));
  EXPECT_NE(error.find("expected a byte count"), std::string::npos) << error;
  EXPECT_FALSE(check_allocator_option(builtin("arena"), "chunk_size", &error));
  EXPECT_NE(error.find("expected key=value"), std::string::npos) << error;
}

TEST(AllocatorOptions, OnlyNativesAndPluginsTakeThem) {
  std::string error;
  EXPECT_EQ(alloc_option_support(builtin("glibc")), "none");
  EXPECT_EQ(alloc_option_support(builtin("null")), "none");
  EXPECT_FALSE(check_allocator_option(builtin("null"), "x=1", &error));
  AllocatorInfo other;
  other.name = "p";
  other.kind = "plugin";
  other.library = "/x.so";
  EXPECT_EQ(alloc_option_support(other), "plugin");
  other.name = "pool-malloc";  // someone's own library of that name reads what it reads
  other.kind = "preload";
  EXPECT_EQ(alloc_option_support(other), "none");
  const AllocatorInfo shim = builtin("pool-malloc");
  if (shim.available) {
    EXPECT_EQ(alloc_option_support(shim), "ALLOCMARK_POOL_<KEY>");
  }
}

TEST(AllocatorOptions, TheEnvironmentTheyReadIsCheckedToo) {
  std::string error;
  ASSERT_EQ(unsetenv("ALLOCMARK_ARENA_CHUNK_SIZE"), 0);
  EXPECT_TRUE(check_allocator_environment(builtin("arena"), &error)) << error;
  ASSERT_EQ(setenv("ALLOCMARK_ARENA_CHUNK_SIZE", "lots", 1), 0);
  EXPECT_FALSE(check_allocator_environment(builtin("arena"), &error));
  EXPECT_NE(error.find("ALLOCMARK_ARENA_CHUNK_SIZE"), std::string::npos) << error;
  EXPECT_TRUE(check_allocator_environment(builtin("glibc"), &error)) << error;  // not read
  EXPECT_TRUE(check_allocator_environment(builtin("pool"), &error)) << error;
  const AllocatorInfo shim = builtin("arena-malloc");
  if (shim.available) {
    EXPECT_FALSE(check_allocator_environment(shim, &error));
  }
  ASSERT_EQ(unsetenv("ALLOCMARK_ARENA_CHUNK_SIZE"), 0);

  // ALLOCMARK_TRACK wraps the malloc libraries in tracking, whose own table then applies.
  if (!shim.available) return;
  ASSERT_EQ(setenv("ALLOCMARK_TRACK", "perhaps", 1), 0);
  EXPECT_FALSE(check_allocator_environment(shim, &error));
  EXPECT_NE(error.find("ALLOCMARK_TRACK=perhaps"), std::string::npos) << error;
  EXPECT_TRUE(check_allocator_environment(builtin("arena"), &error)) << error;  // native: unread
  ASSERT_EQ(setenv("ALLOCMARK_TRACK", "1", 1), 0);
  ASSERT_EQ(setenv("ALLOCMARK_TRACK_LEAKS_LISTED", "many", 1), 0);
  EXPECT_FALSE(check_allocator_environment(shim, &error));
  EXPECT_NE(error.find("ALLOCMARK_TRACK_LEAKS_LISTED"), std::string::npos) << error;
  ASSERT_EQ(setenv("ALLOCMARK_TRACK", "0", 1), 0);
  EXPECT_TRUE(check_allocator_environment(shim, &error)) << error;
  unsetenv("ALLOCMARK_TRACK");
  unsetenv("ALLOCMARK_TRACK_LEAKS_LISTED");
}

}  // namespace
}  // namespace allocmark
