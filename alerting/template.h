// The Go text/template subset Prometheus users write in alert labels and annotations:
// {{ $labels.x }}, {{ .Value }}, pipelines into humanize*, printf, toUpper…, if/else if/else/end
// with eq/ne/lt/le/gt/ge/and/or/not, with, range over label maps, $x := …, comments and trim
// markers. Output and errors follow Go's (missingkey=zero, fmt's number formatting).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/labels.h"
#include "common/status.h"

namespace tidemark::alerting {

// What a rule's templates see: Prometheus' AlertTemplateData. Pointers are borrowed for one
// Execute() call and may be null (an empty map).
struct TemplateData {
  const Labels* labels = nullptr;
  const Labels* external_labels = nullptr;
  std::string_view external_url;
  double value = 0;
};

// A parsed template. Immutable and thread-safe once parsed; cheap to copy.
class Template {
 public:
  // Parses `text` as template `name` (Prometheus names them "__alert_<alertname>"). Go's parse
  // errors: InvalidArgument "template: __alert_X:1: function \"foo\" not defined".
  static Result<Template> Parse(std::string_view name, std::string_view text);
  // Runs the template; InvalidArgument with Go's execution error ("template: __alert_X:1:95:
  // executing \"__alert_X\" at <gt $value 1>: error calling gt: incompatible types for
  // comparison").
  Result<std::string> Execute(const TemplateData& data) const;
  // True when the text has no action at all (Execute returns the text itself).
  bool IsPlainText() const;
  // The name given to Parse().
  const std::string& name() const;

  struct Tree;

 private:
  std::shared_ptr<const Tree> tree_;
};

// Prometheus' alert template expansion: prepends the $labels/$externalLabels/$externalURL/$value
// definitions, parses as "__alert_<alert_name>" and executes; a failure is returned as Prometheus
// renders it: "<error expanding template: …>".
std::string ExpandAlertTemplate(std::string_view alert_name, std::string_view text,
                                const TemplateData& data);
// The same parse step promtool runs on labels and annotations at load time.
Status CheckAlertTemplate(std::string_view alert_name, std::string_view text);
// A template prepared once (with the definitions) for repeated expansion.
Result<Template> ParseAlertTemplate(std::string_view alert_name, std::string_view text);
// Executes a template from ParseAlertTemplate, rendering errors as ExpandAlertTemplate does.
std::string ExpandParsedAlertTemplate(const Template& tmpl, const TemplateData& data);

// Go's url.QueryEscape (Prometheus' generator and graph links).
std::string GoQueryEscape(std::string_view s);

// Prometheus' humanize functions (4 significant digits, SI or binary prefixes).
std::string Humanize(double v);
std::string Humanize1024(double v);
std::string HumanizeDuration(double seconds);

// A UTC time as Go prints it: RFC 3339 with trimmed nanoseconds ("2023-11-14T22:14:00.5Z") or
// Time.String() ("2023-11-14 22:14:00.5 +0000 UTC"). nanos in [0, 1e9).
std::string FormatGoTime(int64_t secs, int64_t nanos, bool rfc3339);

// Go fmt's "%.4g"-style formatting of a float64 with `precision` significant digits.
std::string FormatGoG(double v, int precision);

}  // namespace tidemark::alerting
