// Writes each collection cycle into the local store: resolves series refs through a cache keyed by
// (family, container label set, per-sample labels), and writes Prometheus' staleness marker for
// every series that was in the previous cycle but not in this one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/sample_batch.h"
#include "common/status.h"
#include "tsdb/db.h"

namespace tidemark::agent {

struct StoreWriteStats {
  uint64_t samples = 0;        // Accepted by the store.
  uint64_t stale_markers = 0;  // Written for series that disappeared.
  uint64_t rejected = 0;       // Out of order, duplicate, too old or refused.
};

// Not thread-safe: the collection thread owns it. Memory: about 60 bytes per cached series (the
// family names, per-sample label sets and container label sets are held once each).
class StoreWriter {
 public:
  explicit StoreWriter(tsdb::Db& db) : db_(db) {}
  // Appends every sample of `batch` at batch.timestamp_ms() and commits once. On a commit error
  // nothing of the cycle is acknowledged and the cache is left as it was before the call.
  Result<StoreWriteStats> Write(const SampleBatch& batch);
  size_t cached_series() const { return cache_.size(); }

 private:
  // Strings (series names, encoded per-sample labels) by small id, counted by the cache entries
  // using them; an id is freed with its last use and reused.
  class Symbols {
   public:
    static constexpr uint32_t kNone = UINT32_MAX;
    uint32_t Find(const std::string& s) const;  // kNone when absent.
    uint32_t Acquire(std::string_view s);
    void Release(uint32_t id);

   private:
    struct Sym {
      uint32_t id;
      uint32_t uses;
    };
    std::unordered_map<std::string, Sym> ids_;
    std::vector<const std::string*> strs_;  // By id; keys of ids_ (stable), null when freed.
    std::vector<uint32_t> free_;
  };
  struct Key {
    const LabelSet* base;
    uint32_t name;   // Symbols id of family name + part suffix.
    uint32_t extra;  // Symbols id of the encoded per-sample labels.
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Entry {
    tsdb::SeriesRef ref = 0;
    uint64_t cycle = 0;
  };
  // A container label set in use by cache entries; holding it keeps its address (part of Key)
  // from being reused by another label set.
  struct Base {
    LabelSetPtr owner;
    uint32_t uses = 0;
  };
  void Insert(const LabelSet* base, LabelSetPtr owner, std::string_view name,
              std::string_view extra, Entry e);
  void Erase(const Key& k);

  tsdb::Db& db_;
  std::unordered_map<Key, Entry, KeyHash> cache_;
  std::unordered_map<const LabelSet*, Base> bases_;
  Symbols names_;
  Symbols extras_;
  Labels labels_;  // Reused buffer for new series' label sets.
  uint64_t cycle_ = 0;
};

}  // namespace tidemark::agent
