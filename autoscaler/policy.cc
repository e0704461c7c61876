#include "autoscaler/policy.h"

#include <time.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>

#include "common/file_util.h"
#include "tsdb/promql/parser.h"

namespace tidemark::autoscaler {

namespace {

constexpr std::chrono::milliseconds kMaxPeriod{1800 * 1000};

ScalingRules DefaultScaleUp() {
  ScalingRules r;
  r.stabilization_window = std::chrono::seconds(15);
  r.policies = {{RatePolicyType::kPods, 4, std::chrono::seconds(15)},
                {RatePolicyType::kPercent, 100, std::chrono::seconds(15)}};
  r.min_step = 0.2;
  return r;
}

ScalingRules DefaultScaleDown() {
  ScalingRules r;
  r.stabilization_window = std::chrono::seconds(300);
  r.policies = {{RatePolicyType::kPercent, 100, std::chrono::seconds(15)}};
  r.min_step = 0.3;
  return r;
}

Status Number(const YamlWalker& w, const YAML::Node& n, const std::string& key, double* out) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty() && std::isfinite(v)) {
      *out = v;
      return Status::Ok();
    }
  }
  return w.Error(n, key, "expected a number, got " + YamlWalker::Describe(n));
}

Status Int32(const YamlWalker& w, const YAML::Node& n, const std::string& key, int32_t* out) {
  size_t v = 0;
  Status st = w.Size(n, key, &v);
  if (!st.ok()) return st;
  if (v > 1000000) return w.Error(n, key, "must be at most 1000000");
  *out = static_cast<int32_t>(v);
  return Status::Ok();
}

// "HH:MM" → minutes of the day.
bool ParseClock(std::string_view s, int* minutes) {
  int h = 0, m = 0;
  if (s.size() != 5 || s[2] != ':') return false;
  auto r1 = std::from_chars(s.data(), s.data() + 2, h);
  auto r2 = std::from_chars(s.data() + 3, s.data() + 5, m);
  if (r1.ec != std::errc() || r1.ptr != s.data() + 2 || r2.ec != std::errc() ||
      r2.ptr != s.data() + 5 || h > 24 || m > 59 || (h == 24 && m != 0)) {
    return false;
  }
  *minutes = h * 60 + m;
  return true;
}

Status ParseRules(const YamlWalker& w, const YAML::Node& n, const std::string& prefix,
                  ScalingRules* r) {
  return w.Map(
      n, prefix, {"stabilization_window", "select_policy", "policies", "tolerance", "min_step"},
      [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
        if (k == "stabilization_window") return w.Duration(v, full, &r->stabilization_window);
        if (k == "tolerance") return Number(w, v, full, &r->tolerance);
        if (k == "min_step") return Number(w, v, full, &r->min_step);
        if (k == "select_policy") {
          std::string s;
          TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &s));
          if (s == "Max") {
            r->select = SelectPolicy::kMax;
          } else if (s == "Min") {
            r->select = SelectPolicy::kMin;
          } else if (s == "Disabled") {
            r->select = SelectPolicy::kDisabled;
          } else {
            return w.Error(v, full, "expected Max, Min or Disabled, got \"" + s + "\"");
          }
          return Status::Ok();
        }
        // policies
        if (!v.IsSequence()) return w.Error(v, full, "expected a list of {type, value, period}");
        r->policies.clear();
        for (size_t i = 0; i < v.size(); ++i) {
          const YAML::Node& item = v[i];
          std::string ik = full + "[" + std::to_string(i) + "]";
          RatePolicy rp;
          bool has_type = false, has_value = false, has_period = false;
          TIDEMARK_RETURN_IF_ERROR(w.Map(
              item, ik, {"type", "value", "period"},
              [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) -> Status {
                if (k2 == "type") {
                  has_type = true;
                  std::string t;
                  TIDEMARK_RETURN_IF_ERROR(w.String(v2, f2, &t));
                  if (t == "Pods") {
                    rp.type = RatePolicyType::kPods;
                  } else if (t == "Percent") {
                    rp.type = RatePolicyType::kPercent;
                  } else {
                    return w.Error(v2, f2, "expected Pods or Percent, got \"" + t + "\"");
                  }
                  return Status::Ok();
                }
                if (k2 == "value") {
                  has_value = true;
                  TIDEMARK_RETURN_IF_ERROR(Int32(w, v2, f2, &rp.value));
                  if (rp.value <= 0) return w.Error(v2, f2, "must be greater than 0");
                  return Status::Ok();
                }
                has_period = true;
                TIDEMARK_RETURN_IF_ERROR(w.Duration(v2, f2, &rp.period));
                if (rp.period <= std::chrono::milliseconds(0) || rp.period > kMaxPeriod) {
                  return w.Error(v2, f2, "must be greater than 0 and at most 30m");
                }
                return Status::Ok();
              }));
          if (!item.IsMap() || !has_type || !has_value || !has_period) {
            return w.Error(item, ik, "type, value and period are all required");
          }
          r->policies.push_back(rp);
        }
        return Status::Ok();
      });
}

Status ParseTarget(const YamlWalker& w, const YAML::Node& n, const std::string& prefix, Policy* p) {
  int kinds = 0;
  TIDEMARK_RETURN_IF_ERROR(
      w.Map(n, prefix, {"orchestrator", "endpoint", "service", "deployment", "statefulset"},
            [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
              if (k == "orchestrator") {
                TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &p->orchestrator));
                if (p->orchestrator != "swarm" && p->orchestrator != "kubernetes") {
                  return w.Error(v, full, "expected swarm or kubernetes");
                }
                return Status::Ok();
              }
              if (k == "endpoint") return w.String(v, full, &p->endpoint);
              std::string s;
              TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &s));
              ++kinds;
              if (k == "service") {
                if (s.empty()) return w.Error(v, full, "empty service name");
                p->target.kind = "SwarmService";
                p->target.name = s;
                return Status::Ok();
              }
              size_t slash = s.find('/');
              if (slash == std::string::npos || slash == 0 || slash + 1 == s.size() ||
                  s.find('/', slash + 1) != std::string::npos) {
                return w.Error(v, full, "expected namespace/name, got \"" + s + "\"");
              }
              p->target.kind = k == "deployment" ? "Deployment" : "StatefulSet";
              p->target.namespace_ = s.substr(0, slash);
              p->target.name = s.substr(slash + 1);
              return Status::Ok();
            }));
  if (!n.IsMap() || kinds != 1) {
    return w.Error(n, prefix, "exactly one of service, deployment or statefulset is required");
  }
  if (p->orchestrator.empty()) {
    p->orchestrator = p->target.kind == "SwarmService" ? "swarm" : "kubernetes";
  }
  if ((p->orchestrator == "swarm") != (p->target.kind == "SwarmService")) {
    return w.Error(n, prefix,
                   "a swarm orchestrator scales a service; kubernetes a deployment/statefulset");
  }
  return Status::Ok();
}

Status ParseMetric(const YamlWalker& w, const YAML::Node& n, const std::string& prefix,
                   MetricSpec* m) {
  std::string type;
  if (n.IsMap() && n["type"])
    TIDEMARK_RETURN_IF_ERROR(w.String(n["type"], prefix + ".type", &type));
  if (type == "cpu") {
    m->type = MetricType::kCpu;
    m->name = "cpu";
    bool has_target = false;
    TIDEMARK_RETURN_IF_ERROR(
        w.Map(n, prefix, {"type", "name", "target_utilization", "against"},
              [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
                if (k == "type") return Status::Ok();
                if (k == "name") return w.String(v, full, &m->name);
                if (k == "target_utilization") {
                  has_target = true;
                  TIDEMARK_RETURN_IF_ERROR(Int32(w, v, full, &m->target_utilization));
                  if (m->target_utilization < 1 || m->target_utilization > 1000) {
                    return w.Error(v, full, "expected a percentage from 1 to 1000");
                  }
                  return Status::Ok();
                }
                std::string s;
                TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &s));
                if (s == "limit") {
                  m->against = CpuBasis::kLimit;
                } else if (s == "request") {
                  m->against = CpuBasis::kRequest;
                } else {
                  return w.Error(v, full, "expected limit or request, got \"" + s + "\"");
                }
                return Status::Ok();
              }));
    if (!has_target) return w.Error(n, prefix, "target_utilization is required for type cpu");
    return Status::Ok();
  }
  if (type == "query") {
    m->type = MetricType::kQuery;
    m->name = "query";
    bool has_target = false;
    TIDEMARK_RETURN_IF_ERROR(
        w.Map(n, prefix, {"type", "name", "query", "target_value", "target_type"},
              [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
                if (k == "type") return Status::Ok();
                if (k == "name") return w.String(v, full, &m->name);
                if (k == "query") {
                  TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &m->query));
                  auto parsed = promql::ParseExpr(m->query);
                  if (!parsed.ok()) return w.Error(v, full, "PromQL: " + parsed.status().message());
                  return Status::Ok();
                }
                if (k == "target_value") {
                  has_target = true;
                  TIDEMARK_RETURN_IF_ERROR(Number(w, v, full, &m->target_value));
                  if (m->target_value <= 0) return w.Error(v, full, "must be greater than 0");
                  return Status::Ok();
                }
                std::string s;
                TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &s));
                if (s == "value") {
                  m->target_type = QueryTargetType::kValue;
                } else if (s == "average") {
                  m->target_type = QueryTargetType::kAverage;
                } else {
                  return w.Error(v, full, "expected value or average, got \"" + s + "\"");
                }
                return Status::Ok();
              }));
    if (m->query.empty() || !has_target) {
      return w.Error(n, prefix, "query and target_value are required for type query");
    }
    return Status::Ok();
  }
  return w.Error(
      n, prefix + ".type",
      "expected cpu or query, got " +
          (n.IsMap() && n["type"] ? YamlWalker::Describe(n["type"]) : std::string("nothing")));
}

Status ParseScaleInWindow(const YamlWalker& w, const YAML::Node& n, const std::string& prefix,
                          ScaleInWindow* s) {
  s->enabled = true;
  bool has_hours = false;
  TIDEMARK_RETURN_IF_ERROR(
      w.Map(n, prefix, {"hours", "timezone", "days"},
            [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
              std::string str;
              if (k == "hours") {
                has_hours = true;
                TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &str));
                size_t dash = str.find('-');
                if (dash == std::string::npos ||
                    !ParseClock(std::string_view(str).substr(0, dash), &s->start_minute) ||
                    !ParseClock(std::string_view(str).substr(dash + 1), &s->end_minute) ||
                    s->start_minute == s->end_minute) {
                  return w.Error(v, full,
                                 "expected HH:MM-HH:MM such as 22:00-06:00, got \"" + str + "\"");
                }
                return Status::Ok();
              }
              if (k == "timezone") {
                TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &str));
                if (str != "local" && str != "UTC" && str != "utc") {
                  return w.Error(v, full, "expected local or UTC, got \"" + str + "\"");
                }
                s->utc = str != "local";
                return Status::Ok();
              }
              std::vector<std::string> days;
              TIDEMARK_RETURN_IF_ERROR(w.StringList(v, full, &days));
              static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
              s->days = 0;
              for (const auto& d : days) {
                int idx = -1;
                for (int i = 0; i < 7; ++i) {
                  if (d == kDays[i]) idx = i;
                }
                if (idx < 0)
                  return w.Error(v, full, "unknown day \"" + d + "\" (expected sun..sat)");
                s->days |= static_cast<uint8_t>(1u << idx);
              }
              if (s->days == 0) return w.Error(v, full, "at least one day is required");
              return Status::Ok();
            }));
  if (!has_hours) return w.Error(n, prefix, "hours is required, e.g. hours: 22:00-06:00");
  return Status::Ok();
}

}  // namespace

Policy::Policy() : scale_up(DefaultScaleUp()), scale_down(DefaultScaleDown()) {}

std::string_view SelectPolicyName(SelectPolicy s) {
  switch (s) {
    case SelectPolicy::kMax:
      return "Max";
    case SelectPolicy::kMin:
      return "Min";
    case SelectPolicy::kDisabled:
      return "Disabled";
  }
  return "Max";
}

Status ParsePolicy(const YamlWalker& w, const YAML::Node& node, const std::string& prefix,
                   Policy* out) {
  Policy p;
  p.source = std::string(w.source());
  if (node.Mark().line >= 0) p.source += ":" + std::to_string(node.Mark().line + 1);
  if (!node.IsMap())
    return w.Error(node, prefix.empty() ? "(top level)" : prefix, "expected a mapping");
  bool has_target = false, has_max = false;
  auto key = [&](const std::string& k) { return prefix.empty() ? k : prefix + "." + k; };
  std::optional<double> tol_up, tol_down;
  bool panic_set = false;
  std::vector<size_t> cpu_basis_defaulted;  // cpu metrics without `against`.
  TIDEMARK_RETURN_IF_ERROR(w.Map(
      node, prefix,
      {"name", "target", "min_replicas", "max_replicas", "allow_scale_to_zero", "metrics",
       "tolerance", "sync_period", "cpu_initialization_period", "initial_readiness_delay",
       "behavior", "scale_in_window", "panic", "dry_run", "metric_sources"},
      [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
        if (k == "name") return w.String(v, full, &p.name);
        if (k == "target") {
          has_target = true;
          return ParseTarget(w, v, full, &p);
        }
        if (k == "min_replicas") return Int32(w, v, full, &p.min_replicas);
        if (k == "max_replicas") {
          has_max = true;
          return Int32(w, v, full, &p.max_replicas);
        }
        if (k == "allow_scale_to_zero") return w.Bool(v, full, &p.allow_scale_to_zero);
        if (k == "sync_period") return w.Duration(v, full, &p.sync_period);
        if (k == "cpu_initialization_period") {
          return w.Duration(v, full, &p.cpu_initialization_period);
        }
        if (k == "initial_readiness_delay") return w.Duration(v, full, &p.initial_readiness_delay);
        if (k == "dry_run") return w.Bool(v, full, &p.dry_run);
        if (k == "metric_sources") {
          TIDEMARK_RETURN_IF_ERROR(w.StringList(v, full, &p.metric_sources));
          for (const std::string& url : p.metric_sources) {
            if (!url.starts_with("http://") && !url.starts_with("https://")) {
              return w.Error(v, full, "expected http(s)://host:port[/prefix], got \"" + url + "\"");
            }
          }
          return Status::Ok();
        }
        if (k == "scale_in_window") return ParseScaleInWindow(w, v, full, &p.scale_in);
        if (k == "panic") {
          panic_set = true;
          if (v.IsScalar() && (v.Scalar() == "false" || v.Scalar() == "true")) {
            return w.Bool(v, full, &p.panic.enabled);  // `panic: false` switches it off.
          }
          return w.Map(v, full, {"enabled", "saturation", "threshold"},
                       [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) {
                         if (k2 == "enabled") return w.Bool(v2, f2, &p.panic.enabled);
                         return Number(
                             w, v2, f2,
                             k2 == "saturation" ? &p.panic.saturation : &p.panic.threshold);
                       });
        }
        if (k == "tolerance") {
          if (v.IsMap()) {
            return w.Map(v, full, {"up", "down"},
                         [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) {
                           double d = 0;
                           Status st = Number(w, v2, f2, &d);
                           (k2 == "up" ? tol_up : tol_down) = d;
                           return st;
                         });
          }
          double d = 0;
          TIDEMARK_RETURN_IF_ERROR(Number(w, v, full, &d));
          tol_up = tol_down = d;
          return Status::Ok();
        }
        if (k == "metrics") {
          if (!v.IsSequence() || v.size() == 0) {
            return w.Error(v, full, "expected a non-empty list of metrics");
          }
          for (size_t i = 0; i < v.size(); ++i) {
            MetricSpec m;
            TIDEMARK_RETURN_IF_ERROR(
                ParseMetric(w, v[i], full + "[" + std::to_string(i) + "]", &m));
            if (m.type == MetricType::kCpu && !(v[i].IsMap() && v[i]["against"])) {
              cpu_basis_defaulted.push_back(p.metrics.size());
            }
            p.metrics.push_back(std::move(m));
          }
          return Status::Ok();
        }
        // behavior
        if (v.IsScalar() && v.Scalar() == "legacy") {
          p.legacy_behavior = true;
          return Status::Ok();
        }
        return w.Map(v, full, {"scale_up", "scale_down"},
                     [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) {
                       return ParseRules(w, v2, f2,
                                         k2 == "scale_down" ? &p.scale_down : &p.scale_up);
                     });
      }));
  // `behavior: legacy` asks for the behaviour-less HPA exactly: no fast path unless asked for.
  if (p.legacy_behavior && !panic_set) p.panic.enabled = false;
  if (tol_up) p.scale_up.tolerance = *tol_up;
  if (tol_down) p.scale_down.tolerance = *tol_down;
  if (p.name.empty()) return w.Error(node, key("name"), "a policy needs a name");
  if (!has_target) return w.Error(node, key("target"), "a policy needs a target");
  if (!has_max) return w.Error(node, key("max_replicas"), "a policy needs max_replicas");
  if (p.metrics.empty()) {
    MetricSpec m;
    m.name = "cpu";
    m.target_utilization = 80;
    cpu_basis_defaulted.push_back(0);
    p.metrics.push_back(m);
  }
  // Without `against`, CPU is measured as the orchestrator's own autoscaling does: against the
  // request on Kubernetes (the HPA's basis), the limit on Swarm (services rarely reserve CPU).
  for (size_t i : cpu_basis_defaulted) {
    p.metrics[i].against = p.orchestrator == "kubernetes" ? CpuBasis::kRequest : CpuBasis::kLimit;
  }
  TIDEMARK_RETURN_IF_ERROR(ValidatePolicy(p));
  *out = std::move(p);
  return Status::Ok();
}

Status ValidatePolicy(const Policy& p) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(p.source + ": policy " + p.name + ": " + why);
  };
  if (p.name.empty()) return bad("empty name");
  if (p.target.name.empty()) return bad("no target");
  if (p.max_replicas < 1) return bad("max_replicas must be at least 1");
  if (p.min_replicas > p.max_replicas) {
    return bad("min_replicas (" + std::to_string(p.min_replicas) +
               ") is greater than max_replicas (" + std::to_string(p.max_replicas) + ")");
  }
  if (p.min_replicas < 1 && !p.allow_scale_to_zero) {
    return bad("min_replicas 0 needs allow_scale_to_zero: true");
  }
  if (p.min_replicas < 0) return bad("min_replicas must not be negative");
  if (p.metrics.empty()) return bad("no metrics");
  for (size_t i = 0; i < p.metrics.size(); ++i) {
    const MetricSpec& m = p.metrics[i];
    for (size_t j = 0; j < i; ++j) {
      if (p.metrics[j].name == m.name) {
        return bad("two metrics are named \"" + m.name + "\" (give them distinct name: keys)");
      }
    }
    if (m.type == MetricType::kCpu && (m.target_utilization < 1 || m.target_utilization > 1000)) {
      return bad("metric " + m.name + ": target_utilization must be 1..1000 percent");
    }
    if (m.type == MetricType::kQuery) {
      if (!(m.target_value > 0)) return bad("metric " + m.name + ": target_value must be > 0");
      auto parsed = promql::ParseExpr(m.query);
      if (!parsed.ok()) return bad("metric " + m.name + ": PromQL: " + parsed.status().message());
    }
  }
  if (p.sync_period < std::chrono::milliseconds(100)) return bad("sync_period must be >= 100ms");
  if (!(p.panic.saturation > 0 && p.panic.saturation <= 1)) {
    return bad("panic.saturation must be in (0, 1] (a fraction of the CPU limit)");
  }
  if (!(p.panic.threshold > 1)) return bad("panic.threshold must be > 1 (a ratio to the target)");
  for (const ScalingRules* r : {&p.scale_up, &p.scale_down}) {
    const char* dir = r == &p.scale_up ? "scale_up" : "scale_down";
    if (r->tolerance < 0 || r->tolerance >= (r == &p.scale_down ? 1.0 : 100.0)) {
      return bad(std::string(dir) + " tolerance must be in [0, " +
                 (r == &p.scale_down ? "1)" : "100)"));
    }
    if (!(r->min_step >= 0 && r->min_step < 1)) {
      return bad(std::string(dir) + " min_step must be in [0, 1)");
    }
    if (r->stabilization_window < std::chrono::milliseconds(0) ||
        r->stabilization_window > std::chrono::hours(1)) {
      return bad(std::string(dir) + " stabilization_window must be 0..1h");
    }
    if (r->policies.empty() && r->select != SelectPolicy::kDisabled) {
      return bad(std::string(dir) + " needs at least one policy (or select_policy: Disabled)");
    }
    for (const RatePolicy& rp : r->policies) {
      if (rp.value <= 0) return bad(std::string(dir) + " policy value must be > 0");
      if (rp.period <= std::chrono::milliseconds(0) || rp.period > kMaxPeriod) {
        return bad(std::string(dir) + " policy period must be in (0, 30m]");
      }
      if (rp.type == RatePolicyType::kPercent && r == &p.scale_down && rp.value > 100) {
        return bad("scale_down Percent policy value must be at most 100");
      }
    }
  }
  return Status::Ok();
}

Status ParseAutoscalerConfig(const YamlWalker& w, const YAML::Node& node, const std::string& prefix,
                             AutoscalerConfig* out) {
  AutoscalerConfig c;
  TIDEMARK_RETURN_IF_ERROR(w.Map(
      node, prefix, {"state_dir", "decision_history", "policies", "policy_files"},
      [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
        if (k == "state_dir") return w.String(v, full, &c.state_dir);
        if (k == "decision_history") {
          TIDEMARK_RETURN_IF_ERROR(w.Size(v, full, &c.decision_history));
          if (c.decision_history > 100000) return w.Error(v, full, "must be at most 100000");
          return Status::Ok();
        }
        if (k == "policy_files") {
          std::vector<std::string> files;
          TIDEMARK_RETURN_IF_ERROR(w.StringList(v, full, &files));
          for (const auto& f : files) {
            auto p = LoadPolicyFile(f);
            if (!p.ok()) return p.status();
            c.policies.push_back(std::move(*p));
          }
          return Status::Ok();
        }
        if (v.IsNull()) return Status::Ok();
        if (!v.IsSequence()) return w.Error(v, full, "expected a list of policies");
        for (size_t i = 0; i < v.size(); ++i) {
          Policy p;
          TIDEMARK_RETURN_IF_ERROR(ParsePolicy(w, v[i], full + "[" + std::to_string(i) + "]", &p));
          c.policies.push_back(std::move(p));
        }
        return Status::Ok();
      }));
  for (size_t i = 0; i < c.policies.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.policies[i].name == c.policies[j].name) {
        return Status::InvalidArgument(c.policies[i].source + ": " + prefix +
                                       ": two policies are named \"" + c.policies[i].name + "\"");
      }
    }
  }
  *out = std::move(c);
  return Status::Ok();
}

Result<Policy> ParsePolicyText(std::string_view text, std::string_view source) {
  YAML::Node root;
  std::string src(source);
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where = src;
    if (e.mark.line >= 0) where += ":" + std::to_string(e.mark.line + 1);
    return Status::InvalidArgument(where + ": not valid YAML or JSON: " + e.msg);
  }
  YamlWalker w(src);
  Policy p;
  try {
    TIDEMARK_RETURN_IF_ERROR(ParsePolicy(w, root, "", &p));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(src + ": " + e.msg);
  }
  return p;
}

Result<Policy> LoadPolicyFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Status(text.status().code(), "policy file " + text.status().message());
  }
  return ParsePolicyText(*text, path);
}

bool ScaleInAllowed(const ScaleInWindow& w, int64_t now_ms) {
  if (!w.enabled) return true;
  time_t secs = static_cast<time_t>(now_ms / 1000);
  struct tm tm {};
  if (w.utc) {
    gmtime_r(&secs, &tm);
  } else {
    localtime_r(&secs, &tm);
  }
  int minute = tm.tm_hour * 60 + tm.tm_min;
  int day = tm.tm_wday;
  auto day_ok = [&](int d) { return (w.days >> ((d + 7) % 7)) & 1; };
  if (w.start_minute < w.end_minute) {
    return minute >= w.start_minute && minute < w.end_minute && day_ok(day);
  }
  // Wraps midnight: the evening part belongs to today, the morning part to yesterday's window.
  if (minute >= w.start_minute) return day_ok(day);
  if (minute < w.end_minute) return day_ok(day - 1);
  return false;
}

}  // namespace tidemark::autoscaler
