#include "agent/store_writer.h"

#include <algorithm>
#include <cstring>

namespace tidemark::agent {

namespace {

// The series' full label set into *out, reusing its elements' buffers.
void FullLabels(std::string_view name, const Sample& s, Labels* out) {
  const size_t n = 1 + s.extra.size() + (s.base ? s.base->labels().size() : 0);
  out->resize(n);
  size_t i = 0;
  (*out)[i].name.assign("__name__");
  (*out)[i++].value.assign(name);
  if (s.base != nullptr) {
    for (const Label& l : s.base->labels()) {
      (*out)[i].name.assign(l.name);
      (*out)[i++].value.assign(l.value);
    }
  }
  for (const Label& l : s.extra) {
    (*out)[i].name.assign(l.name);
    (*out)[i++].value.assign(l.value);
  }
  SortLabels(out);
}

void EncodeExtra(const Labels& extra, std::string* out) {
  out->clear();
  for (const Label& l : extra) {
    out->append(l.name);
    out->push_back('\0');
    out->append(l.value);
    out->push_back('\0');
  }
}

}  // namespace

uint32_t StoreWriter::Symbols::Find(const std::string& s) const {
  auto it = ids_.find(s);
  return it == ids_.end() ? kNone : it->second.id;
}

uint32_t StoreWriter::Symbols::Acquire(std::string_view s) {
  auto [it, inserted] = ids_.try_emplace(std::string(s), Sym{0, 0});
  if (inserted) {
    if (!free_.empty()) {
      it->second.id = free_.back();
      free_.pop_back();
      strs_[it->second.id] = &it->first;
    } else {
      it->second.id = static_cast<uint32_t>(strs_.size());
      strs_.push_back(&it->first);
    }
  }
  ++it->second.uses;
  return it->second.id;
}

void StoreWriter::Symbols::Release(uint32_t id) {
  auto it = ids_.find(*strs_[id]);
  if (--it->second.uses > 0) return;
  strs_[id] = nullptr;
  free_.push_back(id);
  ids_.erase(it);
}

size_t StoreWriter::KeyHash::operator()(const Key& k) const noexcept {
  uint64_t x = reinterpret_cast<uintptr_t>(k.base) ^ (uint64_t{k.name} << 32 | k.extra);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return static_cast<size_t>(x);
}

void StoreWriter::Insert(const LabelSet* base, LabelSetPtr owner, std::string_view name,
                         std::string_view extra, Entry e) {
  Key k{base, names_.Acquire(name), extras_.Acquire(extra)};
  auto [it, inserted] = cache_.try_emplace(k, e);
  if (!inserted) {  // Only if a cycle repeated a series; keep one use per entry.
    names_.Release(k.name);
    extras_.Release(k.extra);
    it->second = e;
    return;
  }
  if (base != nullptr) {
    Base& b = bases_[base];
    if (b.owner == nullptr) b.owner = std::move(owner);
    ++b.uses;
  }
}

void StoreWriter::Erase(const Key& k) {
  if (cache_.erase(k) == 0) return;
  names_.Release(k.name);
  extras_.Release(k.extra);
  if (k.base != nullptr) {
    auto it = bases_.find(k.base);
    if (it != bases_.end() && --it->second.uses == 0) bases_.erase(it);
  }
}

Result<StoreWriteStats> StoreWriter::Write(const SampleBatch& batch) {
  const uint64_t cycle = ++cycle_;
  const int64_t ts = batch.timestamp_ms();
  auto app = db_.NewAppender();
  // New series (by position in the batch, not copies: temporaries per series would leave holes
  // between the long-lived structures the store allocates for them), entered into the cache only
  // after the commit succeeds.
  struct Added {
    const MetricFamily* family;
    const Sample* sample;
    tsdb::SeriesRef ref;
  };
  std::vector<Added> added;
  std::string name, extra;
  for (const MetricFamily& f : batch.families()) {
    // Name ids per part, looked up once per family.
    uint32_t name_ids[4] = {Symbols::kNone, Symbols::kNone, Symbols::kNone, Symbols::kNone};
    bool looked_up[4] = {false, false, false, false};
    for (const Sample& s : f.samples) {
      const size_t part = static_cast<size_t>(s.part) & 3;
      if (!looked_up[part]) {
        name.assign(f.name);
        name.append(SeriesPartSuffix(s.part));
        name_ids[part] = names_.Find(name);
        looked_up[part] = true;
      }
      EncodeExtra(s.extra, &extra);
      if (name_ids[part] != Symbols::kNone) {
        const uint32_t extra_id = extras_.Find(extra);
        if (extra_id != Symbols::kNone) {
          auto it = cache_.find(Key{s.base, name_ids[part], extra_id});
          if (it != cache_.end()) {
            app.AddRef(it->second.ref, ts, s.value);
            it->second.cycle = cycle;
            continue;
          }
        }
      }
      name.assign(f.name);
      name.append(SeriesPartSuffix(s.part));
      FullLabels(name, s, &labels_);
      tsdb::SeriesRef ref = app.Add(labels_, ts, s.value);
      if (ref != 0) added.push_back(Added{&f, &s, ref});
    }
  }
  // Series of the last cycle that are gone now get a staleness marker.
  std::vector<Key> gone;
  for (auto& [k, e] : cache_) {
    if (e.cycle != cycle) {
      app.AddRef(e.ref, ts, tsdb::StaleNaN());
      gone.push_back(k);
    }
  }
  auto r = app.Commit();
  if (!r.ok()) return r.status();
  for (const Key& k : gone) Erase(k);
  for (const Added& a : added) {
    name.assign(a.family->name);
    name.append(SeriesPartSuffix(a.sample->part));
    EncodeExtra(a.sample->extra, &extra);
    Insert(a.sample->base, batch.Owner(a.sample->base), name, extra, Entry{a.ref, cycle});
  }
  StoreWriteStats st;
  st.samples = r->accepted;
  st.stale_markers = gone.size();
  st.rejected = r->out_of_order + r->duplicates + r->too_old + r->refused;
  return st;
}

}  // namespace tidemark::agent
