// The in-memory inverted index of the store: label set of each series and, per `name=value`, the
// sorted list of series carrying it (the postings of tsdb/docs/format/index.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "tsdb/matcher.h"

namespace tidemark::tsdb {

// Identifies a series; assigned by the store. Select() returns refs in ascending order.
using SeriesRef = uint64_t;

// Series → labels and `name=value` → postings. Label strings are interned (one copy per distinct
// string, freed when the last series using it is removed); a series costs about 200 bytes here
// (see tests/tsdb/index_test.cc). Labels with an empty value are dropped, as Prometheus treats
// `l=""` as absent. Writers take an exclusive lock and readers a shared one, so many queries run
// concurrently; a waiting writer holds off new readers. The class is thread-safe.
class MemIndex {
 public:
  MemIndex();
  ~MemIndex();
  MemIndex(const MemIndex&) = delete;
  MemIndex& operator=(const MemIndex&) = delete;

  // Adds series `ref` with `labels` (names unique; usually sorted by name, sorted here if not).
  // A ref that is already present keeps its labels. Fastest when refs arrive in ascending order.
  void Add(SeriesRef ref, const Labels& labels);
  // Removes series; unknown refs are ignored. The batch form costs one pass over each touched
  // postings list, so prefer it when retention drops many series at once.
  void Remove(SeriesRef ref);
  void Remove(std::span<const SeriesRef> refs);

  // Refs of the series every matcher accepts, ascending. An empty span selects every series.
  // Does not check SelectorIsValid(): the caller rejects invalid selectors.
  std::vector<SeriesRef> Select(std::span<const Matcher> matchers) const;
  // Prometheus' rule: at least one matcher must not match the empty string (`{a=""}` is refused).
  static bool SelectorIsValid(std::span<const Matcher> matchers);

  // Label names (including `__name__`) of all series, or of the series Select(matchers) returns
  // when matchers are given; sorted, unique.
  std::vector<std::string> LabelNames(std::span<const Matcher> matchers = {}) const;
  // Values of label `name` over all series, or over Select(matchers); sorted, unique, no "".
  std::vector<std::string> LabelValues(std::string_view name,
                                       std::span<const Matcher> matchers = {}) const;

  // A copy of the labels of `ref` sorted by name, or nullopt when the series is unknown. Copies
  // because a concurrent Remove() may free the index's storage.
  std::optional<Labels> GetLabels(SeriesRef ref) const;
  // Fills *out with the labels of `ref` (as above), reusing its elements' buffers; false when the
  // series is unknown. For callers that look up many series one at a time.
  bool GetLabels(SeriesRef ref, Labels* out) const;
  // Labels of each ref in order (empty Labels for unknown refs) under a single lock.
  std::vector<Labels> GetLabels(std::span<const SeriesRef> refs) const;

  size_t NumSeries() const;

 private:
  using SymbolId = uint32_t;
  using Postings = std::vector<SeriesRef>;  // Sorted ascending, unique.

  struct Symbol {
    std::string str;
    uint32_t refs = 0;  // Occurrences as a label name or value across all series.
  };
  // The values of one label name.
  struct NameEntry {
    std::unordered_map<SymbolId, Postings> postings;  // value id → series
    size_t num_series = 0;                            // Sum of the postings' sizes.
  };
  // Interleaved (name id, value id) pairs sorted by name string.
  struct SeriesEntry {
    std::unique_ptr<SymbolId[]> ids;
    uint32_t num_labels = 0;
  };
  struct Term;

  // The helpers below expect mu_ to be held (shared for const ones).
  SymbolId Intern(std::string_view s);
  void Release(SymbolId id);
  std::optional<SymbolId> Lookup(std::string_view s) const;
  const NameEntry* FindName(std::string_view name) const;
  std::vector<SeriesRef> SelectLocked(std::span<const Matcher> matchers) const;
  Labels LabelsOf(const SeriesEntry& e) const;
  std::shared_lock<std::shared_mutex> ReadLock() const;
  std::unique_lock<std::shared_mutex> WriteLock();

  // Held by a writer while it waits for mu_ and by a reader while it takes mu_, so a steady
  // stream of queries cannot starve the appender (glibc's rwlock prefers readers).
  mutable std::mutex gate_;
  mutable std::shared_mutex mu_;
  // Guarded by mu_. Indexed by SymbolId; a deque so that the keys of symbol_ids_ stay valid.
  std::deque<Symbol> symbols_;
  // Guarded by mu_. Ids of freed symbols, reused by Intern().
  std::vector<SymbolId> free_symbols_;
  // Guarded by mu_. Keys point into symbols_.
  std::unordered_map<std::string_view, SymbolId> symbol_ids_;
  // Guarded by mu_. Label name id → its values' postings; names without series are erased.
  std::unordered_map<SymbolId, NameEntry> names_;
  // Guarded by mu_.
  std::unordered_map<SeriesRef, SeriesEntry> series_;
  // Guarded by mu_. Every series, for selectors whose matchers all match "".
  Postings all_;
};

}  // namespace tidemark::tsdb
