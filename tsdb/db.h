// The local time-series store: a head of open per-series chunks in memory, sealed chunks, series
// and a write-ahead log in RocksDB. Appends are durable when Commit() returns OK; restart replays
// only what the last checkpoint of the head does not hold.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/labels.h"
#include "common/status.h"
#include "tsdb/index.h"
#include "tsdb/matcher.h"

namespace tidemark::tsdb {

// Prometheus' staleness marker: a NaN with this exact bit pattern.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
double StaleNaN();
bool IsStaleNaN(double v);

enum class SyncMode {
  kNone,  // Committed batches are in the OS page cache: they survive kill -9, not power loss.
  kEveryCommit,  // fsync the log on every Commit(): survives power loss, costs a disk flush each.
};

struct DbOptions {
  std::string dir;  // Created when missing.
  // Age past which data is deleted, by whole partitions. Default: 15 d.
  std::chrono::milliseconds retention = std::chrono::hours(24 * 15);
  // Bytes on disk past which the oldest partitions are deleted; 0 = no size limit. Default: 0.
  uint64_t retention_bytes = 0;
  // Active series cap; past it new series are refused and counted. Default: 1,000,000.
  size_t max_series = 1'000'000;
  SyncMode sync = SyncMode::kNone;  // Default: kNone
  // Samples per chunk before it is sealed and written to RocksDB. Default: 240.
  size_t chunk_samples = 240;
  // Time span of one storage partition; chunks never cross one, retention drops whole ones.
  std::chrono::milliseconds partition = std::chrono::hours(2);  // Default: 2 h
  // Appends fail with ResourceExhausted while the filesystem has less free space. Default: 64 MiB.
  uint64_t min_free_bytes = 64ull << 20;
  // The head is checkpointed (and the log truncated) after this many log bytes; it bounds what a
  // restart replays (~3 M samples). Default: 32 MiB.
  uint64_t checkpoint_log_bytes = 32ull << 20;
  // Automatic compaction of sealed chunks, which also re-encodes them from XOR into the packed
  // form. Off only for benchmarks mirroring promtool's (which disables compaction); Compact()
  // works either way. Default: true.
  bool background_compaction = true;
  // Samples older than the newest sample seen minus this are "too old". Default: 1 h.
  std::chrono::milliseconds out_of_bounds = std::chrono::hours(1);
  // RocksDB memtables (write buffers) of all column families together, bytes; each family gets
  // a share and reaching the total flushes the oldest. About half of it is resident on average.
  // Smaller budgets mean more, smaller L0 files, which cost append rate. Default: 8 MiB.
  uint64_t memtable_budget_bytes = 8ull << 20;
  // RocksDB block cache shared by all column families, bytes; index and filter blocks live in it
  // too, so table readers stay small. Default: 8 MiB.
  uint64_t block_cache_bytes = 8ull << 20;
  // After each automatic checkpoint, return the process' free heap pages to the kernel (glibc
  // malloc_trim, ~1 ms; affects the whole process). Default: true.
  bool trim_heap_after_checkpoint = true;
};

struct DbStats {
  uint64_t series = 0;                // Active series.
  uint64_t samples_appended = 0;      // Accepted since open (replay excluded).
  uint64_t out_of_order = 0;          // Rejected: older than the series' last sample.
  uint64_t duplicates = 0;            // Rejected: same timestamp, different value.
  uint64_t too_old = 0;               // Rejected: before newest − out_of_bounds.
  uint64_t series_refused = 0;        // New series refused by max_series.
  uint64_t commits_refused_disk = 0;  // Commits refused for lack of disk space or I/O errors.
  uint64_t chunks_sealed = 0;
  uint64_t replayed_samples = 0;    // Applied from the log at open.
  double replay_seconds = 0;        // Time Open() spent restoring the head.
  uint64_t partitions_deleted = 0;  // By retention.
  uint64_t log_bytes = 0;           // Log bytes since the last checkpoint.
  // Memory, bytes: RocksDB's memtables (all column families), its block cache in use (data,
  // index and filter blocks) and its table readers outside that cache; the head's open chunks.
  uint64_t memtable_bytes = 0;
  uint64_t block_cache_bytes = 0;
  uint64_t table_reader_bytes = 0;
  uint64_t head_chunk_bytes = 0;
};

// What one Commit() did with its samples.
struct CommitResult {
  uint64_t accepted = 0;
  uint64_t out_of_order = 0;
  uint64_t duplicates = 0;
  uint64_t too_old = 0;
  uint64_t refused = 0;  // Samples of series refused by max_series.
};

// Samples of one series in [mint, maxt], decoded lazily from its chunks.
class SampleIterator {
 public:
  virtual ~SampleIterator() = default;
  // Advances to the next sample; false at the end or on error (see status()).
  virtual bool Next() = 0;
  // Advances to the first sample with timestamp >= t (never backwards); false if none.
  virtual bool Seek(int64_t t) = 0;
  virtual int64_t t() const = 0;
  virtual double v() const = 0;
  virtual Status status() const = 0;
};

struct SeriesData {
  SeriesRef ref = 0;
  Labels labels;  // Sorted by name, includes __name__.
  // A fresh iterator over the series' samples in [mint, maxt] of the Select() that returned it.
  std::unique_ptr<SampleIterator> Iterate() const;

  std::vector<std::string> chunks;  // Encoded chunks in time order (internal).
  int64_t mint = 0, maxt = 0;
};

class Db {
 public:
  // Opens or creates the store in options.dir and restores the head. Corruption names the damaged
  // file or key and points at `tidemark tsdb verify`; it never deletes data by itself.
  static Result<std::unique_ptr<Db>> Open(const DbOptions& options, const Clock& clock);
  // Checkpoints the head so the next Open() has nothing to replay.
  ~Db();

  // Collects samples for one Commit(). Not thread-safe; use one per thread. Thread-safe Db.
  class Appender {
   public:
    explicit Appender(Db* db) : db_(db) {}
    // Adds a sample of the series `labels` (sorted by name, with __name__). Returns its ref for
    // AddRef(), or 0 when the series is refused (max_series) or the sample is already too old
    // (before newest − out_of_bounds; the series is then not created) — counted, not an error.
    SeriesRef Add(const Labels& labels, int64_t t, double v);
    // Adds a sample to a series by ref; false when the ref is unknown (e.g. deleted).
    bool AddRef(SeriesRef ref, int64_t t, double v);
    // Applies and logs the batch. OK means every accepted sample survives a crash of the process
    // (and of the machine with SyncMode::kEveryCommit). ResourceExhausted when the disk is (nearly)
    // full, IoError on write failure: then nothing of the batch is acknowledged.
    Result<CommitResult> Commit();
    size_t pending() const { return refs_.size(); }

   private:
    Db* db_;
    std::vector<SeriesRef> refs_;
    std::vector<int64_t> ts_;
    std::vector<double> vs_;
    uint64_t refused_ = 0;
    uint64_t too_old_ = 0;  // Refused by Add() before a series was created.
  };
  Appender NewAppender() { return Appender(this); }

  // Series matching `matchers` with their samples in [mint, maxt]. InvalidArgument when every
  // matcher matches the empty string (Prometheus' rule). Thread-safe.
  Result<std::vector<SeriesData>> Select(std::span<const Matcher> matchers, int64_t mint,
                                         int64_t maxt) const;
  // Label sets of every stored series matching `matchers`, from the index alone (no chunk is
  // read), sorted. InvalidArgument as Select(). Thread-safe.
  Result<std::vector<Labels>> SeriesLabels(std::span<const Matcher> matchers) const;
  std::vector<std::string> LabelNames(std::span<const Matcher> matchers = {}) const;
  std::vector<std::string> LabelValues(std::string_view name,
                                       std::span<const Matcher> matchers = {}) const;

  // Deletes partitions past the age and size limits, and series left without data. Call it
  // periodically (the agent does every minute). Thread-safe.
  Status ApplyRetention();
  // Writes the head to RocksDB and truncates the log. Thread-safe.
  Status Checkpoint();
  // Seals every open chunk, checkpoints, flushes RocksDB and compacts it fully: the smallest
  // on-disk form (used after a bulk import). Appends may continue afterwards. Thread-safe.
  Status Compact();
  DbStats Stats() const;
  // Bytes of the store's files on disk.
  uint64_t DiskBytes() const;

  // Offline check: decodes every series, chunk and log record; appends one line per problem
  // (naming the key) to *problems. Returns the sample count found.
  Result<uint64_t> Verify(std::vector<std::string>* problems) const;

  class Impl;

 private:
  explicit Db(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemark::tsdb
