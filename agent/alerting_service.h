// The alerting service: the `alerting:` section's rule files and built-in rules evaluated over the
// local store (outputs appended to it), OOM kills from the OomEventHub alerted at once, and every
// alert handed to the Notifier (owners, routes, receivers, durable outbox under
// <data_dir>/alerting/outbox). Serves /api/v1/rules and /api/v1/alerts in Prometheus' format.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/service.h"
#include "alerting/rules.h"

namespace tidemark::agent {

// The rule files `globs` name: a pattern without glob characters is kept as written (so a missing
// file is reported), a glob gives its matches, sorted (none is not an error, as in Prometheus).
std::vector<std::string> ExpandRuleFiles(const std::vector<std::string>& globs);

// The rule sources the section loads: the built-in group (when enabled), then the files.
std::vector<alerting::RuleSource> AlertingRuleSources(const AlertingSection& section);

// Errors of every rule source as `tidemark check config` prints them ("file:line: reason");
// empty when all load.
std::vector<std::string> CheckAlertingRules(const AlertingSection& section);

// The service, or null when `alerting.enabled` is false. Fails (IoError) when the outbox cannot
// be opened. Without a store, rules are off (logged) and OOM alerts still go out.
Result<std::unique_ptr<Service>> MakeAlertingService(const ServiceContext& ctx);

}  // namespace tidemark::agent
