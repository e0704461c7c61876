// /api/v1/rules and /api/v1/alerts bodies exactly as Prometheus 2.42 writes them, from the rule
// manager's snapshots. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "alerting/rules.h"

namespace tidemark::alerting {

struct ApiResponse {
  int http_status = 200;  // 400 for a bad `type` parameter.
  std::string body;       // JSON, Content-Type application/json.
};

// GET /api/v1/rules; `type` is the query parameter ("", "alert" or "record").
ApiResponse RulesApiResponse(const std::vector<GroupSnapshot>& groups, std::string_view type);
// GET /api/v1/alerts: every pending and firing alert of every alerting rule.
ApiResponse AlertsApiResponse(const std::vector<GroupSnapshot>& groups);

// Go's time.Time JSON form (RFC 3339 with nanoseconds, trailing zeros trimmed, UTC "Z"); the
// zero time (epoch 0 here) is "0001-01-01T00:00:00Z" as Go prints an unset time.
std::string FormatApiTime(std::chrono::system_clock::time_point t);

}  // namespace tidemark::alerting
