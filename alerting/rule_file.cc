#include "alerting/rule_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "common/duration.h"
#include "common/file_util.h"
#include "common/go_format.h"
#include "common/yaml_walker.h"
#include "tsdb/promql/parser.h"

namespace tidemark::alerting {
namespace {

int LineOf(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }

struct GroupParser {
  std::string_view source;
  const YamlWalker& walker;
  std::vector<std::string>* errors;

  void RuleError(const GroupSpec& g, int index, const std::string& rule_name, int line,
                 const std::string& msg) {
    errors->push_back(std::string(source) + ":" + std::to_string(line) + ": group " +
                      GoQuote(g.name) + ", rule " + std::to_string(index) + ", " +
                      GoQuote(rule_name) + ": " + msg);
  }

  // Reads a string map (labels or annotations). Returns false after recording an error.
  bool StringMap(const YAML::Node& n, std::vector<std::pair<std::string, std::string>>* out,
                 std::string* err, int* err_line) {
    if (!n || n.IsNull()) return true;
    if (!n.IsMap()) {
      *err = "expected a mapping of strings, got " + YamlWalker::Describe(n);
      *err_line = LineOf(n);
      return false;
    }
    for (const auto& kv : n) {
      if (!kv.second.IsScalar() && !kv.second.IsNull()) {
        *err = kv.first.Scalar() + ": expected a string, got " + YamlWalker::Describe(kv.second);
        *err_line = LineOf(kv.second);
        return false;
      }
      out->emplace_back(kv.first.Scalar(), kv.second.IsNull() ? "" : kv.second.Scalar());
    }
    return true;
  }

  // Parses one rule; false when it has errors (all recorded).
  bool Rule(GroupSpec& g, int index, const YAML::Node& n, RuleSpec* rule) {
    rule->line = LineOf(n);
    bool ok = true;
    YAML::Node record, alert, expr, for_n, keep_n, labels_n, annotations_n;
    std::string key_prefix = "group " + GoQuote(g.name) + ", rule " + std::to_string(index);
    Status st =
        walker.Map(n, key_prefix,
                   {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"},
                   [&](const std::string& k, const YAML::Node& v, const std::string&) {
                     if (k == "record") record = v;
                     if (k == "alert") alert = v;
                     if (k == "expr") expr = v;
                     if (k == "for") for_n = v;
                     if (k == "keep_firing_for") keep_n = v;
                     if (k == "labels") labels_n = v;
                     if (k == "annotations") annotations_n = v;
                     return Status::Ok();
                   });
    if (!st.ok()) {
      errors->push_back(st.message());
      return false;
    }
    if (!n.IsMap()) {
      errors->push_back(std::string(source) + ":" + std::to_string(rule->line) + ": " + key_prefix +
                        ": expected a mapping, got " + YamlWalker::Describe(n));
      return false;
    }
    auto scalar = [](const YAML::Node& x) {
      return x && x.IsScalar() ? x.Scalar() : std::string();
    };
    std::string record_s = scalar(record), alert_s = scalar(alert);
    rule->kind = record_s.empty() ? RuleSpec::Kind::kAlerting : RuleSpec::Kind::kRecording;
    rule->name = record_s.empty() ? alert_s : record_s;
    auto fail = [&](int line, const std::string& msg) {
      RuleError(g, index, rule->name, line ? line : rule->line, msg);
      ok = false;
    };
    for (const YAML::Node* x : {&record, &alert, &expr, &for_n, &keep_n}) {
      if (*x && !x->IsScalar() && !x->IsNull()) {
        fail(LineOf(*x), "expected a string, got " + YamlWalker::Describe(*x));
        return false;
      }
    }
    if (!record_s.empty() && !alert_s.empty()) {
      fail(LineOf(record), "only one of 'record' and 'alert' must be set");
    }
    if (record_s.empty() && alert_s.empty()) {
      fail(rule->line, "one of 'record' or 'alert' must be set");
    }
    rule->expr_text = scalar(expr);
    if (rule->expr_text.empty()) {
      fail(expr ? LineOf(expr) : rule->line, "field 'expr' must be set in rule");
    } else {
      Result<promql::ExprPtr> parsed = promql::ParseExpr(rule->expr_text);
      if (!parsed.ok()) {
        fail(LineOf(expr), "could not parse expression: " + parsed.status().message());
      } else {
        rule->expr = std::shared_ptr<const promql::Expr>(std::move(parsed).value());
      }
    }
    auto duration = [&](const YAML::Node& x, const char* what, std::chrono::milliseconds* out) {
      std::string s = scalar(x);
      if (s.empty()) return;
      if (s == "0") {
        *out = std::chrono::milliseconds(0);
        return;
      }
      Result<std::chrono::milliseconds> d = ParseDuration(s);
      if (!d.ok()) {
        fail(LineOf(x), std::string(what) + ": not a valid duration string: " + GoQuote(s));
      } else {
        *out = *d;
      }
    };
    duration(for_n, "for", &rule->for_duration);
    duration(keep_n, "keep_firing_for", &rule->keep_firing_for);
    std::vector<std::pair<std::string, std::string>> labels, annotations;
    std::string err;
    int err_line = 0;
    if (!StringMap(labels_n, &labels, &err, &err_line)) fail(err_line, "labels: " + err);
    if (!StringMap(annotations_n, &annotations, &err, &err_line)) {
      fail(err_line, "annotations: " + err);
    }
    if (rule->kind == RuleSpec::Kind::kRecording && !record_s.empty()) {
      if (!annotations.empty())
        fail(LineOf(record), "invalid field 'annotations' in recording rule");
      if (rule->for_duration.count() != 0)
        fail(LineOf(record), "invalid field 'for' in recording rule");
      if (rule->keep_firing_for.count() != 0) {
        fail(LineOf(record), "invalid field 'keep_firing_for' in recording rule");
      }
      if (!IsValidMetricName(record_s)) {
        fail(LineOf(record), "invalid recording rule name: " + record_s);
      }
    }
    for (const auto& [k, v] : labels) {
      if (!IsValidLabelName(k) || k == "__name__") {
        fail(LineOf(labels_n), "invalid label name: " + k);
      }
    }
    for (const auto& [k, v] : annotations) {
      if (!IsValidLabelName(k)) fail(LineOf(annotations_n), "invalid annotation name: " + k);
    }
    std::sort(labels.begin(), labels.end());
    std::sort(annotations.begin(), annotations.end());
    auto templated = [&](const std::vector<std::pair<std::string, std::string>>& in,
                         const char* what, const YAML::Node& node,
                         std::vector<TemplatedLabel>* out) {
      for (const auto& [k, v] : in) {
        TemplatedLabel tl{k, v, Template()};
        if (rule->kind == RuleSpec::Kind::kAlerting) {
          Result<Template> t = ParseAlertTemplate(rule->name, v);
          if (!t.ok()) {
            fail(LineOf(node), std::string(what) + " " + GoQuote(k) + ": " + t.status().message());
            continue;
          }
          tl.tmpl = std::move(t).value();
        }
        out->push_back(std::move(tl));
      }
    };
    templated(labels, "label", labels_n, &rule->labels);
    templated(annotations, "annotation", annotations_n, &rule->annotations);
    return ok;
  }

  bool Group(const YAML::Node& n, int gi, GroupSpec* g) {
    g->file = std::string(source);
    g->line = LineOf(n);
    std::string prefix = "groups[" + std::to_string(gi) + "]";
    YAML::Node rules_n, interval_n, limit_n;
    bool have_name = false;
    Status st = walker.Map(n, prefix, {"name", "interval", "limit", "rules"},
                           [&](const std::string& k, const YAML::Node& v, const std::string& full) {
                             if (k == "name") {
                               have_name = true;
                               return walker.String(v, full, &g->name);
                             }
                             if (k == "interval") interval_n = v;
                             if (k == "limit") limit_n = v;
                             if (k == "rules") rules_n = v;
                             return Status::Ok();
                           });
    if (!st.ok()) {
      errors->push_back(st.message());
      return false;
    }
    if (!n.IsMap()) {
      errors->push_back(std::string(source) + ":" + std::to_string(g->line) + ": " + prefix +
                        ": expected a mapping, got " + YamlWalker::Describe(n));
      return false;
    }
    std::string where = std::string(source) + ":" + std::to_string(g->line) + ": ";
    if (!have_name || g->name.empty()) {
      errors->push_back(where + "Groupname must not be empty");
      return false;
    }
    bool ok = true;
    if (interval_n && !interval_n.IsNull()) {
      std::chrono::milliseconds d{0};
      Status ds = walker.Duration(interval_n, "group " + GoQuote(g->name) + ": interval", &d);
      if (!ds.ok()) {
        errors->push_back(ds.message());
        ok = false;
      }
      g->interval = d;
    }
    if (limit_n && !limit_n.IsNull()) {
      size_t lim = 0;
      Status ls = walker.Size(limit_n, "group " + GoQuote(g->name) + ": limit", &lim);
      if (!ls.ok()) {
        errors->push_back(ls.message());
        ok = false;
      }
      g->limit = static_cast<int>(std::min<size_t>(lim, 1u << 30));
    }
    if (rules_n && !rules_n.IsNull() && !rules_n.IsSequence()) {
      errors->push_back(std::string(source) + ":" + std::to_string(LineOf(rules_n)) + ": group " +
                        GoQuote(g->name) + ": rules: expected a list, got " +
                        YamlWalker::Describe(rules_n));
      return false;
    }
    if (rules_n && rules_n.IsSequence()) {
      int index = 0;
      for (const YAML::Node& r : rules_n) {
        ++index;
        RuleSpec rule;
        if (Rule(*g, index, r, &rule)) {
          g->rules.push_back(std::move(rule));
        } else {
          ok = false;
        }
      }
    }
    return ok;
  }
};

}  // namespace

RuleFileResult ParseRuleFile(std::string_view source, std::string_view content) {
  RuleFileResult result;
  YamlWalker walker(source);
  try {
    YAML::Node root = YAML::Load(std::string(content));
    if (!root || root.IsNull()) return result;  // An empty file has no groups.
    YAML::Node groups;
    Status st = walker.Map(root, "", {"groups"},
                           [&](const std::string&, const YAML::Node& v, const std::string&) {
                             groups = v;
                             return Status::Ok();
                           });
    if (!st.ok()) {
      result.errors.push_back(st.message());
      result.file_ok = false;
      return result;
    }
    if (!groups || groups.IsNull()) return result;
    if (!groups.IsSequence()) {
      result.errors.push_back(walker.Error(groups, "groups", "expected a list").message());
      result.file_ok = false;
      return result;
    }
    GroupParser parser{source, walker, &result.errors};
    std::set<std::string> seen;
    int gi = 0;
    for (const YAML::Node& gn : groups) {
      GroupSpec g;
      bool ok = parser.Group(gn, gi++, &g);
      if (!g.name.empty() && !seen.insert(g.name).second) {
        result.errors.push_back(std::string(source) + ":" + std::to_string(g.line) +
                                ": groupname: " + GoQuote(g.name) +
                                " is repeated in the same file");
        continue;  // The first group of that name stays.
      }
      if (ok) {
        result.groups.push_back(std::move(g));
      } else if (!g.name.empty()) {
        result.failed_groups.push_back(g.name);
      }
    }
  } catch (const YAML::Exception& e) {
    std::string where = std::string(source);
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    result.errors.push_back(where + ": yaml: " + e.msg);
    result.file_ok = false;
  }
  return result;
}

RuleFileResult LoadRuleFile(const std::string& path) {
  Result<std::string> content = ReadFile(path);
  if (!content.ok()) {
    RuleFileResult r;
    r.file_ok = false;
    r.errors.push_back(path + ": " + content.status().message());
    return r;
  }
  return ParseRuleFile(path, *content);
}

}  // namespace tidemark::alerting
