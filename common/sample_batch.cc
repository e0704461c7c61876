#include "common/sample_batch.h"

namespace tidemark {

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kUntyped:
      return "untyped";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string_view SeriesPartSuffix(SeriesPart part) {
  switch (part) {
    case SeriesPart::kValue:
      return "";
    case SeriesPart::kBucket:
      return "_bucket";
    case SeriesPart::kSum:
      return "_sum";
    case SeriesPart::kCount:
      return "_count";
  }
  return "";
}

size_t SampleBatch::Family(std::string_view name, std::string_view help, MetricType type) {
  auto it = index_.find(std::string(name));
  if (it != index_.end()) return it->second;
  size_t idx = families_.size();
  families_.push_back(MetricFamily{std::string(name), std::string(help), type, {}});
  index_.emplace(std::string(name), idx);
  return idx;
}

const LabelSet* SampleBatch::Intern(LabelSetPtr set) {
  const LabelSet* raw = set.get();
  if (raw != nullptr) label_sets_.emplace(raw, std::move(set));
  return raw;
}

LabelSetPtr SampleBatch::Owner(const LabelSet* set) const {
  auto it = label_sets_.find(set);
  return it == label_sets_.end() ? nullptr : it->second;
}

size_t SampleBatch::SampleCount() const {
  size_t n = 0;
  for (const auto& f : families_) n += f.samples.size();
  return n;
}

}  // namespace tidemark
