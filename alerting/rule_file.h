// Prometheus rule files (2.42's rulefmt): groups of alerting and recording rules, validated as
// promtool check rules does. A broken group never hides the others: parsing returns what loaded
// and one error per problem, each naming file, line and reason.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/template.h"
#include "common/labels.h"
#include "common/status.h"
#include "tsdb/promql/ast.h"

namespace tidemark::alerting {

// A label or annotation whose value is a template (parsed at load time).
struct TemplatedLabel {
  std::string name;
  std::string text;  // As written.
  Template tmpl;     // Parsed with Prometheus' $labels/$value/… definitions.
};

struct RuleSpec {
  enum class Kind { kAlerting, kRecording };
  Kind kind = Kind::kAlerting;
  std::string name;  // `alert` or `record`.
  std::string expr_text;
  std::shared_ptr<const promql::Expr> expr;  // Parsed expr_text; shared by rule copies.
  std::chrono::milliseconds for_duration{0};
  std::chrono::milliseconds keep_firing_for{0};
  std::vector<TemplatedLabel> labels;       // Sorted by name.
  std::vector<TemplatedLabel> annotations;  // Sorted by name; alerting rules only.
  int line = 0;                             // 1-based line of the rule in its file.
};

struct GroupSpec {
  std::string file;  // The path or source name the group came from.
  std::string name;
  std::chrono::milliseconds interval{0};  // 0: the manager's default evaluation interval.
  int limit = 0;                          // 0: no limit on alerts/series per rule.
  std::vector<RuleSpec> rules;
  int line = 0;
};

// What one file gave: the valid groups, the names of the groups that had errors (the manager
// keeps running their previous version), and the errors. file_ok is false when the file itself
// could not be read or parsed as YAML (then nothing of it loaded).
struct RuleFileResult {
  std::vector<GroupSpec> groups;
  std::vector<std::string> failed_groups;
  std::vector<std::string> errors;  // "rules.yml:12: group \"x\", rule 3, \"Foo\": …"
  bool file_ok = true;
};

// Parses rule-file text; `source` names it in errors and in GroupSpec::file. Never throws.
RuleFileResult ParseRuleFile(std::string_view source, std::string_view content);
// Reads and parses a file; a read error gives file_ok = false and one error naming the path.
RuleFileResult LoadRuleFile(const std::string& path);

}  // namespace tidemark::alerting
