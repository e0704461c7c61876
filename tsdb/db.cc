#include "tsdb/db.h"

#include <malloc.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "tsdb/encoding/chunk.h"
#include "tsdb/encoding/xor_chunk.h"
#include "tsdb/internal/codec.h"

namespace tidemark::tsdb {

using internal::GetBe64;
using internal::GetOrderedI64;
using internal::PutBe64;
using internal::PutOrderedI64;

double StaleNaN() {
  double v;
  std::memcpy(&v, &kStaleNaNBits, 8);
  return v;
}

bool IsStaleNaN(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return bits == kStaleNaNBits;
}

namespace {

constexpr char kFormatKey[] = "format";
constexpr char kFormatValue[] = "tidemark-tsdb-1";
constexpr char kCheckpointSeqKey[] = "checkpoint_seq";
constexpr char kNextRefKey[] = "next_ref";
constexpr size_t kCfDefault = 0, kCfSeries = 1, kCfChunks = 2, kCfLog = 3, kCfHead = 4;
const char* const kCfNames[] = {"default", "series", "chunks", "log", "head"};

uint64_t DoubleBits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

std::string SeriesKey(SeriesRef ref) {
  std::string k;
  PutBe64(&k, ref);
  return k;
}

// chunks: partition | ref | chunk mint, all ordered big-endian.
std::string ChunkKey(int64_t partition, SeriesRef ref, int64_t mint) {
  std::string k;
  k.reserve(24);
  PutOrderedI64(&k, partition);
  PutBe64(&k, ref);
  PutOrderedI64(&k, mint);
  return k;
}
std::string PartitionKey(int64_t partition) {
  std::string k;
  PutOrderedI64(&k, partition);
  return k;
}

// Takes `lock` (deferred) exclusively, spinning briefly first: commits hold the head lock for tens
// of microseconds, less than a futex sleep and wake-up costs the waiter.
template <typename Lock>
void LockSpinning(Lock& lock) {
  for (int i = 0; i < 2000; ++i) {
    if (lock.try_lock()) return;
    __builtin_ia32_pause();
  }
  lock.lock();
}

// Largest write batch the store builds before writing it (a checkpoint, or the sealed chunks of
// a commit in which many series seal at once, go out in several).
constexpr size_t kBatchPieceBytes = 1 << 20;

// Series state is guarded by one mutex per stripe of 1024 consecutive refs, so appenders working
// on different series (the usual case: one scrape target or batch each) do not wait for each
// other.
constexpr int kStripeShift = 10;

// Holds at most one stripe mutex while walking refs, switching only when the stripe changes
// (refs of one batch are mostly contiguous).
class StripeCursor {
 public:
  void Hold(std::mutex& m, size_t stripe) {
    if (stripe == cur_ && lock_.owns_lock()) return;
    Release();
    cur_ = stripe;
    lock_ = std::unique_lock<std::mutex>(m, std::defer_lock);
    LockSpinning(lock_);
  }
  void Release() {
    if (lock_.owns_lock()) lock_.unlock();
  }

 private:
  std::unique_lock<std::mutex> lock_;
  size_t cur_ = SIZE_MAX;
};

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  std::string msg = what + ": " + s.ToString();
  if (s.IsCorruption()) {
    return Status::Corruption(msg +
                              " (run `tidemark tsdb verify --data-dir DIR`; see README "
                              "\"Recovering a damaged store\")");
  }
  if (s.IsNoSpace()) return Status::ResourceExhausted(msg);
  if (s.IsIOError()) return Status::IoError(msg);
  return Status::Internal(msg);
}

// Iterates encoded chunks in order, restricted to [mint, maxt].
class ChunkSeqIterator final : public SampleIterator {
 public:
  ChunkSeqIterator(const std::vector<std::string>* chunks, int64_t mint, int64_t maxt)
      : chunks_(chunks), mint_(mint), maxt_(maxt) {}

  bool Next() override {
    if (done_) return false;
    if (!started_) {
      started_ = true;
      return Seek(mint_);
    }
    for (;;) {
      if (cur_ && cur_->Next()) {
        if (cur_->t() > maxt_) return Finish();
        return Emit();
      }
      if (cur_ && !cur_->status().ok()) return Fail(cur_->status());
      if (!OpenNext()) return Finish();
      if (cur_->Seek(std::max(mint_, floor_))) {
        if (cur_->t() > maxt_) return Finish();
        return Emit();
      }
      if (!cur_->status().ok()) return Fail(cur_->status());
    }
  }

  bool Seek(int64_t t) override {
    if (done_) return false;
    started_ = true;
    t = std::max(t, mint_);
    if (cur_ && cur_->t() >= t && positioned_) return true;
    for (;;) {
      if (!cur_ && !OpenNext()) return Finish();
      if (cur_->Seek(std::max(t, floor_))) {
        positioned_ = true;
        if (cur_->t() > maxt_) return Finish();
        return Emit();
      }
      if (!cur_->status().ok()) return Fail(cur_->status());
      cur_.reset();
    }
  }

  int64_t t() const override { return cur_->t(); }
  double v() const override { return cur_->v(); }
  Status status() const override { return status_; }

 private:
  bool OpenNext() {
    while (next_ < chunks_->size()) {
      auto it = encoding::ChunkIterator::Open((*chunks_)[next_++]);
      if (!it.ok()) {
        Fail(it.status());
        return false;
      }
      cur_.emplace(std::move(*it));
      positioned_ = false;
      return true;
    }
    return false;
  }
  // Chunks can overlap after a crash (a chunk sealed and stored while the restored head still
  // holds its samples): samples at or before the last one returned are skipped, so a series
  // reads strictly increasing and never twice.
  bool Emit() {
    const int64_t t = cur_->t();
    floor_ = t == std::numeric_limits<int64_t>::max() ? t : t + 1;
    return true;
  }
  bool Finish() {
    done_ = true;
    return false;
  }
  bool Fail(const Status& s) {
    status_ = s;
    done_ = true;
    return false;
  }

  const std::vector<std::string>* chunks_;
  int64_t mint_, maxt_;
  int64_t floor_ = std::numeric_limits<int64_t>::min();  // Next sample must be at or after.
  size_t next_ = 0;
  std::optional<encoding::ChunkIterator> cur_;
  bool started_ = false, done_ = false, positioned_ = false;
  Status status_;
};

// Re-encodes chunks written in XOR form (by the append path) into the smallest lossless encoding
// when RocksDB compacts them, on its background threads. Stateless, so thread-safe.
class RecompressFilter final : public rocksdb::CompactionFilter {
 public:
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* new_value, bool* value_changed) const override {
    if (value.empty() ||
        static_cast<uint8_t>(value[0]) != static_cast<uint8_t>(encoding::ChunkEncoding::kXor)) {
      return false;
    }
    auto sealed = encoding::SealXor(std::string_view(value.data() + 1, value.size() - 1));
    if (sealed.ok() && sealed->size() < value.size()) {
      *new_value = std::move(*sealed);
      *value_changed = true;
    }
    return false;  // Never drop a chunk.
  }
  const char* Name() const override { return "tidemark.RecompressFilter"; }
};

const RecompressFilter kRecompressFilter;

}  // namespace

std::unique_ptr<SampleIterator> SeriesData::Iterate() const {
  return std::make_unique<ChunkSeqIterator>(&chunks, mint, maxt);
}

// ---------------------------------------------------------------------------------------------

struct MemSeries {
  SeriesRef ref = 0;
  uint64_t hash = 0;
  encoding::XorAppender open;  // The open chunk.
  int64_t open_partition = 0;
  int64_t last_t = std::numeric_limits<int64_t>::min();
  uint64_t last_v_bits = 0;
  bool persisted = false;    // Its series record is in RocksDB.
  bool dirty = false;        // Changed since the last checkpoint.
  bool first_chunk = false;  // The open chunk is the series' first in open_partition.
  // Sealed chunks whose write failed: (mint, encoded); written with the next commit.
  std::vector<std::pair<int64_t, std::string>> unflushed;
};

class Db::Impl {
 public:
  Impl(const DbOptions& options, const Clock& clock) : options_(options), clock_(clock) {}
  ~Impl();

  Status Open();
  Status Restore();
  Status ReplayLog(uint64_t from_seq);

  // Finds or creates the series; 0 when refused. Takes mu_.
  SeriesRef GetOrCreate(const Labels& labels);
  bool Exists(SeriesRef ref) const;
  Result<CommitResult> Commit(std::span<const SeriesRef> refs, std::span<const int64_t> ts,
                              std::span<const double> vs, bool replay);
  Status CheckpointLocked();
  Status ApplyRetention();
  Result<std::vector<SeriesData>> Select(std::span<const Matcher> matchers, int64_t mint,
                                         int64_t maxt) const;
  uint64_t DiskBytes() const;
  Result<uint64_t> Verify(std::vector<std::string>* problems) const;
  void AddMemoryStats(DbStats* st) const;

  DbOptions options_;
  const Clock& clock_;
  std::unique_ptr<rocksdb::DB> db_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
  rocksdb::WriteOptions write_options_;
  MemIndex index_;

  // Guards everything below; commits hold it exclusively (so log order = apply order), queries
  // share it.
  // Structure lock: commits and queries hold it shared, series creation, retention and
  // checkpoints exclusively. A series' fields are also guarded by its stripe mutex while mu_ is
  // only shared (see kStripeShift).
  mutable std::shared_mutex mu_;
  std::vector<std::unique_ptr<MemSeries>> series_;            // Indexed by ref; null when deleted.
  mutable std::vector<std::unique_ptr<std::mutex>> stripes_;  // Grown with series_ under mu_.
  std::unordered_multimap<uint64_t, SeriesRef> by_hash_;
  size_t live_series_ = 0;
  SeriesRef next_ref_ = 1;
  std::atomic<uint64_t> next_seq_{0};
  std::atomic<int64_t> newest_t_{std::numeric_limits<int64_t>::min()};
  std::atomic<bool> write_failed_{false};
  std::atomic<uint64_t> log_bytes_{0};  // Log bytes since the last checkpoint.
  std::atomic<int64_t> head_bytes_{0};  // Heap bytes of the open chunks' buffers.
  std::chrono::steady_clock::time_point open_start_{};
  std::chrono::steady_clock::time_point last_refusal_log_{};
  mutable std::mutex stats_mu_;
  DbStats stats_;  // Guarded by stats_mu_ (except fields only touched under mu_).

  void Seal(MemSeries& s, std::vector<SeriesRef>* sealed_refs);
  // Samples at which the open chunk of `s` is sealed: chunk_samples, except that a series' first
  // chunk in a partition is cut shorter by up to half, by an amount fixed per series. Series
  // created together, or cut together at a partition boundary, thus seal over a spread of
  // commits instead of all in one (which would have to hold every series' chunk at once).
  size_t ChunkTarget(const MemSeries& s) const {
    const size_t n = options_.chunk_samples;
    if (!s.first_chunk) return n;
    uint64_t x = (s.ref + 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 31)) * 0x94d049bb133111ebULL;
    return n - static_cast<size_t>((x ^ (x >> 29)) % (n / 2));
  }
  std::mutex& StripeOf(SeriesRef ref) const { return *stripes_[ref >> kStripeShift]; }
  // Requires mu_ exclusive: makes stripes_ cover every ref below series_.size().
  void GrowStripes() {
    while ((stripes_.size() << kStripeShift) < series_.size()) {
      stripes_.push_back(std::make_unique<std::mutex>());
    }
  }
};

Db::Impl::~Impl() {
  if (db_) {
    for (auto* cf : cfs_) db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
    rocksdb::Status s = db_->Close();
    if (!s.ok()) spdlog::warn("tsdb: closing RocksDB: {}", s.ToString());
  }
}

Status Db::Impl::Open() {
  open_start_ = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) return Status::InvalidArgument("tsdb dir " + options_.dir + ": " + ec.message());
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.max_open_files = 512;  // Leaves descriptors for the cgroup collector's open files.
  // Two flush threads: a flush waits for its fsync, and the log's must keep up during bursts.
  dbo.max_background_jobs = 3;
  dbo.keep_log_file_num = 3;
  dbo.max_total_wal_size = 256ull << 20;
  dbo.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Recovery keeps replayed memtables in memory instead of writing L0 files before we can start.
  dbo.avoid_flush_during_recovery = true;
  // A node agent's memory budget, split among the column families' write buffers by what they
  // receive: the log (every sample, ~11 bytes each; each flush costs an fsync) and sealed chunks
  // (larger memtables mean fewer L0 files for their costly re-encoding compactions and for
  // queries) half each, series and the checkpointed head an eighth each, the few keys of
  // "default" at most 256 KiB. Memtables fill gradually, so at the agent's rate about half the
  // budget is resident. One WriteBufferManager caps the total at the budget by flushing the
  // oldest memtable (no write stalls on it: log replay at open pins the log's memtables while it
  // writes chunks).
  const uint64_t budget = std::max<uint64_t>(options_.memtable_budget_bytes, 1ull << 20);
  dbo.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(budget);
  // Buffers of files being written (the WAL, flush and compaction outputs); 1 MiB each otherwise.
  dbo.writable_file_max_buffer_size = 256 << 10;
  block_cache_ = rocksdb::NewLRUCache(std::max<uint64_t>(options_.block_cache_bytes, 1ull << 20));
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache_;
  table.cache_index_and_filter_blocks = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const char* name : kCfNames) {
    rocksdb::ColumnFamilyOptions cfo;
    cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    const std::string_view cf(name);
    cfo.write_buffer_size = cf == "chunks" || cf == "log" ? budget / 2
                            : cf == "default" ? std::min<uint64_t>(budget / 16, 256 << 10)
                                              : budget / 8;
    // Room for full memtables while one is flushing, so that a burst of appends (a bulk import,
    // bench-write) does not stall on small buffers; at the agent's rate they stay unused.
    cfo.max_write_buffer_number = cf == "log" ? 6 : cf == "chunks" ? 4 : cf == "head" ? 3 : 2;
    if (cf == "chunks") {
      // Sealed chunks arrive in bursts and their compactions (which re-encode them) are slow:
      // more L0 files before writes slow down or stop, so that a restart's log replay, which
      // seals chunks, does not wait for a compaction backlog (bench-write runs without any).
      cfo.level0_slowdown_writes_trigger = std::max(cfo.level0_slowdown_writes_trigger, 48);
      cfo.level0_stop_writes_trigger = std::max(cfo.level0_stop_writes_trigger, 96);
      cfo.compaction_filter = &kRecompressFilter;
      cfo.disable_auto_compactions = !options_.background_compaction;
      cfo.compression = rocksdb::kZSTD;
      cfo.bottommost_compression = rocksdb::kZSTD;
    } else if (cf == "log") {
      cfo.compression = rocksdb::kNoCompression;  // Short-lived; deleted at each checkpoint.
      // Each checkpoint deletes the whole files below its sequence number (DeleteFilesInRange),
      // so compacting log files into each other is wasted work: allow enough L0 files for the
      // log between two checkpoints before compaction starts.
      const uint64_t files = options_.checkpoint_log_bytes / std::max<uint64_t>(1, budget / 4) + 4;
      cfo.level0_file_num_compaction_trigger = static_cast<int>(std::clamp<uint64_t>(files, 4, 24));
      cfo.level0_slowdown_writes_trigger =
          std::max(cfo.level0_slowdown_writes_trigger, cfo.level0_file_num_compaction_trigger + 8);
      cfo.level0_stop_writes_trigger =
          std::max(cfo.level0_stop_writes_trigger, cfo.level0_slowdown_writes_trigger + 12);
    } else {
      cfo.compression = rocksdb::kLZ4Compression;
    }
    descs.emplace_back(name, cfo);
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, options_.dir, descs, &cfs_, &raw);
  if (!s.ok()) return FromRocks(s, "opening store " + options_.dir);
  db_.reset(raw);
  write_options_.sync = options_.sync == SyncMode::kEveryCommit;

  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), cfs_[kCfDefault], kFormatKey, &format);
  if (s.IsNotFound()) {
    TIDEMARK_RETURN_IF_ERROR(FromRocks(
        db_->Put(write_options_, cfs_[kCfDefault], kFormatKey, kFormatValue), "writing format"));
  } else if (!s.ok()) {
    return FromRocks(s, "reading format");
  } else if (format != kFormatValue) {
    return Status::InvalidArgument("store " + options_.dir + " has format \"" + format +
                                   "\", this tidemark reads \"" + kFormatValue + "\"");
  }
  return Restore();
}

Status Db::Impl::Restore() {
  auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  rocksdb::ReadOptions ro;
  std::string v;
  if (db_->Get(ro, cfs_[kCfDefault], kNextRefKey, &v).ok() && v.size() == 8) {
    next_ref_ = GetBe64(v.data());
  }
  // Series.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[kCfSeries]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) {
      return Status::Corruption("series key of " + std::to_string(it->key().size()) +
                                " bytes (want 8) in " + options_.dir);
    }
    SeriesRef ref = GetBe64(it->key().data());
    Labels labels;
    if (!internal::DecodeLabels(std::string_view(it->value().data(), it->value().size()),
                                &labels)) {
      return Status::Corruption("series " + std::to_string(ref) + ": undecodable labels in " +
                                options_.dir + " (run `tidemark tsdb verify`)");
    }
    if (ref >= series_.size()) series_.resize(ref + 1);
    auto ms = std::make_unique<MemSeries>();
    ms->ref = ref;
    ms->hash = internal::HashLabels(labels);
    ms->persisted = true;
    head_bytes_ += static_cast<int64_t>(ms->open.MemoryUsage());
    by_hash_.emplace(ms->hash, ref);
    index_.Add(ref, labels);
    series_[ref] = std::move(ms);
    ++live_series_;
    next_ref_ = std::max(next_ref_, ref + 1);
  }
  TIDEMARK_RETURN_IF_ERROR(FromRocks(it->status(), "reading series"));
  // Head checkpoint: last sample and open chunk of each series.
  it.reset(db_->NewIterator(ro, cfs_[kCfHead]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) continue;
    SeriesRef ref = GetBe64(it->key().data());
    if (ref >= series_.size() || !series_[ref]) continue;
    MemSeries& s = *series_[ref];
    const char* p = it->value().data();
    const char* end = p + it->value().size();
    int64_t last_t, part;
    double last_v;
    if (!internal::GetVarint(&p, end, &last_t) || !internal::GetDouble(&p, end, &last_v) ||
        !internal::GetVarint(&p, end, &part)) {
      return Status::Corruption("head checkpoint of series " + std::to_string(ref) +
                                " is truncated (run `tidemark tsdb verify`)");
    }
    s.last_t = last_t;
    s.last_v_bits = DoubleBits(last_v);
    s.open_partition = part;
    if (p < end) {
      auto app = encoding::XorAppender::FromBytes(std::string_view(p, end - p));
      if (!app.ok()) {
        return Status::Corruption("head checkpoint of series " + std::to_string(ref) + ": " +
                                  app.status().message());
      }
      head_bytes_ -= static_cast<int64_t>(s.open.MemoryUsage());
      s.open = std::move(*app);
      head_bytes_ += static_cast<int64_t>(s.open.MemoryUsage());
    }
    newest_t_ = std::max(newest_t_.load(), last_t);
  }
  TIDEMARK_RETURN_IF_ERROR(FromRocks(it->status(), "reading head checkpoint"));
  GrowStripes();
  uint64_t from = 0;
  if (db_->Get(ro, cfs_[kCfDefault], kCheckpointSeqKey, &v).ok() && v.size() == 8) {
    from = GetBe64(v.data());
  }
  lock.unlock();
  TIDEMARK_RETURN_IF_ERROR(ReplayLog(from));
  (void)start;
  // The whole restart: RocksDB's own recovery plus loading series, head and log.
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - open_start_).count();
  std::lock_guard g(stats_mu_);
  stats_.replay_seconds = secs;
  return Status::Ok();
}

Status Db::Impl::ReplayLog(uint64_t from_seq) {
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[kCfLog]));
  std::string from;
  PutBe64(&from, from_seq);
  next_seq_ = from_seq;
  std::vector<SeriesRef> refs;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  uint64_t replayed = 0;
  for (it->Seek(from); it->Valid(); it->Next()) {
    if (it->key().size() != 8) continue;
    uint64_t seq = GetBe64(it->key().data());
    const char* p = it->value().data();
    const char* end = p + it->value().size();
    uint64_t n;
    refs.clear();
    ts.clear();
    vs.clear();
    bool ok = internal::GetUvarint(&p, end, &n) && n <= it->value().size();
    int64_t ref = 0, t = 0;
    for (uint64_t i = 0; ok && i < n; ++i) {
      int64_t dref = 0, dt = 0;
      double val = 0;
      ok = internal::GetVarint(&p, end, &dref) && internal::GetVarint(&p, end, &dt) &&
           internal::GetDouble(&p, end, &val);
      if (!ok) break;
      ref += dref;
      t += dt;
      refs.push_back(static_cast<SeriesRef>(ref));
      ts.push_back(t);
      vs.push_back(val);
    }
    if (!ok) {
      // A torn last record cannot be acknowledged (RocksDB writes records atomically), so a bad
      // record is damage: stop replay here and say which.
      spdlog::error("tsdb: log record {} is damaged; replay stopped there ({} samples replayed)",
                    seq, replayed);
      break;
    }
    auto r = Commit(refs, ts, vs, /*replay=*/true);
    if (!r.ok()) return r.status();
    replayed += r->accepted;
    next_seq_ = seq + 1;
  }
  TIDEMARK_RETURN_IF_ERROR(FromRocks(it->status(), "reading log"));
  std::lock_guard g(stats_mu_);
  stats_.replayed_samples = replayed;
  return Status::Ok();
}

SeriesRef Db::Impl::GetOrCreate(const Labels& in) {
  // The index keeps labels sorted by name without empty values; hash and compare that form.
  bool normal = true;
  for (size_t i = 0; i < in.size() && normal; ++i) {
    normal = !in[i].value.empty() && (i == 0 || in[i - 1].name < in[i].name);
  }
  Labels normalized;
  if (!normal) {
    for (const Label& l : in) {
      if (!l.value.empty()) normalized.push_back(l);
    }
    SortLabels(&normalized);
  }
  const Labels& labels = normal ? in : normalized;
  if (labels.empty()) return 0;
  const uint64_t h = internal::HashLabels(labels);
  {
    std::shared_lock lock(mu_);
    auto [b, e] = by_hash_.equal_range(h);
    for (auto i = b; i != e; ++i) {
      if (index_.GetLabels(i->second) == labels) return i->second;
    }
  }
  std::unique_lock lock(mu_);
  auto [b, e] = by_hash_.equal_range(h);
  for (auto i = b; i != e; ++i) {
    if (index_.GetLabels(i->second) == labels) return i->second;
  }
  if (live_series_ >= options_.max_series) {
    std::lock_guard g(stats_mu_);
    ++stats_.series_refused;
    auto now = clock_.MonotonicNow();
    if (last_refusal_log_ == std::chrono::steady_clock::time_point{} ||
        now - last_refusal_log_ >= std::chrono::minutes(1)) {
      last_refusal_log_ = now;
      spdlog::warn("tsdb: max_series={} reached; refusing new series ({} refused so far)",
                   options_.max_series, stats_.series_refused);
    }
    return 0;
  }
  SeriesRef ref = next_ref_++;
  if (ref >= series_.size()) {
    series_.resize(std::max<size_t>(ref + 1, series_.size() * 3 / 2));
    GrowStripes();
  }
  auto ms = std::make_unique<MemSeries>();
  ms->ref = ref;
  ms->hash = h;
  head_bytes_ += static_cast<int64_t>(ms->open.MemoryUsage());
  series_[ref] = std::move(ms);
  by_hash_.emplace(h, ref);
  index_.Add(ref, labels);
  ++live_series_;
  return ref;
}

bool Db::Impl::Exists(SeriesRef ref) const {
  std::shared_lock lock(mu_);
  return ref < series_.size() && series_[ref] != nullptr;
}

void Db::Impl::Seal(MemSeries& s, std::vector<SeriesRef>* sealed_refs) {
  if (s.open.NumSamples() == 0) return;
  // The chunk is written in its XOR form, a copy of the head's bytes: the packed re-encoding
  // happens later, off the append path, in RocksDB's compactions (RecompressFilter).
  std::string encoded;
  encoded.reserve(s.open.bytes().size() + 1);
  encoded.push_back(static_cast<char>(encoding::ChunkEncoding::kXor));
  encoded.append(s.open.bytes());
  s.unflushed.emplace_back(s.open.first_t(), std::move(encoded));
  head_bytes_.fetch_sub(static_cast<int64_t>(s.open.MemoryUsage()), std::memory_order_relaxed);
  // Not `s.open = XorAppender()`: a move-assigned std::string keeps its buffer, so every series
  // would hold a full chunk's capacity for good. The next chunk starts small and grows.
  std::destroy_at(&s.open);
  std::construct_at(&s.open);
  head_bytes_.fetch_add(static_cast<int64_t>(s.open.MemoryUsage()), std::memory_order_relaxed);
  if (sealed_refs != nullptr &&
      std::find(sealed_refs->begin(), sealed_refs->end(), s.ref) == sealed_refs->end()) {
    sealed_refs->push_back(s.ref);
  }
}

Result<CommitResult> Db::Impl::Commit(std::span<const SeriesRef> refs, std::span<const int64_t> ts,
                                      std::span<const double> vs, bool replay) {
  CommitResult result;
  if (!replay) {
    struct statvfs fs;
    if (::statvfs(options_.dir.c_str(), &fs) == 0) {
      uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
      if (free_bytes < options_.min_free_bytes) {
        std::lock_guard g(stats_mu_);
        ++stats_.commits_refused_disk;
        return Status::ResourceExhausted(
            "tsdb: " + std::to_string(free_bytes >> 20) + " MiB free in " + options_.dir +
            ", below min_free_bytes (" + std::to_string(options_.min_free_bytes >> 20) +
            " MiB); appends resume when space returns");
      }
    }
  }
  std::shared_lock lock(mu_, std::defer_lock);
  LockSpinning(lock);
  if (write_failed_.load() && !replay) {
    rocksdb::Status rs = db_->Resume();
    if (!rs.ok() && !rs.IsNotSupported()) {
      std::lock_guard g(stats_mu_);
      ++stats_.commits_refused_disk;
      return FromRocks(rs, "tsdb: store is read-only after a write error; resume failed");
    }
    write_failed_ = false;
  }
  const int64_t partition_ms = options_.partition.count();
  const int64_t oob = options_.out_of_bounds.count();
  std::vector<uint32_t> accepted_idx;  // Samples to log, encoded after the lock is released.
  accepted_idx.reserve(replay ? 0 : refs.size());
  std::vector<SeriesRef> sealed_refs;
  std::vector<SeriesRef> new_series;
  StripeCursor stripe;
  int64_t head_delta = 0;  // Change of the open chunks' heap bytes.
  int64_t newest = newest_t_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < refs.size(); ++i) {
    SeriesRef ref = refs[i];
    if (ref >= series_.size() || !series_[ref]) continue;  // Deleted meanwhile.
    stripe.Hold(StripeOf(ref), ref >> kStripeShift);
    MemSeries& s = *series_[ref];
    const int64_t t = ts[i];
    const uint64_t bits = DoubleBits(vs[i]);
    if (newest != std::numeric_limits<int64_t>::min() && t < newest - oob) {
      ++result.too_old;
      continue;
    }
    if (t < s.last_t) {
      ++result.out_of_order;
      continue;
    }
    if (t == s.last_t) {
      if (bits != s.last_v_bits) ++result.duplicates;
      continue;  // Identical duplicates are dropped silently, as Prometheus does.
    }
    const int64_t p = FloorDiv(t, partition_ms);
    if (s.open.NumSamples() > 0 &&
        (p != s.open_partition || s.open.NumSamples() >= ChunkTarget(s))) {
      Seal(s, &sealed_refs);
    }
    if (s.open.NumSamples() == 0) {
      s.first_chunk =
          s.last_t == std::numeric_limits<int64_t>::min() || FloorDiv(s.last_t, partition_ms) != p;
      s.open_partition = p;
    }
    const size_t cap_before = s.open.MemoryUsage();
    if (!s.open.Append(t, vs[i]).ok()) {
      ++result.out_of_order;  // Unreachable: t > last_t and the chunk has room were checked.
      continue;
    }
    head_delta += static_cast<int64_t>(s.open.MemoryUsage()) - static_cast<int64_t>(cap_before);
    s.last_t = t;
    s.last_v_bits = bits;
    s.dirty = true;
    newest = std::max(newest, t);
    if (!s.persisted) {
      s.persisted = true;  // Written below in the same batch; reset if the write fails.
      new_series.push_back(ref);
    }
    ++result.accepted;
    if (!replay) accepted_idx.push_back(static_cast<uint32_t>(i));
  }
  head_bytes_.fetch_add(head_delta, std::memory_order_relaxed);
  const uint64_t n = accepted_idx.size();
  for (int64_t cur = newest_t_.load(std::memory_order_relaxed);
       newest > cur && !newest_t_.compare_exchange_weak(cur, newest);) {
  }
  if (!replay && (result.out_of_order | result.duplicates | result.too_old) != 0) {
    std::lock_guard g(stats_mu_);
    stats_.out_of_order += result.out_of_order;
    stats_.duplicates += result.duplicates;
    stats_.too_old += result.too_old;
  }
  if (n == 0 && sealed_refs.empty() && new_series.empty()) return result;

  // Normally one batch; a commit in which many series seal writes their chunks in pieces first
  // (each is durable on its own, and holds only samples acknowledged by earlier commits).
  std::vector<rocksdb::WriteBatch> pieces;
  rocksdb::WriteBatch batch;
  auto cut_piece = [&] {
    if (batch.GetDataSize() >= kBatchPieceBytes) {
      pieces.push_back(std::move(batch));
      batch = rocksdb::WriteBatch();
    }
  };
  // Assigned while mu_ is still held shared, after the apply: a checkpoint (mu_ exclusive) sees
  // every record numbered below its next_seq_ already applied.
  const uint64_t seq = (!replay && n > 0) ? next_seq_.fetch_add(1) : 0;
  {
    // One label buffer for all new series: temporaries per series, allocated between the new
    // series' long-lived structures, would leave holes in the heap that stay in RSS.
    Labels labels;
    std::string encoded;
    for (SeriesRef ref : new_series) {
      if (!index_.GetLabels(ref, &labels)) labels.clear();
      internal::EncodeLabelsTo(labels, &encoded);
      batch.Put(cfs_[kCfSeries], SeriesKey(ref), encoded);
      cut_piece();
    }
  }
  if (!new_series.empty()) {
    std::string v;
    PutBe64(&v, next_ref_);
    batch.Put(cfs_[kCfDefault], kNextRefKey, v);
  }
  // Sealed chunks of the series that sealed in this commit, with any of theirs a failed write left
  // behind (other leftovers go out with the next checkpoint). They stay in `unflushed`, and so
  // visible to queries, until the write has succeeded.
  std::vector<std::pair<SeriesRef, int64_t>> written;  // (series, newest chunk mint written)
  for (SeriesRef ref : sealed_refs) {
    stripe.Hold(StripeOf(ref), ref >> kStripeShift);
    MemSeries& s = *series_[ref];
    if (s.unflushed.empty()) continue;  // A concurrent commit of the same series wrote them.
    for (const auto& [mint, enc] : s.unflushed) {
      batch.Put(cfs_[kCfChunks], ChunkKey(FloorDiv(mint, partition_ms), ref, mint), enc);
      cut_piece();
    }
    written.emplace_back(ref, s.unflushed.back().first);
  }
  stripe.Release();
  // Encoding the log record and the write happen outside the lock so that appenders overlap; the
  // record carries the sequence number assigned above, in apply order.
  lock.unlock();
  if (!replay && n > 0) {
    std::string record;
    record.reserve(12 + n * 12);
    internal::PutUvarint(&record, n);
    int64_t prev_ref = 0, prev_t = 0;
    for (uint32_t i : accepted_idx) {
      internal::PutVarint(&record, static_cast<int64_t>(refs[i]) - prev_ref);
      internal::PutVarint(&record, ts[i] - prev_t);
      internal::PutDouble(&record, vs[i]);
      prev_ref = static_cast<int64_t>(refs[i]);
      prev_t = ts[i];
    }
    std::string key;
    PutBe64(&key, seq);
    batch.Put(cfs_[kCfLog], key, record);
    log_bytes_ += record.size();
  }
  rocksdb::Status ws;
  for (rocksdb::WriteBatch& piece : pieces) {
    ws = db_->Write(write_options_, &piece);
    if (!ws.ok()) break;
  }
  pieces.clear();
  if (ws.ok() && batch.Count() > 0) ws = db_->Write(write_options_, &batch);
  LockSpinning(lock);
  if (!ws.ok()) {
    write_failed_ = true;
    for (SeriesRef ref : new_series) {
      if (ref >= series_.size() || !series_[ref]) continue;
      std::lock_guard g(StripeOf(ref));
      series_[ref]->persisted = false;
    }
    std::lock_guard g(stats_mu_);
    ++stats_.commits_refused_disk;
    return FromRocks(ws, "tsdb: writing batch");
  }
  for (const auto& [ref, newest_mint] : written) {
    if (ref >= series_.size() || !series_[ref]) continue;
    std::lock_guard g(StripeOf(ref));
    auto& u = series_[ref]->unflushed;
    size_t k = 0;
    while (k < u.size() && u[k].first <= newest_mint) ++k;
    u.erase(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(k));
  }
  {
    std::lock_guard g(stats_mu_);
    if (!replay) stats_.samples_appended += result.accepted;
    stats_.chunks_sealed += sealed_refs.size();
  }
  lock.unlock();
  if (!replay && log_bytes_.load() >= options_.checkpoint_log_bytes) {
    {
      std::unique_lock ex(mu_);
      if (log_bytes_.load() < options_.checkpoint_log_bytes) return result;
      Status cs = CheckpointLocked();
      if (!cs.ok()) spdlog::warn("tsdb: checkpoint failed: {}", cs.ToString());
    }
#ifdef __GLIBC__
    // A checkpoint ends a round of multi-megabyte transients (batch pieces, flushed memtables);
    // glibc returns only the top of its heaps by itself, not free pages below live blocks.
    if (options_.trim_heap_after_checkpoint) ::malloc_trim(0);
#endif
  }
  return result;
}

// Requires mu_ held exclusively. Written in pieces of about kBatchPieceBytes so that neither the
// batch nor a memtable has to hold the whole head at once, in an order that keeps every prefix
// restorable: sealed chunks first, then head records, then the checkpoint's sequence number. A
// crash between pieces leaves heads that are newer than that number; replay then skips the
// samples they already hold (as duplicates of their last sample or older).
Status Db::Impl::CheckpointLocked() {
  rocksdb::WriteBatch batch;
  auto write_piece = [&](bool force) -> Status {
    if (batch.Count() == 0 || (!force && batch.GetDataSize() < kBatchPieceBytes)) {
      return Status::Ok();
    }
    Status st = FromRocks(db_->Write(write_options_, &batch), "tsdb: checkpoint");
    batch.Clear();
    return st;
  };
  const int64_t partition_ms = options_.partition.count();
  for (auto& sp : series_) {
    if (!sp) continue;
    for (const auto& [mint, enc] : sp->unflushed) {
      batch.Put(cfs_[kCfChunks], ChunkKey(FloorDiv(mint, partition_ms), sp->ref, mint), enc);
      TIDEMARK_RETURN_IF_ERROR(write_piece(false));
    }
  }
  TIDEMARK_RETURN_IF_ERROR(write_piece(true));
  std::string v;
  for (auto& sp : series_) {
    if (!sp || !sp->dirty) continue;
    MemSeries& s = *sp;
    v.clear();
    internal::PutVarint(&v, s.last_t);
    double last_v;
    std::memcpy(&last_v, &s.last_v_bits, 8);
    internal::PutDouble(&v, last_v);
    internal::PutVarint(&v, s.open_partition);
    v.append(s.open.bytes());
    batch.Put(cfs_[kCfHead], SeriesKey(s.ref), v);
    TIDEMARK_RETURN_IF_ERROR(write_piece(false));
  }
  std::string seq;
  PutBe64(&seq, next_seq_.load());
  batch.Put(cfs_[kCfDefault], kCheckpointSeqKey, seq);
  TIDEMARK_RETURN_IF_ERROR(write_piece(true));
  for (auto& sp : series_) {
    if (!sp) continue;
    sp->dirty = false;
    sp->unflushed.clear();
    sp->unflushed.shrink_to_fit();
  }
  // Everything before next_seq_ is now in the checkpoint: delete it, and drop the log's files
  // that lie wholly below it at once rather than waiting for compaction to do so.
  std::string begin;
  PutBe64(&begin, 0);
  TIDEMARK_RETURN_IF_ERROR(FromRocks(db_->DeleteRange(write_options_, cfs_[kCfLog], begin, seq),
                                     "tsdb: truncating log"));
  rocksdb::Slice bs(begin), es(seq);
  rocksdb::Status ds = rocksdb::DeleteFilesInRange(db_.get(), cfs_[kCfLog], &bs, &es,
                                                   /*include_end=*/false);
  if (!ds.ok()) spdlog::warn("tsdb: dropping old log files: {}", ds.ToString());
  log_bytes_ = 0;
  return Status::Ok();
}

Status Db::Impl::ApplyRetention() {
  const int64_t partition_ms = options_.partition.count();
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  const int64_t cutoff = now_ms - options_.retention.count();
  // Partitions wholly before the cutoff.
  const int64_t first_kept = FloorDiv(cutoff, partition_ms);
  auto drop_before = [&](int64_t partition) -> Status {
    std::string b = PartitionKey(std::numeric_limits<int64_t>::min());
    std::string e = PartitionKey(partition);
    TIDEMARK_RETURN_IF_ERROR(FromRocks(db_->DeleteRange(write_options_, cfs_[kCfChunks], b, e),
                                       "tsdb: retention delete"));
    rocksdb::Slice bs(b), es(e);
    rocksdb::DeleteFilesInRange(db_.get(), cfs_[kCfChunks], &bs, &es).PermitUncheckedError();
    rocksdb::CompactRangeOptions cro;
    return FromRocks(db_->CompactRange(cro, cfs_[kCfChunks], &bs, &es), "tsdb: retention compact");
  };
  auto oldest_partition = [&]() -> std::optional<int64_t> {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cfs_[kCfChunks]));
    it->SeekToFirst();
    if (!it->Valid() || it->key().size() < 8) return std::nullopt;
    return GetOrderedI64(it->key().data());
  };
  auto oldest = oldest_partition();
  if (oldest && *oldest < first_kept) {
    TIDEMARK_RETURN_IF_ERROR(drop_before(first_kept));
    std::lock_guard g(stats_mu_);
    stats_.partitions_deleted += static_cast<uint64_t>(first_kept - *oldest);
  }
  if (options_.retention_bytes > 0) {
    for (int guard = 0; guard < 1000 && DiskBytes() > options_.retention_bytes; ++guard) {
      auto o = oldest_partition();
      if (!o) break;
      // Never delete the partition being written.
      if (*o >= FloorDiv(now_ms, partition_ms)) break;
      TIDEMARK_RETURN_IF_ERROR(drop_before(*o + 1));
      std::lock_guard g(stats_mu_);
      ++stats_.partitions_deleted;
    }
  }
  // Series without any sample since the cutoff are gone.
  std::unique_lock lock(mu_);
  rocksdb::WriteBatch batch;
  std::vector<SeriesRef> dead;
  for (auto& sp : series_) {
    if (sp && sp->last_t < cutoff && sp->unflushed.empty()) dead.push_back(sp->ref);
  }
  for (SeriesRef ref : dead) {
    batch.Delete(cfs_[kCfSeries], SeriesKey(ref));
    batch.Delete(cfs_[kCfHead], SeriesKey(ref));
  }
  if (!dead.empty()) {
    TIDEMARK_RETURN_IF_ERROR(FromRocks(db_->Write(write_options_, &batch), "tsdb: series gc"));
  }
  for (SeriesRef ref : dead) {
    auto [b, e] = by_hash_.equal_range(series_[ref]->hash);
    for (auto i = b; i != e; ++i) {
      if (i->second == ref) {
        by_hash_.erase(i);
        break;
      }
    }
    index_.Remove(ref);
    head_bytes_ -= static_cast<int64_t>(series_[ref]->open.MemoryUsage());
    series_[ref].reset();
    --live_series_;
  }
  return Status::Ok();
}

Result<std::vector<SeriesData>> Db::Impl::Select(std::span<const Matcher> matchers, int64_t mint,
                                                 int64_t maxt) const {
  if (!MemIndex::SelectorIsValid(matchers)) {
    return Status::InvalidArgument("vector selector must contain at least one non-empty matcher");
  }
  std::vector<SeriesRef> refs = index_.Select(matchers);
  std::vector<SeriesData> out;
  out.reserve(refs.size());
  std::vector<std::vector<int64_t>> head_mints;  // Mints of each series' unflushed chunks.
  const rocksdb::Snapshot* snap = nullptr;
  {
    // Copy the head's part under the lock and pin RocksDB at the same point, so a chunk sealed
    // concurrently is seen exactly once.
    std::shared_lock lock(mu_);
    snap = db_->GetSnapshot();
    StripeCursor stripe;
    for (SeriesRef ref : refs) {
      if (ref >= series_.size() || !series_[ref]) continue;
      stripe.Hold(StripeOf(ref), ref >> kStripeShift);
      const MemSeries& s = *series_[ref];
      SeriesData d;
      d.ref = ref;
      d.mint = mint;
      d.maxt = maxt;
      head_mints.emplace_back();
      for (const auto& [cmint, enc] : s.unflushed) {
        d.chunks.push_back(enc);
        head_mints.back().push_back(cmint);
      }
      if (s.open.NumSamples() > 0 && s.open.first_t() <= maxt && s.last_t >= mint) {
        std::string c(1, static_cast<char>(encoding::ChunkEncoding::kXor));
        c.append(s.open.bytes());
        d.chunks.push_back(std::move(c));
      }
      out.push_back(std::move(d));
    }
  }
  {
    std::vector<SeriesRef> found;
    found.reserve(out.size());
    for (const SeriesData& d : out) found.push_back(d.ref);
    std::vector<Labels> labels = index_.GetLabels(found);
    for (size_t i = 0; i < out.size() && i < labels.size(); ++i)
      out[i].labels = std::move(labels[i]);
  }
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[kCfChunks]));
  const int64_t partition_ms = options_.partition.count();
  const int64_t pmin = FloorDiv(mint, partition_ms), pmax = FloorDiv(maxt, partition_ms);
  std::vector<std::vector<std::string>> stored(out.size());
  // Mints of all stored chunks (kept or not), recorded only for series with unflushed head chunks
  // to dedup against; last_mint: the mint of each series' last kept stored chunk.
  std::vector<std::vector<int64_t>> stored_mints(out.size());
  std::vector<int64_t> last_mint(out.size());
  // Visit only partitions that exist: after each one, seek to the next partition's first key.
  std::unique_ptr<rocksdb::Iterator> probe(db_->NewIterator(ro, cfs_[kCfChunks]));
  for (probe->Seek(PartitionKey(pmin)); probe->Valid() && !out.empty();
       probe->Seek(PartitionKey(GetOrderedI64(probe->key().data()) + 1))) {
    if (probe->key().size() < 8) break;
    const int64_t p = GetOrderedI64(probe->key().data());
    if (p > pmax) break;
    // `it` moves forward only while it stays at the first key >= the last seek target; while the
    // next series' first key lies a few Next() steps ahead, stepping is cheaper than a seek.
    bool positioned = false;
    SeriesRef prev_ref = 0;
    std::string start = ChunkKey(p, 0, std::numeric_limits<int64_t>::min());
    for (size_t i = 0; i < out.size(); ++i) {
      for (int byte = 0; byte < 8; ++byte) {  // The ref, big-endian, as ChunkKey writes it.
        start[8 + byte] = static_cast<char>(out[i].ref >> (56 - 8 * byte));
      }
      const rocksdb::Slice prefix(start.data(), 16);
      bool found = false;
      if (positioned && out[i].ref > prev_ref) {
        for (int step = 0; step < 8 && it->Valid(); ++step) {
          if (it->key().compare(rocksdb::Slice(start)) >= 0) {
            found = true;
            break;
          }
          it->Next();
        }
      }
      if (!found) it->Seek(start);
      positioned = true;
      prev_ref = out[i].ref;
      std::vector<std::string>& chunks = stored[i];
      std::vector<int64_t>* mints = head_mints[i].empty() ? nullptr : &stored_mints[i];
      for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
        int64_t cmint = GetOrderedI64(it->key().data() + 16);
        if (cmint > maxt) break;
        // Samples strictly increase along a series' chunks, so a chunk is wholly before mint
        // when its successor starts at or before mint: keep only the last such chunk (but every
        // mint, for the dedup against the head below).
        const bool replace = !chunks.empty() && last_mint[i] <= mint && cmint <= mint;
        last_mint[i] = cmint;
        if (mints != nullptr) mints->push_back(cmint);
        if (replace) {
          chunks.back().assign(it->value().data(), it->value().size());
        } else {
          chunks.emplace_back(it->value().data(), it->value().size());
        }
      }
    }
  }
  Status st = FromRocks(it->status(), "tsdb: reading chunks");
  if (st.ok()) st = FromRocks(probe->status(), "tsdb: reading chunks");
  it.reset();
  probe.reset();
  db_->ReleaseSnapshot(snap);
  if (!st.ok()) return st;
  std::vector<SeriesData> result;
  result.reserve(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (stored[i].empty() && out[i].chunks.empty()) continue;
    for (size_t k = 0; k < out[i].chunks.size(); ++k) {
      // A sealed chunk whose write completed while we copied the head is in both: keep one.
      if (k < head_mints[i].size() && std::find(stored_mints[i].begin(), stored_mints[i].end(),
                                                head_mints[i][k]) != stored_mints[i].end()) {
        continue;
      }
      stored[i].push_back(std::move(out[i].chunks[k]));
    }
    out[i].chunks = std::move(stored[i]);
    result.push_back(std::move(out[i]));
  }
  return result;
}

void Db::Impl::AddMemoryStats(DbStats* st) const {
  uint64_t v = 0;
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &v)) {
    st->memtable_bytes = v;
  }
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &v)) {
    st->table_reader_bytes = v;
  }
  st->block_cache_bytes = block_cache_ ? block_cache_->GetUsage() : 0;
  st->head_chunk_bytes = static_cast<uint64_t>(std::max<int64_t>(0, head_bytes_.load()));
}

uint64_t Db::Impl::DiskBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(options_.dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

Result<uint64_t> Db::Impl::Verify(std::vector<std::string>* problems) const {
  rocksdb::Status cs = db_->VerifyChecksum();
  if (!cs.ok()) problems->push_back("checksum: " + cs.ToString());
  uint64_t samples = 0;
  rocksdb::ReadOptions ro;
  std::unordered_set<SeriesRef> known;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[kCfSeries]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Labels l;
    if (it->key().size() != 8) {
      problems->push_back("series: key of " + std::to_string(it->key().size()) + " bytes");
      continue;
    }
    SeriesRef ref = GetBe64(it->key().data());
    if (!internal::DecodeLabels(std::string_view(it->value().data(), it->value().size()), &l)) {
      problems->push_back("series " + std::to_string(ref) + ": undecodable labels");
      continue;
    }
    known.insert(ref);
  }
  if (!it->status().ok()) problems->push_back("series: " + it->status().ToString());
  const int64_t partition_ms = options_.partition.count();
  it.reset(db_->NewIterator(ro, cfs_[kCfChunks]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 24) {
      problems->push_back("chunks: key of " + std::to_string(it->key().size()) + " bytes");
      continue;
    }
    int64_t part = GetOrderedI64(it->key().data());
    SeriesRef ref = GetBe64(it->key().data() + 8);
    int64_t cmint = GetOrderedI64(it->key().data() + 16);
    std::string where = "chunk (series " + std::to_string(ref) + ", partition " +
                        std::to_string(part) + ", mint " + std::to_string(cmint) + ")";
    if (!known.contains(ref)) problems->push_back(where + ": unknown series");
    auto ci =
        encoding::ChunkIterator::Open(std::string_view(it->value().data(), it->value().size()));
    if (!ci.ok()) {
      problems->push_back(where + ": " + ci.status().message());
      continue;
    }
    int64_t prev = std::numeric_limits<int64_t>::min();
    uint64_t n = 0;
    bool first = true;
    while (ci->Next()) {
      if (first && ci->t() != cmint) problems->push_back(where + ": first sample differs from key");
      if (ci->t() <= prev) problems->push_back(where + ": timestamps not increasing");
      if (FloorDiv(ci->t(), partition_ms) != part) {
        problems->push_back(where + ": sample outside its partition");
        break;
      }
      first = false;
      prev = ci->t();
      ++n;
    }
    if (!ci->status().ok()) problems->push_back(where + ": " + ci->status().message());
    samples += n;
  }
  if (!it->status().ok()) problems->push_back("chunks: " + it->status().ToString());
  {
    std::unique_lock lock(mu_);  // Exclusive: no commit is changing open chunks meanwhile.
    for (const auto& sp : series_) {
      if (sp) samples += sp->open.NumSamples();
    }
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------

Db::Db(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Db::~Db() {
  if (impl_ && impl_->db_) {
    std::unique_lock lock(impl_->mu_);
    Status s = impl_->CheckpointLocked();
    if (!s.ok()) spdlog::warn("tsdb: checkpoint at close failed: {}", s.ToString());
  }
}

Result<std::unique_ptr<Db>> Db::Open(const DbOptions& options, const Clock& clock) {
  if (options.dir.empty()) return Status::InvalidArgument("tsdb: empty data dir");
  if (options.chunk_samples < 2 || options.chunk_samples > encoding::kMaxXorSamples) {
    return Status::InvalidArgument("tsdb: chunk_samples must be in [2, 65535]");
  }
  if (options.partition.count() <= 0) return Status::InvalidArgument("tsdb: partition <= 0");
  auto impl = std::make_unique<Impl>(options, clock);
  TIDEMARK_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Db>(new Db(std::move(impl)));
}

SeriesRef Db::Appender::Add(const Labels& labels, int64_t t, double v) {
  // A sample Commit() would refuse as too old must not create its series either (Prometheus
  // checks the bound before creating one), or an empty series would be listed until retention.
  const int64_t newest = db_->impl_->newest_t_.load(std::memory_order_relaxed);
  if (newest != std::numeric_limits<int64_t>::min() &&
      t < newest - db_->impl_->options_.out_of_bounds.count()) {
    ++too_old_;
    return 0;
  }
  SeriesRef ref = db_->impl_->GetOrCreate(labels);
  if (ref == 0) {
    ++refused_;
    return 0;
  }
  refs_.push_back(ref);
  ts_.push_back(t);
  vs_.push_back(v);
  return ref;
}

bool Db::Appender::AddRef(SeriesRef ref, int64_t t, double v) {
  refs_.push_back(ref);
  ts_.push_back(t);
  vs_.push_back(v);
  return true;
}

Result<CommitResult> Db::Appender::Commit() {
  auto r = db_->impl_->Commit(refs_, ts_, vs_, /*replay=*/false);
  refs_.clear();
  ts_.clear();
  vs_.clear();
  if (r.ok()) {
    r->refused = refused_;
    r->too_old += too_old_;
    if (too_old_ != 0) {
      std::lock_guard g(db_->impl_->stats_mu_);
      db_->impl_->stats_.too_old += too_old_;
    }
  }
  refused_ = 0;
  too_old_ = 0;
  return r;
}

Result<std::vector<SeriesData>> Db::Select(std::span<const Matcher> matchers, int64_t mint,
                                           int64_t maxt) const {
  return impl_->Select(matchers, mint, maxt);
}

Result<std::vector<Labels>> Db::SeriesLabels(std::span<const Matcher> matchers) const {
  if (!MemIndex::SelectorIsValid(matchers)) {
    return Status::InvalidArgument("selector must contain at least one non-empty matcher");
  }
  std::vector<SeriesRef> refs = impl_->index_.Select(matchers);
  std::vector<Labels> out = impl_->index_.GetLabels(refs);
  std::erase_if(out, [](const Labels& l) { return l.empty(); });  // Deleted meanwhile.
  std::sort(out.begin(), out.end(), [](const Labels& a, const Labels& b) {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(), [](const Label& x, const Label& y) {
          return x.name != y.name ? x.name < y.name : x.value < y.value;
        });
  });
  return out;
}

std::vector<std::string> Db::LabelNames(std::span<const Matcher> matchers) const {
  return impl_->index_.LabelNames(matchers);
}

std::vector<std::string> Db::LabelValues(std::string_view name,
                                         std::span<const Matcher> matchers) const {
  return impl_->index_.LabelValues(name, matchers);
}

Status Db::ApplyRetention() { return impl_->ApplyRetention(); }

Status Db::Checkpoint() {
  std::unique_lock lock(impl_->mu_);
  return impl_->CheckpointLocked();
}

Status Db::Compact() {
  {
    std::unique_lock lock(impl_->mu_);
    for (auto& sp : impl_->series_) {
      if (sp && sp->open.NumSamples() > 0) {
        impl_->Seal(*sp, nullptr);
        sp->dirty = true;
      }
    }
    TIDEMARK_RETURN_IF_ERROR(impl_->CheckpointLocked());
  }
  rocksdb::FlushOptions fo;
  TIDEMARK_RETURN_IF_ERROR(FromRocks(impl_->db_->Flush(fo, impl_->cfs_), "tsdb: flush"));
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* cf : impl_->cfs_) {
    TIDEMARK_RETURN_IF_ERROR(
        FromRocks(impl_->db_->CompactRange(cro, cf, nullptr, nullptr), "tsdb: compact"));
  }
  return Status::Ok();
}

DbStats Db::Stats() const {
  DbStats s;
  {
    std::lock_guard g(impl_->stats_mu_);
    s = impl_->stats_;
  }
  std::shared_lock lock(impl_->mu_);
  s.series = impl_->live_series_;
  s.log_bytes = impl_->log_bytes_.load();
  lock.unlock();
  impl_->AddMemoryStats(&s);
  return s;
}

uint64_t Db::DiskBytes() const { return impl_->DiskBytes(); }

Result<uint64_t> Db::Verify(std::vector<std::string>* problems) const {
  return impl_->Verify(problems);
}

}  // namespace tidemark::tsdb
