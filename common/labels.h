// Label sets shared by many samples (one per container or target), and the escaping rules of the
// Prometheus text formats.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tidemark {

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};
using Labels = std::vector<Label>;

// An immutable label set with its exposition form rendered once (`id="/x",name="y"`). Empty
// values are dropped (Prometheus treats `l=""` as absent). Thread-safe after construction.
class LabelSet {
 public:
  explicit LabelSet(Labels labels);
  const Labels& labels() const { return labels_; }
  // Comma-separated, escaped `name="value"` pairs without braces; empty when there are no labels.
  const std::string& rendered() const { return rendered_; }
  // Value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;

 private:
  Labels labels_;
  std::string rendered_;
};
using LabelSetPtr = std::shared_ptr<const LabelSet>;

// Appends `value` escaped for a label value (\\, \", \n) to *out.
void AppendEscapedLabelValue(std::string_view value, std::string* out);
// Replaces every character outside [a-zA-Z0-9_] with '_' and prefixes '_' when the first
// character is a digit, as cAdvisor does for container_label_<k>.
std::string SanitizeLabelName(std::string_view name);
// Prometheus' name syntax: [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
// Sorts by name (std::sort: no allocation, for per-sample paths; the order of labels that share
// a name is unspecified).
void SortLabels(Labels* labels);
// Value of the first label called `name`, or "" when absent (labels.Labels.Get).
std::string_view GetLabel(const Labels& labels, std::string_view name);

}  // namespace tidemark
