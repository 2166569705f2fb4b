// Streaming writer and reader of trace files (format v2; v1 read whole), and the streaming
// check. Layer: workloads. See workloads/FORMAT.md.
#include "workloads/trace_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>

#include "base/atomic_file.h"
#include "workloads/trace_check.h"
#include "workloads/trace_order.h"

namespace allocmark {
namespace {

constexpr size_t kRawFlushBytes = 1 << 20;  // encoded bytes handed to zstd at a time
constexpr size_t kReadBlock = 1 << 20;
constexpr size_t kRawWindow = 4 << 20;

}  // namespace

// ---- writer ----

TraceWriter::~TraceWriter() { abandon(); }

void TraceWriter::abandon() {
  if (fd_ >= 0) {
    close(fd_);
    unlink(tmp_.c_str());
    fd_ = -1;
  }
  if (cctx_) ZSTD_freeCCtx(cctx_);
  if (xxh_) XXH64_freeState(static_cast<XXH64_state_t*>(xxh_));
  cctx_ = nullptr;
  xxh_ = nullptr;
}

bool TraceWriter::open(const std::string& path, const std::string& metadata_json, int level,
                       TraceError* error) {
  path_ = path;
  tmp_ = path + ".tmp";
  if (metadata_json.size() > codec::kMaxMetadataBytes)
    return *error = TraceError{path, 0, "file", "metadata larger than 1 MiB"}, false;
  fd_ = ::open(tmp_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0)
    return *error = TraceError{path, 0, "file", std::string("cannot create: ") + strerror(errno)},
           false;
  cctx_ = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  // A 4 MiB window, no long-distance matching: the reader's zstd window is allocated by the
  // frame's window size and fills as it decodes, so a 128 MiB LDM window became 124 MiB of
  // "heap" growth in every streamed replay. Cost in size: see workloads/FORMAT.md.
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_windowLog, 22);
  // One compression thread beside the caller: generation and compression overlap on two cores.
  // A libzstd built without threads refuses the parameter and compresses inline.
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_nbWorkers, 1);
  auto* st = XXH64_createState();
  XXH64_reset(st, 0);
  XXH64_update(st, metadata_json.data(), metadata_json.size());
  xxh_ = st;
  metadata_bytes_ = static_cast<uint32_t>(metadata_json.size());
  const codec::Header blank{};  // rewritten by finish()
  if (!write_all(fd_, std::string_view(reinterpret_cast<const char*>(&blank), sizeof blank)) ||
      !write_all(fd_, metadata_json))
    error_ = errno ? errno : EIO;
  return true;
}

void TraceWriter::declare(uint32_t threads, uint32_t objects) {
  threads_ = std::max(threads_, threads);
  objects_ = std::max(objects_, objects);
}

void TraceWriter::grow(uint32_t thread) {
  if (thread >= states_.size()) states_.resize(thread + 1);
  threads_ = std::max(threads_, thread + 1);
  if (run_len_ + codec::kMaxEventBytes > run_bytes_.size())
    run_bytes_.resize(std::max<size_t>(run_bytes_.size() * 2, 1 << 16));
}

void TraceWriter::flush_run() {
  if (run_count_ == 0) return;
  put_varint(raw_, run_thread_);
  put_varint(raw_, run_count_);
  raw_.append(reinterpret_cast<const char*>(run_bytes_.data()), run_len_);
  run_len_ = 0;
  run_count_ = 0;
  if (raw_.size() >= kRawFlushBytes) compress(ZSTD_e_continue);
}

// Hands raw_ to zstd and writes what comes out. Cost: zstd's, plus one write per output block.
bool TraceWriter::compress(ZSTD_EndDirective end) {
  raw_bytes_ += raw_.size();
  ZSTD_inBuffer in{raw_.data(), raw_.size(), 0};
  out_.resize(ZSTD_CStreamOutSize());
  for (;;) {
    ZSTD_outBuffer o{out_.data(), out_.size(), 0};
    const size_t left = ZSTD_compressStream2(cctx_, &o, &in, end);
    if (ZSTD_isError(left)) {
      error_ = EINVAL;
      break;
    }
    if (o.pos) {
      XXH64_update(static_cast<XXH64_state_t*>(xxh_), out_.data(), o.pos);
      zstd_bytes_ += o.pos;
      if (!error_ && !write_all(fd_, std::string_view(out_.data(), o.pos)))
        error_ = errno ? errno : EIO;
    }
    if (end == ZSTD_e_continue ? in.pos == in.size : left == 0) break;
  }
  raw_.clear();
  return error_ == 0;
}

bool TraceWriter::finish(TraceError* error, std::string_view final_metadata) {
  flush_run();
  compress(ZSTD_e_end);
  uint64_t checksum = XXH64_digest(static_cast<XXH64_state_t*>(xxh_));
  if (!final_metadata.empty() && !error_) {
    if (final_metadata.size() > metadata_bytes_) {
      *error = TraceError{path_, 0, "file", "final metadata larger than the room reserved"};
      abandon();
      return false;
    }
    std::string padded(final_metadata);
    padded.resize(metadata_bytes_, ' ');
    if (pwrite(fd_, padded.data(), padded.size(), codec::kHeaderBytes) !=
            static_cast<ssize_t>(padded.size()) ||
        !codec::file_checksum(fd_, codec::kHeaderBytes, uint64_t{metadata_bytes_} + zstd_bytes_,
                              &checksum))
      error_ = errno ? errno : EIO;
  }
  codec::Header h{};
  std::memcpy(h.magic, kTraceMagic, sizeof h.magic);
  h.version = kTraceFormatVersion;
  h.header_bytes = codec::kHeaderBytes;
  h.thread_count = threads_;
  h.flags = codec::kHeaderFlagSchedule;
  h.object_count = objects_;
  h.metadata_bytes = metadata_bytes_;
  h.event_count = events_;
  h.payload_raw_bytes = raw_bytes_;
  h.payload_zstd_bytes = zstd_bytes_;
  h.checksum = checksum;
  if (!error_ && pwrite(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
    error_ = errno ? errno : EIO;
  if (!error_ && fsync(fd_) != 0) error_ = errno;
  if (!error_ && rename(tmp_.c_str(), path_.c_str()) != 0) error_ = errno;
  if (error_) {
    *error = TraceError{path_, 0, "file", std::string("write failed: ") + strerror(error_)};
    abandon();
    return false;
  }
  close(fd_);
  fd_ = -1;
  fsync_parent_dir(path_);
  abandon();
  return true;
}

// ---- reader ----

TraceReader::~TraceReader() {
  if (fd_ >= 0) close(fd_);
  if (dctx_) ZSTD_freeDCtx(dctx_);
}

bool TraceReader::fail(TraceError* error, std::string where, std::string why) {
  *error = TraceError{path_, raw_base_ + raw_pos_, std::move(where), std::move(why)};
  return false;
}

bool TraceReader::open(const std::string& path, TraceError* error) {
  path_ = path;
  auto file_error = [&](uint64_t offset, std::string why) {
    *error = TraceError{path, offset, "file", std::move(why)};
    return false;
  };
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return file_error(0, std::string("cannot open: ") + strerror(errno));
  struct stat st;
  if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) return file_error(0, "not a regular file");
  info_.file_bytes = static_cast<uint64_t>(st.st_size);
  codec::Header h{};
  if (info_.file_bytes < codec::kHeaderBytes)
    return file_error(info_.file_bytes, "file is " + std::to_string(info_.file_bytes) +
                                            " bytes, shorter than the 64-byte header");
  if (pread(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
    return file_error(0, "cannot read the header");
  std::string why;
  uint64_t offset = 0;
  if (!codec::check_header(h, info_.file_bytes, &why, &offset)) return file_error(offset, why);
  if (h.version == 1) {  // old files: decoded whole, served in recorded order
    if (!decode_trace(path, &v1_, error)) return false;
    std::string order_error;
    const bool ordered = walk_in_order(
        v1_,
        [&](uint32_t t, uint32_t) {
          if (!v1_order_.empty() && v1_order_.back().thread == t)
            ++v1_order_.back().count;
          else
            v1_order_.push_back({t, 1});
          return true;
        },
        &order_error);
    // A v1 schedule that misses events, or dependencies in a cycle: nothing to stream in order.
    if (!ordered)
      return *error = TraceError{path, 0, h.flags ? "schedule" : "dependencies", order_error},
             false;
    info_ = {1,
             h.thread_count,
             h.object_count,
             h.event_count,
             info_.file_bytes,
             (h.flags & codec::kHeaderFlagSchedule) != 0,
             v1_.metadata_json};
    done_.assign(h.thread_count, 0);
    return true;
  }
  const uint64_t body = uint64_t{h.metadata_bytes} + h.payload_zstd_bytes;
  uint64_t sum = 0;
  if (!codec::file_checksum(fd_, codec::kHeaderBytes, body, &sum))
    return file_error(codec::kHeaderBytes, "cannot read the file");
  if (sum != h.checksum)
    return file_error(codec::kHeaderBytes, "checksum mismatch (file is corrupt)");
  info_.version = 2;
  info_.recorded_order = true;
  info_.threads = h.thread_count;
  info_.objects = h.object_count;
  info_.events = h.event_count;
  info_.metadata_json.resize(h.metadata_bytes);
  if (pread(fd_, info_.metadata_json.data(), h.metadata_bytes, codec::kHeaderBytes) !=
      static_cast<ssize_t>(h.metadata_bytes))
    return file_error(codec::kHeaderBytes, "cannot read the metadata");
  file_pos_ = codec::kHeaderBytes + h.metadata_bytes;
  file_end_ = file_pos_ + h.payload_zstd_bytes;
  raw_total_ = h.payload_raw_bytes;
  dctx_ = ZSTD_createDCtx();
  in_.resize(kReadBlock);
  raw_.resize(kRawWindow);
  states_.assign(h.thread_count, {});
  done_.assign(h.thread_count, 0);
  return true;
}

// Moves the undecoded tail of the window to its front and decompresses until the window is
// full or the frame ends.
bool TraceReader::refill(TraceError* error) {
  const size_t keep = raw_end_ - raw_pos_;
  std::memmove(raw_.data(), raw_.data() + raw_pos_, keep);
  raw_base_ += raw_pos_;
  raw_pos_ = 0;
  raw_end_ = keep;
  while (!frame_done_ && raw_end_ < raw_.size()) {
    if (in_pos_ == in_end_) {
      if (file_pos_ == file_end_) return fail(error, "payload", "compressed payload is truncated");
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(in_.size(), file_end_ - file_pos_));
      const ssize_t got = pread(fd_, in_.data(), want, static_cast<off_t>(file_pos_));
      if (got <= 0) return fail(error, "file", "cannot read the payload");
      file_pos_ += static_cast<uint64_t>(got);
      in_pos_ = 0;
      in_end_ = static_cast<size_t>(got);
    }
    ZSTD_inBuffer in{in_.data(), in_end_, in_pos_};
    ZSTD_outBuffer out{raw_.data(), raw_.size(), raw_end_};
    const size_t r = ZSTD_decompressStream(dctx_, &out, &in);
    if (ZSTD_isError(r))
      return fail(error, "payload", std::string("zstd: ") + ZSTD_getErrorName(r));
    in_pos_ = in.pos;
    raw_end_ = out.pos;
    if (r == 0) frame_done_ = true;
  }
  if (raw_base_ + raw_end_ > raw_total_)
    return fail(error, "payload", "payload is larger than the header says");
  return true;
}

bool TraceReader::read_run_header(TraceError* error) {
  if (raw_end_ - raw_pos_ < 20 && !frame_done_ && !refill(error)) return false;
  ByteReader r{raw_.data(), raw_end_, raw_pos_};
  uint64_t thread, count;
  if (!r.get_varint(&thread) || !r.get_varint(&count))
    return fail(error, "payload", "truncated run header");
  if (thread >= info_.threads || count == 0 || count > info_.events - events_read_)
    return fail(error, "payload",
                "bad run header (thread " + std::to_string(thread) + ", " + std::to_string(count) +
                    " events)");
  raw_pos_ = r.pos;
  run_thread_ = static_cast<uint32_t>(thread);
  run_left_ = count;
  return true;
}

// After the last event: nothing may follow, in the window, the frame or the file.
bool TraceReader::finish_payload(TraceError* error) {
  if (raw_pos_ == raw_end_ && !frame_done_ && !refill(error)) return false;
  if (raw_pos_ != raw_end_ || !frame_done_)
    return fail(error, "payload", "unexpected bytes after the last event");
  if (in_pos_ != in_end_ || file_pos_ != file_end_)
    return fail(error, "payload", "data after the end of the zstd frame");
  if (raw_base_ + raw_end_ != raw_total_)
    return fail(error, "payload", "payload is smaller than the header says");
  return true;
}

bool TraceReader::next_v1(EventChunk* chunk, size_t max_events) {
  size_t n = 0;
  chunk->runs.clear();
  chunk->events.resize(max_events);
  while (n < max_events && v1_run_ < v1_order_.size()) {
    const ScheduleRun run = v1_order_[v1_run_];
    const uint64_t take = std::min<uint64_t>(run.count - v1_in_run_, max_events - n);
    const Event* from = v1_.threads[run.thread].events.data() + done_[run.thread];
    std::memcpy(chunk->events.data() + n, from, take * sizeof(Event));
    chunk->runs.push_back({run.thread, static_cast<uint32_t>(take)});
    done_[run.thread] += take;
    n += take;
    v1_in_run_ += take;
    if (v1_in_run_ == run.count) {
      ++v1_run_;
      v1_in_run_ = 0;
    }
  }
  chunk->events.resize(n);
  return true;
}

bool TraceReader::next(EventChunk* chunk, size_t max_events, TraceError* error) {
  if (info_.version == 1) return next_v1(chunk, max_events);
  chunk->runs.clear();
  chunk->events.resize(max_events);
  Event* out = chunk->events.data();
  size_t n = 0;
  while (n < max_events && events_read_ < info_.events) {
    if (run_left_ == 0 && !read_run_header(error)) return false;
    const uint32_t t = run_thread_;
    const uint64_t take = std::min<uint64_t>(run_left_, max_events - n);
    if (!chunk->runs.empty() && chunk->runs.back().thread == t)
      chunk->runs.back().count += static_cast<uint32_t>(take);
    else
      chunk->runs.push_back({t, static_cast<uint32_t>(take)});
    const codec::Limits limits{info_.objects, info_.threads, t, done_.data()};
    codec::ThreadState& state = states_[t];
    for (uint64_t k = 0; k < take;) {
      if (raw_end_ - raw_pos_ < codec::kMaxEventBytes && !frame_done_ && !refill(error))
        return false;
      // Events that surely fit in the window decode without a refill check each.
      const uint64_t sure =
          frame_done_ ? take - k
                      : std::min<uint64_t>(take - k, (raw_end_ - raw_pos_) / codec::kMaxEventBytes);
      ByteReader r{raw_.data(), raw_end_, raw_pos_};
      for (const uint64_t stop = k + sure; k < stop; ++k, ++n) {
        if (const char* why = codec::decode_event(r, state, limits, out + n)) {
          raw_pos_ = r.pos;
          return fail(error, "thread " + std::to_string(t) + " event " + std::to_string(done_[t]),
                      why);
        }
        ++done_[t];
      }
      raw_pos_ = r.pos;
    }
    run_left_ -= take;
    events_read_ += take;
  }
  chunk->events.resize(n);
  if (events_read_ == info_.events && n < max_events && !finish_payload(error)) return false;
  return true;
}

bool check_trace_file(const std::string& path, TraceSummary* summary, TraceError* error,
                      TraceFileInfo* info, TraceWriter* copy) {
  TraceReader reader;
  if (!reader.open(path, error)) return false;
  if (info) *info = reader.info();
  if (copy) copy->declare(reader.info().threads, reader.info().objects);
  TraceChecker checker(reader.info().threads, reader.info().objects, summary);
  EventChunk chunk;
  for (;;) {
    if (!reader.next(&chunk, 1 << 16, error)) return false;
    if (chunk.events.empty()) break;
    Event* e = chunk.events.data();
    for (const ScheduleRun& run : chunk.runs)
      for (uint32_t k = 0; k < run.count; ++k, ++e) {
        if (!checker.step(run.thread, *e, false, error)) return error->path = path, false;
        if (copy) copy->add(run.thread, *e);
      }
  }
  checker.finish();
  return true;
}

}  // namespace allocmark
