// Raw recorder files to traces: a k-way merge of the threads' record blocks by sequence number.
// Layer: workloads/recorder. Cost: one hash lookup per record (pointer -> object id).
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
#include <queue>
#include <utility>

#include "workloads/trace_builder.h"

namespace allocmark {
namespace {

using raw::RawRecord;

// A read-only mapping of a whole file, unmapped on destruction.
class MappedFile {
 public:
  bool open(const std::string& path, std::string* error) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(path + ": cannot open: " + std::strerror(errno), error);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      ::close(fd);
      return fail(path + ": cannot stat: " + std::strerror(errno), error);
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_) {
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return fail(path + ": cannot map: " + std::strerror(errno), error);
      }
      data_ = static_cast<const unsigned char*>(p);
      madvise(p, size_, MADV_SEQUENTIAL);
    }
    ::close(fd);
    return true;
  }
  ~MappedFile() {
    if (data_) munmap(const_cast<unsigned char*>(data_), size_);
  }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  static bool fail(std::string message, std::string* error) {
    *error = std::move(message);
    return false;
  }
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

bool read_header(const MappedFile& file, const std::string& path, raw::FileHeader* h,
                 std::string* error) {
  if (file.size() < sizeof *h) {
    *error = path + ": offset 0: expected a " + std::to_string(sizeof *h) +
             "-byte raw header, file has " + std::to_string(file.size()) + " bytes";
    return false;
  }
  std::memcpy(h, file.data(), sizeof *h);
  if (std::memcmp(h->magic, raw::kFileMagic, sizeof h->magic) != 0) {
    *error = path + ": offset 0: not a recorder raw file (bad magic)";
    return false;
  }
  return true;
}

// Live pointer -> object id: open addressing, linear probing, backward-shift deletion. A recorded
// program can hold tens of millions of live blocks; std::unordered_map spent a third of the
// conversion in node allocation and pointer chasing. Key 0 marks an empty slot (no block is at 0).
class PointerMap {
 public:
  PointerMap() { rehash(1u << 16); }
  // The slot holding `key`, or the empty slot where it would go.
  size_t slot(uint64_t key) const {
    size_t i = hash(key);
    while (keys_[i] != 0 && keys_[i] != key) i = (i + 1) & mask_;
    return i;
  }
  bool found(size_t i) const { return keys_[i] != 0; }
  uint32_t value(size_t i) const { return values_[i]; }
  void set(size_t i, uint32_t v) { values_[i] = v; }
  void insert_at(size_t i, uint64_t key, uint32_t v) {
    keys_[i] = key;
    values_[i] = v;
    if (++size_ * 2 > keys_.size()) rehash(keys_.size() * 2);
  }
  void erase_at(size_t i) {
    --size_;
    for (size_t j = (i + 1) & mask_; keys_[j] != 0; j = (j + 1) & mask_) {
      const size_t home = hash(keys_[j]);
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        keys_[i] = keys_[j];
        values_[i] = values_[j];
        i = j;
      }
    }
    keys_[i] = 0;
  }

 private:
  size_t hash(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void rehash(size_t capacity) {
    std::vector<uint64_t> keys(capacity, 0);
    std::vector<uint32_t> values(capacity, 0);
    keys.swap(keys_);
    values.swap(values_);
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == 0) continue;
      size_t j = hash(keys[i]);
      while (keys_[j] != 0) j = (j + 1) & mask_;
      keys_[j] = keys[i];
      values_[j] = values[i];
    }
  }
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> values_;
  size_t mask_ = 0;
  size_t size_ = 0;
  int shift_ = 64;
};

// One thread's records: its blocks in file order, read with a cursor that skips records already
// seen (the exit snapshot may have written a prefix of a buffer its owner wrote again later).
struct ThreadCursor {
  uint32_t serial = 0;
  std::vector<std::pair<const RawRecord*, uint32_t>> blocks;
  size_t block = 0;
  uint32_t index = 0;
  uint64_t last_seq = 0;
  bool any = false;
  bool exit_seen = false;
  uint32_t builder_thread = UINT32_MAX;
  uint32_t pending_realloc = kNoObject;  // object detached by a kReallocFree record
  bool pending_unknown = false;

  // The next record not yet seen, or null at the end. Copies: the mapping may be unaligned.
  bool peek(RawRecord* out, uint64_t* duplicates) {
    while (block < blocks.size()) {
      if (index >= blocks[block].second) {
        ++block;
        index = 0;
        continue;
      }
      std::memcpy(out, blocks[block].first + index, sizeof *out);
      if (any && raw::record_seq(out->word) <= last_seq) {
        ++*duplicates;
        ++index;
        continue;
      }
      return true;
    }
    return false;
  }
  void consume(const RawRecord& r) {
    last_seq = raw::record_seq(r.word);
    any = true;
    ++index;
  }
};

class Converter {
 public:
  Converter(std::string path, RecordStats* stats) : path_(std::move(path)), stats_(stats) {}

  bool run(const MappedFile& file, Trace* trace, std::string* error) {
    if (!index_blocks(file, error)) return false;
    // Min-heap of (next sequence number, thread): the recorded global order.
    using Item = std::pair<uint64_t, uint32_t>;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
    RawRecord r;
    for (uint32_t i = 0; i < threads_.size(); ++i)
      if (threads_[i].peek(&r, &stats_->duplicates)) heap.push({raw::record_seq(r.word), i});
    while (!heap.empty()) {
      const uint32_t i = heap.top().second;
      heap.pop();
      ThreadCursor& c = threads_[i];
      if (c.builder_thread == UINT32_MAX) c.builder_thread = builder_.thread(c.serial);
      // Stay on this thread while its records come before every other thread's next one: a
      // single-threaded program never touches the heap again.
      bool more = c.peek(&r, &stats_->duplicates);
      while (more) {
        c.consume(r);
        if (!apply(c, r, error)) return false;
        ++stats_->records;
        more = c.peek(&r, &stats_->duplicates);
        if (more && !heap.empty() && raw::record_seq(r.word) > heap.top().first) break;
      }
      if (more) {
        heap.push({raw::record_seq(r.word), i});
      } else if (c.exit_seen && !builder_.thread_exit(c.builder_thread)) {
        return fail(r, error);
      }
    }
    stats_->threads = static_cast<uint32_t>(threads_.size());
    stats_->final_live_bytes = live_;
    *trace = builder_.finish();
    return true;
  }

 private:
  bool index_blocks(const MappedFile& file, std::string* error) {
    std::map<uint32_t, uint32_t> by_serial;
    size_t off = sizeof(raw::FileHeader);
    while (off < file.size()) {
      raw::BlockHeader b;
      if (file.size() - off < sizeof b) {
        stats_->truncated_bytes = file.size() - off;
        break;
      }
      std::memcpy(&b, file.data() + off, sizeof b);
      if (b.magic != raw::kBlockMagic) {
        *error = path_ + ": offset " + std::to_string(off) + ": expected a record block";
        return false;
      }
      const size_t bytes = static_cast<size_t>(b.count) * sizeof(RawRecord);
      if (file.size() - off - sizeof b < bytes) {
        stats_->truncated_bytes = file.size() - off;
        break;
      }
      auto [it, inserted] = by_serial.try_emplace(b.thread, static_cast<uint32_t>(threads_.size()));
      if (inserted) {
        threads_.emplace_back();
        threads_.back().serial = b.thread;
      }
      threads_[it->second].blocks.push_back(
          {reinterpret_cast<const RawRecord*>(file.data() + off + sizeof b), b.count});
      off += sizeof b + bytes;
    }
    return true;
  }

  bool fail(const RawRecord& r, std::string* error) {
    *error = path_ + ": record with sequence " + std::to_string(raw::record_seq(r.word)) + ": " +
             builder_.error();
    return false;
  }

  void grow(uint32_t obj, uint64_t size) {
    if (obj >= sizes_.size()) sizes_.resize(obj + 1, 0);
    live_ += size - sizes_[obj];
    sizes_[obj] = size;
    peak_ = std::max(peak_, live_);
    stats_->peak_live_bytes = peak_;
  }
  void drop(uint32_t obj) {
    live_ -= sizes_[obj];
    sizes_[obj] = 0;
  }

  // A new block at `ptr`. A pointer still mapped means its free was never seen (a path we do
  // not interpose): the old object is freed here so the trace stays consistent.
  bool bind(ThreadCursor& c, uint64_t ptr, uint32_t obj, const RawRecord& r, std::string* error) {
    const size_t i = objects_.slot(ptr);
    if (!objects_.found(i)) {
      objects_.insert_at(i, ptr, obj);
      return true;
    }
    ++stats_->implicit_frees;
    if (!builder_.free(c.builder_thread, objects_.value(i))) return fail(r, error);
    drop(objects_.value(i));
    objects_.set(i, obj);
    return true;
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
        c.pending_realloc = c.pending_unknown ? kNoObject : objects_.value(i);
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
    if (!bind(c, r.ptr, obj, r, error)) return false;
    bool ok;
    uint64_t total = r.size;
    if (raw::record_op(r.word) == raw::kMalloc) {
      ok = builder_.malloc(t, obj, r.size, cxx);
    } else if (raw::record_op(r.word) == raw::kAligned) {
      ok = builder_.aligned_alloc(t, obj, r.aux, r.size, cxx);
    } else if (r.aux <= UINT32_MAX) {
      total = r.aux * r.size;  // the real calloc succeeded, so this cannot overflow
      ok = builder_.calloc(t, obj, r.aux, r.size);
    } else {
      total = r.aux * r.size;
      ok = builder_.malloc(t, obj, total);
    }
    if (!ok) return fail(r, error);
    grow(obj, total);
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
    if (!builder_.free(c.builder_thread, objects_.value(i),
                       flags & raw::kRawSized ? kFlagSizedFree : 0))
      return fail(r, error);
    drop(objects_.value(i));
    objects_.erase_at(i);
    return true;
  }

  // realloc's result: the object its kReallocFree half took (moved), or the one at r.aux (in
  // place), or, when neither is known, a realloc from null of a new object.
  bool reallocation(ThreadCursor& c, const RawRecord& r, std::string* error) {
    const uint32_t t = c.builder_thread;
    uint32_t obj = kNoObject;
    bool moved = c.pending_realloc != kNoObject || c.pending_unknown;
    if (moved) {
      obj = c.pending_realloc;
      c.pending_realloc = kNoObject;
      c.pending_unknown = false;
    } else if (r.aux) {
      const size_t i = objects_.slot(r.aux);
      if (objects_.found(i)) {
        obj = objects_.value(i);
        objects_.erase_at(i);
      }
    }
    if (obj == kNoObject) {
      if (r.aux) ++stats_->unknown_reallocs;
      obj = builder_.new_object();
      if (!bind(c, r.ptr, obj, r, error)) return false;
      if (!builder_.realloc_from_null(t, obj, r.size)) return fail(r, error);
    } else {
      if (!bind(c, r.ptr, obj, r, error)) return false;
      if (!builder_.realloc(t, obj, r.size)) return fail(r, error);
    }
    grow(obj, r.size);
    return true;
  }

  std::string path_;
  RecordStats* stats_;
  std::vector<ThreadCursor> threads_;
  TraceBuilder builder_;
  PointerMap objects_;           // live pointer -> object id
  std::vector<uint64_t> sizes_;  // object id -> live size (0 when dead)
  uint64_t live_ = 0;
  uint64_t peak_ = 0;
};

}  // namespace

bool list_raw_processes(const std::string& dir, std::vector<RawProcess>* out, std::string* error) {
  std::error_code ec;
  std::map<uint32_t, std::vector<std::pair<uint64_t, RawProcess>>> by_pid;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".raw") continue;
    MappedFile file;
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
  *stats = RecordStats();
  MappedFile file;
  if (!file.open(path, error)) return false;
  raw::FileHeader h;
  if (!read_header(file, path, &h, error)) return false;
  Converter converter(path, stats);
  return converter.run(file, trace, error);
}

}  // namespace allocmark
