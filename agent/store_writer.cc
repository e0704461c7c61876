#include "agent/store_writer.h"

#include <algorithm>
#include <cstring>

namespace tidemark::agent {

namespace {

Labels FullLabels(std::string_view name, const Sample& s) {
  Labels out;
  size_t n = 1 + s.extra.size() + (s.base ? s.base->labels().size() : 0);
  out.reserve(n);
  out.push_back(Label{"__name__", std::string(name)});
  if (s.base != nullptr) out.insert(out.end(), s.base->labels().begin(), s.base->labels().end());
  out.insert(out.end(), s.extra.begin(), s.extra.end());
  std::sort(out.begin(), out.end(), [](const Label& a, const Label& b) { return a.name < b.name; });
  return out;
}

}  // namespace

Result<StoreWriteStats> StoreWriter::Write(const SampleBatch& batch) {
  const uint64_t cycle = ++cycle_;
  const int64_t ts = batch.timestamp_ms();
  auto app = db_.NewAppender();
  // New cache entries are applied only after the commit succeeds.
  std::vector<std::pair<std::string, Entry>> added;
  std::string name;
  for (const MetricFamily& f : batch.families()) {
    for (const Sample& s : f.samples) {
      std::string_view suffix = SeriesPartSuffix(s.part);
      key_.assign(f.name);
      key_.append(suffix);
      key_.push_back('\0');
      const LabelSet* base = s.base;
      key_.append(reinterpret_cast<const char*>(&base), sizeof(base));
      for (const Label& l : s.extra) {
        key_.append(l.name);
        key_.push_back('\0');
        key_.append(l.value);
        key_.push_back('\0');
      }
      auto it = cache_.find(key_);
      if (it != cache_.end()) {
        app.AddRef(it->second.ref, ts, s.value);
        it->second.cycle = cycle;
        continue;
      }
      name.assign(f.name);
      name.append(suffix);
      tsdb::SeriesRef ref = app.Add(FullLabels(name, s), ts, s.value);
      if (ref != 0) added.emplace_back(key_, Entry{ref, cycle, batch.Owner(base)});
    }
  }
  // Series of the last cycle that are gone now get a staleness marker.
  std::vector<std::string> gone;
  for (auto& [k, e] : cache_) {
    if (e.cycle != cycle) {
      app.AddRef(e.ref, ts, tsdb::StaleNaN());
      gone.push_back(k);
    }
  }
  auto r = app.Commit();
  if (!r.ok()) return r.status();
  for (const std::string& k : gone) cache_.erase(k);
  for (auto& [k, e] : added) cache_.emplace(std::move(k), std::move(e));
  StoreWriteStats st;
  st.samples = r->accepted;
  st.stale_markers = gone.size();
  st.rejected = r->out_of_order + r->duplicates + r->too_old + r->refused;
  return st;
}

}  // namespace tidemark::agent
