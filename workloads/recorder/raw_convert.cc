// Raw recorder files to traces: a k-way merge of the threads' record blocks by sequence number.
// Layer: workloads/recorder. Cost: per record, one lookup in the pointer map (which holds each
// live block's state for the builder too), its cache misses overlapped by prefetching
// (Converter::prefetch).
#include "workloads/recorder/raw_convert.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <queue>
#include <utility>

#include "workloads/recorder/pointer_map.h"
#include "workloads/trace_builder.h"

namespace allocmark {
namespace {

using raw::RawRecord;

// A live block: its object id and the state the builder needs of it (held here instead of in
// the builder's own table, see TraceBuilder::malloc's `held`). 32 bytes with its key.
struct Block {
  uint32_t obj = kNoObject;
  TraceBuilder::ObjectLife life;
};
static_assert(sizeof(Block) == 24, "with its key, a 32-byte slot: two per cache line");

// A read-only shared mapping of a file that may still grow (the recording library appends to
// it while we convert). The mapping reserves more address space than the file holds, doubling
// when the file outgrows it, so a growing file costs one remap per doubling, not one per read.
// Bytes below size() are valid; pages past the end of the file are never touched.
class GrowingFile {
 public:
  GrowingFile() = default;
  GrowingFile(const GrowingFile&) = delete;
  GrowingFile& operator=(const GrowingFile&) = delete;
  ~GrowingFile() {
    if (data_) munmap(const_cast<unsigned char*>(data_), mapped_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool open(const std::string& path, std::string* error) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return fail("cannot open", error);
    return refresh(error);
  }
  // Picks up what was appended since the last call.
  bool refresh(std::string* error) {
    struct stat st;
    if (fstat(fd_, &st) != 0) return fail("cannot stat", error);
    const size_t size = static_cast<size_t>(st.st_size);
    if (size > mapped_) {
      const size_t want = std::max<size_t>(std::bit_ceil(size) * 2, size_t{64} << 20);
      void* p = mmap(nullptr, want, PROT_READ, MAP_SHARED, fd_, 0);
      if (p == MAP_FAILED) return fail("cannot map", error);
      if (data_) munmap(const_cast<unsigned char*>(data_), mapped_);
      data_ = static_cast<const unsigned char*>(p);
      mapped_ = want;
      madvise(p, want, MADV_SEQUENTIAL);
    }
    // Maps the new bytes' pages in one call instead of one page fault each (the converter reads
    // every byte once). A hint: kernels before 5.14 refuse it and the faults happen as before.
    if (size > size_) {
      const size_t from = size_ & ~size_t{4095};
      madvise(const_cast<unsigned char*>(data_) + from, size - from, MADV_POPULATE_READ);
      size_ = size;  // never shrinks: the recorder only appends
    }
    return true;
  }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  bool fail(const char* what, std::string* error) {
    *error = path_ + ": " + what + ": " + std::strerror(errno);
    return false;
  }
  std::string path_;
  int fd_ = -1;
  const unsigned char* data_ = nullptr;
  size_t mapped_ = 0;
  size_t size_ = 0;
};

bool read_header(const GrowingFile& file, const std::string& path, raw::FileHeader* h,
                 std::string* error) {
  if (file.size() < sizeof *h) {
    *error = path + ": offset 0: expected a " + std::to_string(sizeof *h) +
             "-byte raw header, file has " + std::to_string(file.size()) +
             " bytes (the recording library could not write it: disk full?)";
    return false;
  }
  std::memcpy(h, file.data(), sizeof *h);
  if (std::memcmp(h->magic, raw::kFileMagic, sizeof h->magic) != 0) {
    *error = path + ": offset 0: not a recorder raw file (bad magic)";
    return false;
  }
  return true;
}

// One thread's records: its blocks (file offset of the first record, count) in file order, read
// with a cursor that skips records already seen (the exit snapshot may have written a prefix of a
// buffer its owner wrote again later). Offsets, not pointers: the mapping moves as the file grows.
struct ThreadCursor {
  uint32_t serial = 0;
  std::vector<std::pair<size_t, uint32_t>> blocks;
  size_t block = 0;
  uint32_t index = 0;
  uint64_t last_seq = 0;
  bool any = false;
  bool exit_seen = false;
  bool retired = false;  // its records are all converted and none can follow
  uint32_t builder_thread = UINT32_MAX;
  Block pending_realloc;  // block detached by a kReallocFree record (obj kNoObject: none)
  bool pending_unknown = false;

  // The next record not yet seen, or false when none has arrived yet. Copies: the mapping may
  // be unaligned.
  bool peek(const unsigned char* base, RawRecord* out, uint64_t* duplicates) {
    while (block < blocks.size()) {
      if (index >= blocks[block].second) {
        ++block;
        index = 0;
        continue;
      }
      std::memcpy(out, base + blocks[block].first + size_t{index} * sizeof *out, sizeof *out);
      if (any && raw::record_seq(out->word) <= last_seq) {
        ++*duplicates;
        ++index;
        continue;
      }
      return true;
    }
    return false;
  }
  // The record k places after the next one, when it is in the same block: for prefetching only
  // (the cursor may still skip it as a duplicate).
  bool ahead(const unsigned char* base, uint32_t k, RawRecord* out) const {
    if (block >= blocks.size() || index + k >= blocks[block].second) return false;
    std::memcpy(out, base + blocks[block].first + size_t{index + k} * sizeof *out, sizeof *out);
    return true;
  }
  void consume(const RawRecord& r) {
    last_seq = raw::record_seq(r.word);
    any = true;
    ++index;
  }
};

// The k-way merge of one raw file's threads by sequence number, fed a block at a time.
//
// Converting while the program runs: a record may be converted once no thread can still hold an
// earlier one in its unwritten buffer. Every thread announces itself (an empty block) before it
// takes its first sequence number, and blocks are appended with O_APPEND, so when a record with
// sequence s is in the file, every thread that took a number below s is already known. The
// merge therefore advances only while every known thread has a record waiting (its next one is
// later than anything it could still write); a thread whose records ran out stops the merge
// until more arrive or the file is final. A single-threaded program never waits; a threaded one
// may wait for its idle threads, and at worst is converted at the end, as before. The order is
// the same either way: each step takes the lowest sequence number of all that remain.
class Converter {
 public:
  Converter(std::string path, RecordStats* stats, TraceWriter* writer)
      : path_(std::move(path)), stats_(stats), writer_(writer), builder_(writer) {}

  // Indexes the blocks appended since the last call and converts what can be. `final`: nothing
  // writes the file any more, so every remaining record is converted.
  bool advance(const GrowingFile& file, bool final, std::string* error) {
    if (!index_blocks(file, final, error)) return false;
    return merge(file.data(), final, error);
  }

  void finish(Trace* trace) {
    stats_->threads = static_cast<uint32_t>(threads_.size());
    stats_->final_live_bytes = live_;
    stats_->events = builder_.events();
    stats_->trace_threads = builder_.thread_count();
    stats_->trace_peak_live_bytes = builder_.peak_live_bytes();
    if (writer_)
      writer_->declare(builder_.thread_count(), builder_.object_count());
    else if (trace)
      *trace = builder_.finish();
  }

 private:
  // Min-heap of (next sequence number, thread): the recorded global order.
  using Item = std::pair<uint64_t, uint32_t>;

  // Threads not in the heap get in when a record of theirs has arrived; at the end, those with
  // none left are retired (their thread exit, if recorded, goes at their last record's place).
  bool admit_waiting(const unsigned char* base, bool final, std::string* error) {
    RawRecord r{};
    size_t kept = 0;
    for (uint32_t i : waiting_) {
      ThreadCursor& c = threads_[i];
      if (c.peek(base, &r, &stats_->duplicates)) {
        heap_.push({raw::record_seq(r.word), i});
      } else if (final) {
        c.retired = true;
        r.word = raw::make_word(c.last_seq, raw::kThreadExit, 0);
        if (c.exit_seen && !builder_.thread_exit(c.builder_thread)) return fail(r, error);
      } else {
        waiting_[kept++] = i;
      }
    }
    waiting_.resize(kept);
    return true;
  }

  bool merge(const unsigned char* base, bool final, std::string* error) {
    RawRecord r;
    for (;;) {
      if (!admit_waiting(base, final, error)) return false;
      if (!waiting_.empty() || heap_.empty()) return true;
      const uint32_t i = heap_.top().second;
      heap_.pop();
      ThreadCursor& c = threads_[i];
      if (c.builder_thread == UINT32_MAX) c.builder_thread = builder_.thread(c.serial);
      // Stay on this thread while its records come before every other thread's next one: a
      // single-threaded program never touches the heap again.
      bool more = c.peek(base, &r, &stats_->duplicates);
      while (more) {
        c.consume(r);
        prefetch(c, base);
        if (!apply(c, r, error)) return false;
        ++stats_->records;
        more = c.peek(base, &r, &stats_->duplicates);
        if (more && !heap_.empty() && raw::record_seq(r.word) > heap_.top().first) break;
      }
      if (more)
        heap_.push({raw::record_seq(r.word), i});
      else
        waiting_.push_back(i);
    }
  }

  // The pointer map is far larger than the cache (python3: 128 MiB) and every record looks it
  // up: a miss each where the heap region is not already in cache, which were most of the
  // conversion's time. So the pointer map's slot of the thread's record kAhead places on is
  // loaded first, and the misses overlap. Its own thread only: in a threaded program another
  // thread's record may come between, which costs a useless prefetch, never a wrong result.
  // Cost: a read of a record in cache per record. 16 and 64 places did no better.
  static constexpr uint32_t kAhead = 32;
  [[gnu::always_inline]] void prefetch(const ThreadCursor& c, const unsigned char* base) {
    RawRecord r;
    if (!c.ahead(base, kAhead, &r)) return;
    objects_.prefetch(r.ptr);
    if (raw::record_op(r.word) == raw::kRealloc && r.aux && r.aux != r.ptr)
      objects_.prefetch(r.aux);
  }

  // Blocks from scan_ on. A block not yet complete is left for the next call, or, in the final
  // call, counted as cut off (the process was killed mid-write).
  bool index_blocks(const GrowingFile& file, bool final, std::string* error) {
    size_t off = scan_;
    while (off < file.size()) {
      raw::BlockHeader b;
      const size_t left = file.size() - off;
      if (left < sizeof b) break;
      std::memcpy(&b, file.data() + off, sizeof b);
      if (b.magic != raw::kBlockMagic) {
        *error = path_ + ": offset " + std::to_string(off) + ": expected a record block";
        return false;
      }
      const size_t bytes = static_cast<size_t>(b.count) * sizeof(RawRecord);
      if (left - sizeof b < bytes) break;
      auto [it, inserted] =
          by_serial_.try_emplace(b.thread, static_cast<uint32_t>(threads_.size()));
      if (inserted) {
        threads_.emplace_back();
        threads_.back().serial = b.thread;
        waiting_.push_back(it->second);
      }
      if (b.count) threads_[it->second].blocks.push_back({off + sizeof b, b.count});
      off += sizeof b + bytes;
    }
    scan_ = off;
    if (final) stats_->truncated_bytes = file.size() - off;
    return true;
  }

  bool fail(const RawRecord& r, std::string* error) {
    *error = path_ + ": record with sequence " + std::to_string(raw::record_seq(r.word)) + ": " +
             builder_.error();
    return false;
  }

  // Live bytes from the records, beside the builder's own count and independently of
  // check_trace.
  void grow(uint64_t old_size, uint64_t new_size) {
    live_ += new_size - old_size;
    peak_ = std::max(peak_, live_);
    stats_->peak_live_bytes = peak_;
  }

  // Binds `b` to `ptr` and returns where it lies in the map (valid until the map's next
  // change), or null with *error. A pointer still mapped means its free was never seen (a path
  // we do not interpose): the old object is freed here so the trace stays consistent.
  Block* bind(ThreadCursor& c, uint64_t ptr, const Block& b, const RawRecord& r,
              std::string* error) {
    const size_t i = objects_.slot(ptr);
    if (!objects_.found(i)) return &objects_.insert_at(i, ptr, b);
    ++stats_->implicit_frees;
    Block& old = objects_.value(i);
    const uint64_t size = old.life.size;
    if (!builder_.free(c.builder_thread, old.obj, 0, &old.life)) return fail(r, error), nullptr;
    live_ -= size;
    old = b;
    return &old;
  }

  bool apply(ThreadCursor& c, const RawRecord& r, std::string* error) {
    switch (raw::record_op(r.word)) {
      case raw::kMalloc:
      case raw::kCalloc:
      case raw::kAligned:
        return allocation(c, r, error);
      case raw::kFree:
        return release(c, r, error);
      case raw::kReallocFree: {
        const size_t i = objects_.slot(r.ptr);
        c.pending_unknown = !objects_.found(i);
        c.pending_realloc = c.pending_unknown ? Block{} : objects_.value(i);
        if (!c.pending_unknown) objects_.erase_at(i);
        return true;
      }
      case raw::kRealloc:
        return reallocation(c, r, error);
      case raw::kThreadExit:
        c.exit_seen = true;
        return true;
      default:
        *error = path_ + ": record with sequence " + std::to_string(raw::record_seq(r.word)) +
                 ": unknown op " + std::to_string(raw::record_op(r.word));
        return false;
    }
  }

  // malloc / calloc / aligned: a new object bound to r.ptr. A calloc with more than 2^32
  // members does not fit the event, so it becomes a malloc of the product.
  bool allocation(ThreadCursor& c, const RawRecord& r, std::string* error) {
    const uint32_t t = c.builder_thread;
    const uint16_t cxx = raw::record_flags(r.word) & raw::kRawCxx ? kFlagCxx : 0;
    const uint32_t obj = builder_.new_object();
    // Unbind first: an implicit free must precede the new block's allocation.
    Block* b = bind(c, r.ptr, Block{obj, {}}, r, error);
    if (!b) return false;
    bool ok;
    uint64_t total = r.size;
    if (raw::record_op(r.word) == raw::kMalloc) {
      ok = builder_.malloc(t, obj, r.size, cxx, &b->life);
    } else if (raw::record_op(r.word) == raw::kAligned) {
      ok = builder_.aligned_alloc(t, obj, r.aux, r.size, cxx, &b->life);
    } else if (r.aux <= UINT32_MAX) {
      total = r.aux * r.size;  // the real calloc succeeded, so this cannot overflow
      ok = builder_.calloc(t, obj, r.aux, r.size, &b->life);
    } else {
      total = r.aux * r.size;
      ok = builder_.malloc(t, obj, total, 0, &b->life);
    }
    if (!ok) return fail(r, error);
    grow(0, total);
    return true;
  }

  // free of r.ptr; a pointer we never saw allocated is counted and passed over.
  bool release(ThreadCursor& c, const RawRecord& r, std::string* error) {
    const size_t i = objects_.slot(r.ptr);
    if (!objects_.found(i)) {
      ++stats_->unknown_frees;
      return true;
    }
    const uint8_t flags = raw::record_flags(r.word);
    Block& b = objects_.value(i);
    const uint64_t size = b.life.size;
    if (!builder_.free(c.builder_thread, b.obj, flags & raw::kRawSized ? kFlagSizedFree : 0,
                       &b.life))
      return fail(r, error);
    live_ -= size;
    objects_.erase_at(i);
    return true;
  }

  // realloc's result: the object its kReallocFree half took (moved), or the one at r.aux (in
  // place), or, when neither is known, a realloc from null of a new object.
  bool reallocation(ThreadCursor& c, const RawRecord& r, std::string* error) {
    const uint32_t t = c.builder_thread;
    Block* b = nullptr;
    Block resized;  // the object resized, unbound from its old address
    const bool moved = c.pending_realloc.obj != kNoObject || c.pending_unknown;
    if (moved) {
      resized = c.pending_realloc;
      c.pending_realloc = Block{};
      c.pending_unknown = false;
    } else if (r.aux) {
      const size_t i = objects_.slot(r.aux);
      if (objects_.found(i)) {
        if (r.aux == r.ptr) {
          b = &objects_.value(i);  // in place: it stays bound where it is
        } else {
          resized = objects_.value(i);
          objects_.erase_at(i);
        }
      }
    }
    if (!b && resized.obj == kNoObject) {
      if (r.aux) ++stats_->unknown_reallocs;
      const uint32_t obj = builder_.new_object();
      if (!(b = bind(c, r.ptr, Block{obj, {}}, r, error))) return false;
      if (!builder_.realloc_from_null(t, obj, r.size, &b->life)) return fail(r, error);
      grow(0, r.size);
    } else {
      if (!b && !(b = bind(c, r.ptr, resized, r, error))) return false;
      const uint64_t old = b->life.size;
      if (!builder_.realloc(t, b->obj, r.size, &b->life)) return fail(r, error);
      grow(old, r.size);
    }
    return true;
  }

  std::string path_;
  RecordStats* stats_;
  TraceWriter* writer_;  // null: the builder keeps the trace
  std::vector<ThreadCursor> threads_;
  std::map<uint32_t, uint32_t> by_serial_;  // thread serial -> index in threads_
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap_;
  std::vector<uint32_t> waiting_;          // threads with no record at hand, not retired
  size_t scan_ = sizeof(raw::FileHeader);  // file offset of the first block not yet indexed
  TraceBuilder builder_;
  PointerMap<Block> objects_;  // live pointer -> its object
  uint64_t live_ = 0;
  uint64_t peak_ = 0;
};

}  // namespace

struct RawStreamConverter::Impl {
  Impl(std::string p, OpenWriter o) : path(std::move(p)), open_writer(std::move(o)) {}
  // Made when the header has arrived: the writer, if any, is opened then.
  bool start(const raw::FileHeader& h) {
    TraceWriter* writer = nullptr;
    if (open_writer && !(writer = open_writer(h, &error))) return false;
    converter = std::make_unique<Converter>(path, &stats, writer);
    return true;
  }
  std::string path;
  OpenWriter open_writer;
  GrowingFile file;
  RecordStats stats;
  std::unique_ptr<Converter> converter;
  uint32_t write_errno = 0;
  bool opened = false;
  std::string error;  // sticky: the first failure
};

RawStreamConverter::RawStreamConverter(std::string path, OpenWriter open_writer)
    : impl_(std::make_unique<Impl>(std::move(path), std::move(open_writer))) {}
RawStreamConverter::~RawStreamConverter() = default;

// The file exists as soon as the library opened it, possibly before its header is written: until
// then (and short of final) there is nothing to do yet. The header is read at every call: the
// library marks a failed write in it, and converting stops there (the rest is missing, and what
// follows a partial block is not to be trusted).
bool RawStreamConverter::advance(bool final, std::string* error) {
  Impl& m = *impl_;
  if (!m.error.empty()) return *error = m.error, false;
  bool ok = m.opened ? m.file.refresh(&m.error) : (m.opened = m.file.open(m.path, &m.error));
  if (ok && !final && m.file.size() < sizeof(raw::FileHeader)) return true;
  raw::FileHeader h;
  ok = ok && read_header(m.file, m.path, &h, &m.error);
  if (ok && h.write_errno) {
    m.write_errno = h.write_errno;
    m.error = m.path + ": the recording library could not write its records (" +
              std::strerror(static_cast<int>(h.write_errno)) + "), so the rest are missing";
    ok = false;
  }
  ok = ok && (m.converter || m.start(h)) && m.converter->advance(m.file, final, &m.error);
  if (!ok) *error = m.error;
  return ok;
}

void RawStreamConverter::finish(Trace* trace, RecordStats* stats) {
  if (impl_->converter) impl_->converter->finish(trace);
  *stats = impl_->stats;
}

uint32_t RawStreamConverter::write_errno() const { return impl_->write_errno; }

uint64_t RawStreamConverter::records() const { return impl_->stats.records; }

bool list_raw_processes(const std::string& dir, std::vector<RawProcess>* out, std::string* error) {
  std::error_code ec;
  std::map<uint32_t, std::vector<std::pair<uint64_t, RawProcess>>> by_pid;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".raw") continue;
    GrowingFile file;
    if (!file.open(entry.path().string(), error)) return false;
    raw::FileHeader h;
    if (!read_header(file, entry.path().string(), &h, error)) return false;
    RawProcess p;
    p.pid = h.pid;
    p.ppid = h.ppid;
    p.forked = h.forked != 0;
    p.path = entry.path().string();
    by_pid[h.pid].push_back({h.start_ns, std::move(p)});
  }
  if (ec) {
    *error = dir + ": cannot list: " + ec.message();
    return false;
  }
  out->clear();
  for (auto& [pid, images] : by_pid) {
    std::sort(images.begin(), images.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    RawProcess last = std::move(images.back().second);
    for (size_t i = 0; i + 1 < images.size(); ++i) last.replaced.push_back(images[i].second.path);
    // An exec'd image reports the pid's parent; a fork child is recognised by its first image.
    last.forked = images.front().second.forked;
    out->push_back(std::move(last));
  }
  return true;
}

bool convert_raw_file(const std::string& path, Trace* trace, RecordStats* stats,
                      std::string* error) {
  RawStreamConverter converter(path);
  if (!converter.advance(true, error)) return false;
  converter.finish(trace, stats);
  return true;
}

}  // namespace allocmark
