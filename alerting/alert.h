// An alert as rules produce it and notifiers send it: Alertmanager's model (labels, annotations,
// startsAt, endsAt, generatorURL).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/labels.h"
#include "common/status.h"

namespace tidemark::alerting {

struct Alert {
  Labels labels;       // Sorted by name; includes alertname (and owner once resolved).
  Labels annotations;  // Sorted by name; templates already expanded.
  int64_t starts_at_ms = 0;
  // When it stopped firing; 0 while it fires (senders then use now + the resend window, as
  // Prometheus does).
  int64_t ends_at_ms = 0;
  std::string generator_url;  // Link back to the rule or event; may be empty.
  // While firing: until when this send vouches for it (Prometheus: now + 4 x max(the group's
  // interval, resend delay)); receivers use it as endsAt and as the "went silent" deadline.
  // 0 = the notifier's default window.
  int64_t valid_until_ms = 0;

  bool resolved() const { return ends_at_ms != 0; }
  // Alertmanager's fingerprint of the label set (FNV-1a 64 over sorted name 0xff value 0xff):
  // stable across restarts and agents, used for deduplication and the outbox keys.
  uint64_t Fingerprint() const;
};

// Where rule evaluation and the OOM event path hand alerts. Implementations are thread-safe and
// never block on the network: they queue and return.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Firing alerts and the resolved ones still within the resend window, as Prometheus' rule
  // manager sends them after each evaluation.
  virtual void Send(std::vector<Alert> alerts) = 0;
};

// The fingerprint of any label set, sorted by name.
uint64_t LabelsFingerprint(const Labels& labels);

// Labels as a JSON object {"name": "value"}, as Alertmanager and webhooks take them, and back
// (sorted by name; InvalidArgument when `j` is not an object of strings with non-empty names).
nlohmann::json LabelsToJson(const Labels& labels);
Result<Labels> LabelsFromJson(const nlohmann::json& j);

}  // namespace tidemark::alerting
