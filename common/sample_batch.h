// SampleBatch: what collectors produce in one cycle and the agent hands to /metrics and the store.
// Samples carry no timestamps of their own; the batch has one collection time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"

namespace tidemark {

enum class MetricType { kCounter, kGauge, kUntyped, kHistogram };
std::string_view MetricTypeName(MetricType type);

// Which line of a histogram family a sample is; kValue for counters, gauges and untyped.
enum class SeriesPart : uint8_t { kValue, kBucket, kSum, kCount };
// The metric name suffix of a part: "", "_bucket", "_sum", "_count".
std::string_view SeriesPartSuffix(SeriesPart part);

struct Sample {
  const LabelSet* base = nullptr;  // Owned by the batch (see SampleBatch::Intern); may be null.
  Labels extra;                    // Per-sample labels (cpu, mode, device, le, ...).
  double value = 0;
  SeriesPart part = SeriesPart::kValue;
};

struct MetricFamily {
  std::string name;  // As exposed in text 0.0.4, e.g. container_cpu_usage_seconds_total.
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<Sample> samples;
};

// Not thread-safe; one writer at a time. Families keep the order in which they were first declared.
class SampleBatch {
 public:
  // The index of the family `name`, declaring it on first use (later help/type are ignored).
  size_t Family(std::string_view name, std::string_view help, MetricType type);
  // Keeps `set` alive as long as the batch and returns a pointer for Sample::base.
  const LabelSet* Intern(LabelSetPtr set);
  // The owning pointer of a label set interned in this batch; null for others.
  LabelSetPtr Owner(const LabelSet* set) const;

  void Add(size_t family, const LabelSet* base, double value) {
    families_[family].samples.push_back(Sample{base, {}, value, SeriesPart::kValue});
  }
  void Add(size_t family, const LabelSet* base, Labels extra, double value,
           SeriesPart part = SeriesPart::kValue) {
    families_[family].samples.push_back(Sample{base, std::move(extra), value, part});
  }

  const std::vector<MetricFamily>& families() const { return families_; }
  size_t SampleCount() const;

  // Collection time, Unix milliseconds.
  int64_t timestamp_ms() const { return timestamp_ms_; }
  void set_timestamp_ms(int64_t ts) { timestamp_ms_ = ts; }

 private:
  std::vector<MetricFamily> families_;
  std::unordered_map<std::string, size_t> index_;
  std::unordered_map<const LabelSet*, LabelSetPtr> label_sets_;
  int64_t timestamp_ms_ = 0;
};

}  // namespace tidemark
