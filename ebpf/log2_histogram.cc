#include "ebpf/log2_histogram.h"

#include <cmath>
#include <string>

namespace tidemark::ebpf {
namespace {

// Shortest decimal that reads back as `v` (e.g. 0.000001, 1.048576).
std::string FormatLe(double v) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

void Log2Histogram::Merge(const Log2Histogram& other) {
  if (other.slots.size() > slots.size()) slots.resize(other.slots.size(), 0);
  for (size_t i = 0; i < other.slots.size(); ++i) slots[i] += other.slots[i];
  sum += other.sum;
}

uint64_t Log2Histogram::Count() const {
  uint64_t n = 0;
  for (uint64_t c : slots) n += c;
  return n;
}

double Log2Histogram::UpperBound(size_t k, double unit_seconds) {
  return std::ldexp(1.0, static_cast<int>(k)) * unit_seconds;
}

void Log2Histogram::Emit(SampleBatch* batch, size_t family, const LabelSet* base,
                         const Labels& extra, double unit_seconds) const {
  // The `le` strings of the last unit used, formatted once (thread_local: no locking).
  thread_local double cached_unit = 0;
  thread_local std::vector<std::string> les;
  if (cached_unit != unit_seconds) {
    les.clear();
    cached_unit = unit_seconds;
  }
  while (les.size() + 1 < slots.size())
    les.push_back(FormatLe(UpperBound(les.size(), unit_seconds)));
  uint64_t cumulative = 0;
  for (size_t k = 0; k + 1 < slots.size(); ++k) {
    cumulative += slots[k];
    Labels l;
    l.reserve(extra.size() + 1);
    l = extra;
    l.push_back({"le", les[k]});
    batch->Add(family, base, std::move(l), static_cast<double>(cumulative), SeriesPart::kBucket);
  }
  const uint64_t total = Count();
  Labels inf = extra;
  inf.push_back({"le", "+Inf"});
  batch->Add(family, base, std::move(inf), static_cast<double>(total), SeriesPart::kBucket);
  batch->Add(family, base, extra, sum, SeriesPart::kSum);
  batch->Add(family, base, extra, static_cast<double>(total), SeriesPart::kCount);
}

}  // namespace tidemark::ebpf
