// The collector contract: each collector appends one cycle's samples to a SampleBatch.
#pragma once

#include <string_view>

#include "common/sample_batch.h"
#include "common/status.h"

namespace tidemark::collector {

class Collector {
 public:
  virtual ~Collector() = default;
  // Stable short name used in the collector="..." label of self-metrics, e.g. "cgroup", "meminfo".
  virtual std::string_view Name() const = 0;
  // Appends this cycle's samples to *batch. On error the samples already appended stay (partial
  // data beats none) and the caller counts the failure. Called from one thread at a time.
  virtual Status Collect(SampleBatch* batch) = 0;
};

}  // namespace tidemark::collector
