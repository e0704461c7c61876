// Persists each policy's History (recommendations, scale events, recent decisions) as
// <dir>/<policy>.json, written atomically (temp file, fsync, rename), so a restart keeps its
// stabilization windows and rate-limit periods. Thread-compatible; one file per policy.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "autoscaler/recommender.h"
#include "common/status.h"

namespace tidemark::autoscaler {

nlohmann::json DecisionToJson(const Decision& d);
Result<Decision> DecisionFromJson(const nlohmann::json& j);
nlohmann::json HistoryToJson(const History& h);
Result<History> HistoryFromJson(const nlohmann::json& j);

class StateStore {
 public:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}

  // Creates the directory when missing. IoError names the path.
  Status Open();
  // Prunes to what `policy` needs at now_ms (and the last `keep_decisions`), then writes.
  Status Save(const Policy& policy, int64_t now_ms, size_t keep_decisions, History history);
  // An empty History when there is no file; Corruption when the file is unreadable (the caller
  // logs it and starts empty rather than refusing to run).
  Result<History> Load(const std::string& policy_name) const;
  std::string PathFor(const std::string& policy_name) const;

 private:
  std::string dir_;
};

}  // namespace tidemark::autoscaler
