// Writes each collection cycle into the local store: resolves series refs through a cache keyed by
// (family, container label set, per-sample labels), and writes Prometheus' staleness marker for
// every series that was in the previous cycle but not in this one.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/sample_batch.h"
#include "common/status.h"
#include "tsdb/db.h"

namespace tidemark::agent {

struct StoreWriteStats {
  uint64_t samples = 0;        // Accepted by the store.
  uint64_t stale_markers = 0;  // Written for series that disappeared.
  uint64_t rejected = 0;       // Out of order, duplicate, too old or refused.
};

// Not thread-safe: the collection thread owns it.
class StoreWriter {
 public:
  explicit StoreWriter(tsdb::Db& db) : db_(db) {}
  // Appends every sample of `batch` at batch.timestamp_ms() and commits once. On a commit error
  // nothing of the cycle is acknowledged and the cache is left as it was before the call.
  Result<StoreWriteStats> Write(const SampleBatch& batch);
  size_t cached_series() const { return cache_.size(); }

 private:
  struct Entry {
    tsdb::SeriesRef ref = 0;
    uint64_t cycle = 0;
    LabelSetPtr base;  // Keeps the label set (and so its address in the key) alive.
  };
  tsdb::Db& db_;
  std::unordered_map<std::string, Entry> cache_;
  uint64_t cycle_ = 0;
  std::string key_;  // Reused buffer.
};

}  // namespace tidemark::agent
