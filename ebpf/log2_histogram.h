// Log2 latency slots (as the BPF programs count them) → Prometheus histogram samples.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/sample_batch.h"

namespace tidemark::ebpf {

// Slot k counts values in (2^(k-1), 2^k] units (slot 0: <= 1 unit); the last slot also holds
// everything above. Pure; thread-safe.
struct Log2Histogram {
  std::vector<uint64_t> slots;
  double sum = 0;  // In seconds.

  // Adds `other` slot by slot (growing this one when `other` has more slots).
  void Merge(const Log2Histogram& other);
  uint64_t Count() const;
  // Upper bound of slot k in seconds: 2^k * unit_seconds.
  static double UpperBound(size_t k, double unit_seconds);
  // Appends _bucket samples (cumulative, le = UpperBound(k) for every slot but the last, then
  // le="+Inf"), _sum and _count of family `family` to *batch, each with `base` and `extra` labels.
  void Emit(SampleBatch* batch, size_t family, const LabelSet* base, const Labels& extra,
            double unit_seconds) const;
};

}  // namespace tidemark::ebpf
