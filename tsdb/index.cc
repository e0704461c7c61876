#include "tsdb/index.h"

#include <algorithm>
#include <iterator>
#include <mutex>
#include <tuple>
#include <utility>

namespace tidemark::tsdb {
namespace {

using Refs = std::vector<SeriesRef>;
using RefSpan = std::span<const SeriesRef>;

// Above this size ratio a sorted-list operation binary-searches the long list (advancing the lower
// bound) instead of walking both lists.
constexpr size_t kGallopRatio = 16;

void InsertSorted(Refs& v, SeriesRef r) {
  if (v.empty() || v.back() < r) {
    v.push_back(r);
    return;
  }
  auto it = std::lower_bound(v.begin(), v.end(), r);
  if (*it != r) v.insert(it, r);
}

// Sets found[i] for every a[i] that occurs in b. Both sorted ascending.
void MarkFound(const Refs& a, RefSpan b, std::vector<char>& found) {
  if (a.empty() || b.empty()) return;
  if (b.size() > kGallopRatio * a.size()) {
    auto it = b.begin();
    for (size_t i = 0; i < a.size(); ++i) {
      it = std::lower_bound(it, b.end(), a[i]);
      if (it == b.end()) return;
      if (*it == a[i]) found[i] = 1;
    }
  } else if (a.size() > kGallopRatio * b.size()) {
    auto it = a.begin();
    for (SeriesRef x : b) {
      it = std::lower_bound(it, a.end(), x);
      if (it == a.end()) return;
      if (*it == x) found[it - a.begin()] = 1;
    }
  } else {
    size_t j = 0;
    for (size_t i = 0; i < a.size() && j < b.size(); ++i) {
      while (j < b.size() && b[j] < a[i]) ++j;
      if (j < b.size() && b[j] == a[i]) found[i] = 1;
    }
  }
}

// Keeps the elements of *a that occur (keep_found) or do not occur in any of `lists`.
void FilterByLists(Refs* a, const std::vector<RefSpan>& lists, bool keep_found) {
  if (a->empty()) return;
  std::vector<char> found(a->size(), 0);
  for (RefSpan l : lists) MarkFound(*a, l, found);
  size_t out = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    if (static_cast<bool>(found[i]) == keep_found) (*a)[out++] = (*a)[i];
  }
  a->resize(out);
}

// Sorted union of sorted lists, merged pairwise (n log k).
Refs Union(const std::vector<RefSpan>& lists) {
  if (lists.empty()) return {};
  std::vector<Refs> level;
  level.reserve(lists.size() / 2 + 1);
  for (size_t i = 0; i < lists.size(); i += 2) {
    Refs r;
    if (i + 1 < lists.size()) {
      r.reserve(lists[i].size() + lists[i + 1].size());
      std::set_union(lists[i].begin(), lists[i].end(), lists[i + 1].begin(), lists[i + 1].end(),
                     std::back_inserter(r));
    } else {
      r.assign(lists[i].begin(), lists[i].end());
    }
    level.push_back(std::move(r));
  }
  while (level.size() > 1) {
    std::vector<Refs> next;
    next.reserve(level.size() / 2 + 1);
    for (size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {
        next.push_back(std::move(level[i]));
        break;
      }
      Refs r;
      r.reserve(level[i].size() + level[i + 1].size());
      std::set_union(level[i].begin(), level[i].end(), level[i + 1].begin(), level[i + 1].end(),
                     std::back_inserter(r));
      next.push_back(std::move(r));
    }
    level = std::move(next);
  }
  return std::move(level[0]);
}

bool IsPositiveType(MatchType t) { return t == MatchType::kEqual || t == MatchType::kRegexMatch; }

}  // namespace

// One matcher prepared for evaluation against the postings.
struct MemIndex::Term {
  const Matcher* m = nullptr;
  const NameEntry* entry = nullptr;
  SymbolId name_id = 0;
  // The matcher accepts "": instead of intersecting with the series whose value it accepts, drop
  // those whose value it rejects (series lacking the label are kept).
  bool subtract = false;
  // `lists` are exactly the postings to intersect with (their union) or to subtract; otherwise
  // the label's values have to be scanned.
  bool direct = false;
  std::vector<RefSpan> lists;
  size_t estimate = 0;  // Upper bound of the series the term's postings hold.
};

MemIndex::MemIndex() = default;
MemIndex::~MemIndex() = default;

std::shared_lock<std::shared_mutex> MemIndex::ReadLock() const {
  std::lock_guard gate(gate_);
  return std::shared_lock(mu_);
}

std::unique_lock<std::shared_mutex> MemIndex::WriteLock() {
  std::lock_guard gate(gate_);
  return std::unique_lock(mu_);
}

MemIndex::SymbolId MemIndex::Intern(std::string_view s) {
  if (auto it = symbol_ids_.find(s); it != symbol_ids_.end()) {
    ++symbols_[it->second].refs;
    return it->second;
  }
  SymbolId id;
  if (!free_symbols_.empty()) {
    id = free_symbols_.back();
    free_symbols_.pop_back();
    symbols_[id].str.assign(s);
  } else {
    id = static_cast<SymbolId>(symbols_.size());
    symbols_.push_back(Symbol{std::string(s), 0});
  }
  symbols_[id].refs = 1;
  symbol_ids_.emplace(symbols_[id].str, id);
  return id;
}

void MemIndex::Release(SymbolId id) {
  Symbol& sym = symbols_[id];
  if (--sym.refs > 0) return;
  symbol_ids_.erase(sym.str);
  std::string().swap(sym.str);
  free_symbols_.push_back(id);
}

std::optional<MemIndex::SymbolId> MemIndex::Lookup(std::string_view s) const {
  auto it = symbol_ids_.find(s);
  if (it == symbol_ids_.end()) return std::nullopt;
  return it->second;
}

const MemIndex::NameEntry* MemIndex::FindName(std::string_view name) const {
  std::optional<SymbolId> id = Lookup(name);
  if (!id) return nullptr;
  auto it = names_.find(*id);
  return it == names_.end() ? nullptr : &it->second;
}

void MemIndex::Add(SeriesRef ref, const Labels& labels) {
  std::vector<const Label*> ls;
  ls.reserve(labels.size());
  for (const Label& l : labels) {
    if (!l.value.empty()) ls.push_back(&l);
  }
  auto by_name = [](const Label* a, const Label* b) { return a->name < b->name; };
  if (!std::is_sorted(ls.begin(), ls.end(), by_name))
    std::stable_sort(ls.begin(), ls.end(), by_name);
  ls.erase(std::unique(ls.begin(), ls.end(),
                       [](const Label* a, const Label* b) { return a->name == b->name; }),
           ls.end());

  auto lock = WriteLock();
  auto [it, inserted] = series_.try_emplace(ref);
  if (!inserted) return;
  SeriesEntry& e = it->second;
  e.num_labels = static_cast<uint32_t>(ls.size());
  e.ids = std::make_unique_for_overwrite<SymbolId[]>(2 * ls.size());
  for (size_t i = 0; i < ls.size(); ++i) {
    SymbolId name = Intern(ls[i]->name);
    SymbolId value = Intern(ls[i]->value);
    e.ids[2 * i] = name;
    e.ids[2 * i + 1] = value;
    NameEntry& ne = names_[name];
    InsertSorted(ne.postings[value], ref);
    ++ne.num_series;
  }
  InsertSorted(all_, ref);
}

void MemIndex::Remove(SeriesRef ref) { Remove(std::span<const SeriesRef>(&ref, 1)); }

void MemIndex::Remove(std::span<const SeriesRef> refs) {
  auto lock = WriteLock();
  std::vector<std::tuple<SymbolId, SymbolId, SeriesRef>> victims;  // (name, value, series)
  Refs removed;
  for (SeriesRef ref : refs) {
    auto it = series_.find(ref);
    if (it == series_.end()) continue;
    const SeriesEntry& e = it->second;
    for (uint32_t i = 0; i < e.num_labels; ++i)
      victims.emplace_back(e.ids[2 * i], e.ids[2 * i + 1], ref);
    removed.push_back(ref);
    series_.erase(it);
  }
  if (removed.empty()) return;
  std::sort(victims.begin(), victims.end());
  Refs group;
  for (size_t i = 0; i < victims.size();) {
    SymbolId name = std::get<0>(victims[i]);
    SymbolId value = std::get<1>(victims[i]);
    group.clear();
    for (;
         i < victims.size() && std::get<0>(victims[i]) == name && std::get<1>(victims[i]) == value;
         ++i) {
      group.push_back(std::get<2>(victims[i]));
    }
    auto ne = names_.find(name);
    auto pit = ne->second.postings.find(value);
    Postings& p = pit->second;
    size_t before = p.size();
    FilterByLists(&p, {RefSpan(group)}, /*keep_found=*/false);
    ne->second.num_series -= before - p.size();
    if (p.empty()) {
      ne->second.postings.erase(pit);
      if (ne->second.postings.empty()) names_.erase(ne);
    } else if (p.capacity() > 2 * p.size() + 8) {
      p.shrink_to_fit();
    }
    for (size_t k = 0; k < group.size(); ++k) {
      Release(name);
      Release(value);
    }
  }
  std::sort(removed.begin(), removed.end());
  removed.erase(std::unique(removed.begin(), removed.end()), removed.end());
  FilterByLists(&all_, {RefSpan(removed)}, /*keep_found=*/false);
  if (all_.capacity() > 2 * all_.size() + 1024) all_.shrink_to_fit();
}

bool MemIndex::SelectorIsValid(std::span<const Matcher> matchers) {
  return std::any_of(matchers.begin(), matchers.end(),
                     [](const Matcher& m) { return !m.matches_empty(); });
}

std::vector<SeriesRef> MemIndex::Select(std::span<const Matcher> matchers) const {
  auto lock = ReadLock();
  return SelectLocked(matchers);
}

std::vector<SeriesRef> MemIndex::SelectLocked(std::span<const Matcher> matchers) const {
  std::vector<Term> positive;
  std::vector<Term> negative;
  for (const Matcher& m : matchers) {
    Term t;
    t.m = &m;
    t.subtract = m.matches_empty();
    std::optional<SymbolId> name_id = Lookup(m.name());
    if (name_id) {
      t.name_id = *name_id;
      auto it = names_.find(*name_id);
      if (it != names_.end()) t.entry = &it->second;
    }
    if (t.entry == nullptr) {
      // No series has the label, so every series has the value "".
      if (t.subtract) continue;
      return {};
    }
    const std::vector<std::string>* lits = m.literal_set();
    // With a literal set, `=`/`=~` that reject "" intersect with the literals' postings and
    // `!=`/`!~` that accept "" subtract them; the other two cases need a scan of the values.
    if (lits != nullptr && IsPositiveType(m.type()) != t.subtract) {
      t.direct = true;
      for (const std::string& lit : *lits) {
        if (lit.empty()) continue;
        std::optional<SymbolId> v = Lookup(lit);
        if (!v) continue;
        auto p = t.entry->postings.find(*v);
        if (p == t.entry->postings.end()) continue;
        t.lists.emplace_back(p->second);
        t.estimate += p->second.size();
      }
      if (t.lists.empty()) {
        if (t.subtract) continue;
        return {};
      }
    } else {
      t.estimate = t.entry->num_series;
    }
    (t.subtract ? negative : positive).push_back(std::move(t));
  }
  auto cheaper = [](const Term& a, const Term& b) {
    return std::tie(a.estimate, b.direct) < std::tie(b.estimate, a.direct);
  };
  std::sort(positive.begin(), positive.end(), cheaper);
  std::sort(negative.begin(), negative.end(), cheaper);

  // Postings of the values for which the matcher's verdict is `want`.
  auto scan_values = [this](const Term& t, bool want) {
    std::vector<RefSpan> lists;
    for (const auto& [value, postings] : t.entry->postings) {
      if (t.m->Matches(symbols_[value].str) == want) lists.emplace_back(postings);
    }
    return lists;
  };

  Refs result;
  size_t first = 0;
  if (positive.empty()) {
    result = all_;
  } else {
    const Term& t = positive[0];
    result = Union(t.direct ? t.lists : scan_values(t, true));
    first = 1;
  }
  auto apply = [&](const Term& t) {
    if (t.direct) {
      FilterByLists(&result, t.lists, /*keep_found=*/!t.subtract);
      return;
    }
    // Few candidates: look their values up rather than scanning every value of the label.
    if (result.size() * 4 < t.entry->postings.size() + t.entry->num_series) {
      size_t out = 0;
      for (SeriesRef ref : result) {
        const SeriesEntry& e = series_.find(ref)->second;
        std::string_view value;
        for (uint32_t i = 0; i < e.num_labels; ++i) {
          if (e.ids[2 * i] == t.name_id) {
            value = symbols_[e.ids[2 * i + 1]].str;
            break;
          }
        }
        if (t.m->Matches(value)) result[out++] = ref;
      }
      result.resize(out);
      return;
    }
    FilterByLists(&result, scan_values(t, !t.subtract), /*keep_found=*/!t.subtract);
  };
  for (size_t i = first; i < positive.size() && !result.empty(); ++i) apply(positive[i]);
  for (size_t i = 0; i < negative.size() && !result.empty(); ++i) apply(negative[i]);
  return result;
}

std::vector<std::string> MemIndex::LabelNames(std::span<const Matcher> matchers) const {
  auto lock = ReadLock();
  std::vector<std::string> out;
  if (matchers.empty()) {
    out.reserve(names_.size());
    for (const auto& [name, entry] : names_) out.push_back(symbols_[name].str);
  } else {
    std::vector<char> seen(symbols_.size(), 0);
    for (SeriesRef ref : SelectLocked(matchers)) {
      const SeriesEntry& e = series_.find(ref)->second;
      for (uint32_t i = 0; i < e.num_labels; ++i) {
        SymbolId name = e.ids[2 * i];
        if (seen[name]) continue;
        seen[name] = 1;
        out.push_back(symbols_[name].str);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> MemIndex::LabelValues(std::string_view name,
                                               std::span<const Matcher> matchers) const {
  auto lock = ReadLock();
  std::vector<std::string> out;
  std::optional<SymbolId> name_id = Lookup(name);
  if (!name_id) return out;
  auto ne = names_.find(*name_id);
  if (ne == names_.end()) return out;
  if (matchers.empty()) {
    out.reserve(ne->second.postings.size());
    for (const auto& [value, postings] : ne->second.postings) out.push_back(symbols_[value].str);
  } else {
    std::vector<char> seen(symbols_.size(), 0);
    for (SeriesRef ref : SelectLocked(matchers)) {
      const SeriesEntry& e = series_.find(ref)->second;
      for (uint32_t i = 0; i < e.num_labels; ++i) {
        if (e.ids[2 * i] != *name_id) continue;
        SymbolId value = e.ids[2 * i + 1];
        if (!seen[value]) {
          seen[value] = 1;
          out.push_back(symbols_[value].str);
        }
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Labels MemIndex::LabelsOf(const SeriesEntry& e) const {
  Labels out;
  out.reserve(e.num_labels);
  for (uint32_t i = 0; i < e.num_labels; ++i) {
    out.push_back(Label{symbols_[e.ids[2 * i]].str, symbols_[e.ids[2 * i + 1]].str});
  }
  return out;
}

std::optional<Labels> MemIndex::GetLabels(SeriesRef ref) const {
  auto lock = ReadLock();
  auto it = series_.find(ref);
  if (it == series_.end()) return std::nullopt;
  return LabelsOf(it->second);
}

bool MemIndex::GetLabels(SeriesRef ref, Labels* out) const {
  auto lock = ReadLock();
  auto it = series_.find(ref);
  if (it == series_.end()) return false;
  const SeriesEntry& e = it->second;
  out->resize(e.num_labels);
  for (uint32_t i = 0; i < e.num_labels; ++i) {
    (*out)[i].name.assign(symbols_[e.ids[2 * i]].str);
    (*out)[i].value.assign(symbols_[e.ids[2 * i + 1]].str);
  }
  return true;
}

std::vector<Labels> MemIndex::GetLabels(std::span<const SeriesRef> refs) const {
  auto lock = ReadLock();
  std::vector<Labels> out;
  out.reserve(refs.size());
  for (SeriesRef ref : refs) {
    auto it = series_.find(ref);
    out.push_back(it == series_.end() ? Labels{} : LabelsOf(it->second));
  }
  return out;
}

size_t MemIndex::NumSeries() const {
  auto lock = ReadLock();
  return series_.size();
}

}  // namespace tidemark::tsdb
