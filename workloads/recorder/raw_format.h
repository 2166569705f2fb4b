// The raw files the recording library writes and `allocmark record` converts: one file per
// process image, a header then blocks of fixed-size records. Layer: workloads (no dependencies).
#pragma once

#include <cstdint>

// This header is shared by the preloaded library (which must not pull in anything that
// allocates) and the converter, so it holds layout only: no functions, no std containers.
namespace allocmark::raw {

// What a raw record says. Not the trace format's Op: a moved realloc is split in two records
// (kReallocFree + kRealloc) so that each half sits at its true place in the global order.
enum RawOp : uint8_t {
  kMalloc = 1,       // ptr = result, size
  kCalloc = 2,       // ptr = result, size = element size, aux = nmemb
  kAligned = 3,      // ptr = result, size, aux = alignment (power of two)
  kFree = 4,         // ptr = the freed pointer
  kRealloc = 5,      // ptr = result, size = new size, aux = old pointer (0: realloc(NULL))
  kReallocFree = 6,  // ptr = old pointer of a realloc about to run (its sequence is taken first)
  kThreadExit = 7,   // the thread's key destructor ran
};

// Record flags (RawRecord::word low byte, bits 4..7).
inline constexpr uint8_t kRawCxx = 1u << 0;    // C++ operator new / delete
inline constexpr uint8_t kRawSized = 1u << 1;  // sized delete

// One record, 32 bytes: seq << 8 | flags << 4 | op in `word`. 56 bits of sequence number is
// 2^56 events, far beyond any recording. The thread is in the block header, not per record.
struct RawRecord {
  uint64_t word;
  uint64_t ptr;
  uint64_t size;
  uint64_t aux;
};
static_assert(sizeof(RawRecord) == 32, "raw record layout is the file format");

inline constexpr uint64_t make_word(uint64_t seq, uint8_t op, uint8_t flags) {
  return seq << 8 | static_cast<uint64_t>(flags & 0xf) << 4 | (op & 0xf);
}
inline constexpr uint64_t record_seq(uint64_t word) { return word >> 8; }
inline constexpr uint8_t record_op(uint64_t word) { return word & 0xf; }
inline constexpr uint8_t record_flags(uint64_t word) { return (word >> 4) & 0xf; }

inline constexpr char kFileMagic[8] = {'A', 'M', 'K', 'R', 'A', 'W', '0', '1'};
inline constexpr uint32_t kBlockMagic = 0x424b4d41;  // "AMKB"

// At offset 0 of every raw file.
struct FileHeader {
  char magic[8];
  uint32_t pid;
  uint32_t ppid;
  uint64_t start_ns;  // CLOCK_REALTIME at library start (orders the images of one pid)
  uint32_t forked;    // 1: this image is a fork() child of a recorded process
  // 0, or the errno of the first write the library could not complete (disk full, file size
  // limit): it wrote nothing after it, so the records from there on are missing. Set in place
  // (the header's bytes already exist, so this write needs no new space).
  uint32_t write_errno;
};
static_assert(sizeof(FileHeader) == 32);

// Before every run of records. A block is written with one write(2) on an O_APPEND file, so
// blocks of different threads never interleave.
struct BlockHeader {
  uint32_t magic;
  uint32_t thread;  // per-process thread serial (1, 2, ...): OS tids are reused, serials not
  uint32_t count;   // records that follow
  uint32_t tid;     // OS thread id, for humans
};
static_assert(sizeof(BlockHeader) == 16);

// Environment the library reads (set by `allocmark record`).
inline constexpr char kEnvDir[] = "ALLOCMARK_RECORD_DIR";               // where raw files go
inline constexpr char kEnvParentPid[] = "ALLOCMARK_RECORD_PARENT_PID";  // pid of `allocmark record`
inline constexpr char kEnvNoChildren[] = "ALLOCMARK_RECORD_NO_CHILDREN";  // "1": root only

}  // namespace allocmark::raw
