#include "alerting/notify_config.h"

#include <set>

#include "common/duration.h"

namespace tidemark::alerting {

namespace {

std::string Key(const std::string& prefix, const std::string& k) {
  return prefix.empty() ? k : prefix + "." + k;
}

// Calls f(item, "<key>[i]") for each element of a sequence (null = empty).
template <typename F>
Status List(const YamlWalker& w, const YAML::Node& n, const std::string& key, F f) {
  if (n.IsNull()) return Status::Ok();
  if (!n.IsSequence()) return w.Error(n, key, "expected a list, got " + YamlWalker::Describe(n));
  for (size_t i = 0; i < n.size(); ++i) {
    TIDEMARK_RETURN_IF_ERROR(f(n[i], key + "[" + std::to_string(i) + "]"));
  }
  return Status::Ok();
}

Status ParseRoute(const YamlWalker& w, const YAML::Node& n, const std::string& prefix,
                  bool catch_all, RouteConfig* r) {
  auto handler = [&](const std::string& k, const YAML::Node& v, const std::string& full) {
    if (k == "owner") return w.String(v, full, &r->owner);
    if (k == "receivers") return w.StringList(v, full, &r->receivers);
    if (k == "group_by") return w.StringList(v, full, &r->group_by);
    if (k == "group_wait") return w.Duration(v, full, &r->group_wait);
    if (k == "group_interval") return w.Duration(v, full, &r->group_interval);
    if (k == "repeat_interval") return w.Duration(v, full, &r->repeat_interval);
    return w.Bool(v, full, &r->continue_matching);
  };
  if (catch_all) {
    return w.Map(n, prefix,
                 {"receivers", "group_by", "group_wait", "group_interval", "repeat_interval"},
                 handler);
  }
  return w.Map(n, prefix,
               {"owner", "receivers", "group_by", "group_wait", "group_interval", "repeat_interval",
                "continue"},
               handler);
}

Status ParseReceiver(const YamlWalker& w, const YAML::Node& n, const std::string& prefix,
                     ReceiverConfig* r) {
  if (!n.IsMap()) return w.Error(n, prefix, "expected a mapping, got " + YamlWalker::Describe(n));
  bool has_type = false;
  TIDEMARK_RETURN_IF_ERROR(
      w.Map(n, prefix, {"name", "type", "url", "urls", "timeout", "send_resolved", "max_alerts"},
            [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
              if (k == "name") return w.String(v, full, &r->name);
              if (k == "type") {
                std::string t;
                TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &t));
                auto parsed = ParseReceiverType(t);
                if (!parsed.ok()) return w.Error(v, full, parsed.status().message());
                r->type = *parsed;
                has_type = true;
                return Status::Ok();
              }
              if (k == "url") {
                std::string u;
                TIDEMARK_RETURN_IF_ERROR(w.String(v, full, &u));
                r->urls.insert(r->urls.begin(), u);
                return Status::Ok();
              }
              if (k == "urls") {
                std::vector<std::string> us;
                TIDEMARK_RETURN_IF_ERROR(w.StringList(v, full, &us));
                r->urls.insert(r->urls.end(), us.begin(), us.end());
                return Status::Ok();
              }
              if (k == "timeout") return w.Duration(v, full, &r->timeout);
              if (k == "send_resolved") return w.Bool(v, full, &r->send_resolved);
              return w.Size(v, full, &r->max_alerts);
            }));
  if (r->name.empty()) return w.Error(n, Key(prefix, "name"), "required");
  if (!has_type) {
    return w.Error(n, Key(prefix, "type"),
                   "required (alertmanager, webhook, slack, dingtalk or wecom)");
  }
  if (r->urls.empty()) return w.Error(n, Key(prefix, "url"), "required (url or urls)");
  for (const std::string& u : r->urls) {
    auto parsed = ParseHttpUrl(u);
    if (!parsed.ok()) return w.Error(n, Key(prefix, "url"), parsed.status().message());
  }
  if (r->type != ReceiverType::kAlertmanager && r->urls.size() > 1) {
    return w.Error(n, Key(prefix, "urls"), "only alertmanager receivers take several URLs");
  }
  return Status::Ok();
}

}  // namespace

Status ParseNotifyConfig(const YamlWalker& w, const YAML::Node& node, const std::string& key_prefix,
                         NotifyConfig* out) {
  const std::string& p = key_prefix;
  if (!node.IsDefined()) return Status::Ok();  // Section absent: defaults.
  return w.Map(
      node, p,
      {"external_url", "resend_delay", "evaluation_interval", "owners", "receivers", "routes",
       "default_route", "rate_limit", "outbox"},
      [&](const std::string& k, const YAML::Node& v, const std::string& full) -> Status {
        if (k == "external_url") return w.String(v, full, &out->external_url);
        if (k == "resend_delay") return w.Duration(v, full, &out->resend_delay);
        if (k == "evaluation_interval") return w.Duration(v, full, &out->evaluation_interval);
        if (k == "owners") {
          return w.Map(
              v, full, {"label_keys", "static", "default"},
              [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) -> Status {
                if (k2 == "label_keys") return w.StringList(v2, f2, &out->owners.label_keys);
                if (k2 == "default") return w.String(v2, f2, &out->owners.default_owner);
                out->owners.static_map.clear();
                return List(w, v2, f2, [&](const YAML::Node& item, const std::string& f3) {
                  OwnerRule rule;
                  TIDEMARK_RETURN_IF_ERROR(w.Map(
                      item, f3, {"match_service", "match_namespace", "owner"},
                      [&](const std::string& k4, const YAML::Node& v4, const std::string& f4) {
                        if (k4 == "match_service") return w.String(v4, f4, &rule.match_service);
                        if (k4 == "match_namespace") {
                          return w.String(v4, f4, &rule.match_namespace);
                        }
                        return w.String(v4, f4, &rule.owner);
                      }));
                  if (rule.owner.empty()) return w.Error(item, f3 + ".owner", "required");
                  if (rule.match_service.empty() && rule.match_namespace.empty()) {
                    return w.Error(item, f3, "needs match_service or match_namespace");
                  }
                  out->owners.static_map.push_back(std::move(rule));
                  return Status::Ok();
                });
              });
        }
        if (k == "receivers") {
          out->receivers.clear();
          return List(w, v, full, [&](const YAML::Node& item, const std::string& f2) {
            ReceiverConfig r;
            TIDEMARK_RETURN_IF_ERROR(ParseReceiver(w, item, f2, &r));
            out->receivers.push_back(std::move(r));
            return Status::Ok();
          });
        }
        if (k == "routes") {
          out->routes.clear();
          return List(w, v, full, [&](const YAML::Node& item, const std::string& f2) {
            RouteConfig r;
            if (!item.IsMap()) return w.Error(item, f2, "expected a mapping");
            TIDEMARK_RETURN_IF_ERROR(ParseRoute(w, item, f2, false, &r));
            if (r.receivers.empty()) return w.Error(item, f2 + ".receivers", "required");
            out->routes.push_back(std::move(r));
            return Status::Ok();
          });
        }
        if (k == "default_route") return ParseRoute(w, v, full, true, &out->default_route);
        if (k == "rate_limit") {
          return w.Map(v, full, {"max_per_minute"},
                       [&](const std::string&, const YAML::Node& v2, const std::string& f2) {
                         size_t n = 0;
                         TIDEMARK_RETURN_IF_ERROR(w.Size(v2, f2, &n));
                         if (n > 1000000) return w.Error(v2, f2, "at most 1000000");
                         out->max_per_minute = static_cast<uint32_t>(n);
                         return Status::Ok();
                       });
        }
        return w.Map(v, full, {"max_entries", "initial_backoff", "max_backoff", "max_age"},
                     [&](const std::string& k2, const YAML::Node& v2, const std::string& f2) {
                       if (k2 == "max_entries") return w.Size(v2, f2, &out->outbox.max_entries);
                       if (k2 == "initial_backoff") {
                         return w.Duration(v2, f2, &out->outbox.initial_backoff);
                       }
                       if (k2 == "max_backoff") return w.Duration(v2, f2, &out->outbox.max_backoff);
                       return w.Duration(v2, f2, &out->outbox.max_age);
                     });
      });
}

Status ValidateNotifyConfig(const NotifyConfig& c, std::string_view source) {
  auto bad = [&](const std::string& key, const std::string& why) {
    return Status::InvalidArgument(std::string(source) + ": notify." + key + ": " + why);
  };
  auto positive = [](std::chrono::milliseconds d) { return d.count() > 0; };
  if (!positive(c.resend_delay)) return bad("resend_delay", "must be > 0");
  if (!positive(c.evaluation_interval)) return bad("evaluation_interval", "must be > 0");
  if (c.outbox.max_entries == 0) return bad("outbox.max_entries", "must be > 0");
  if (!positive(c.outbox.initial_backoff)) return bad("outbox.initial_backoff", "must be > 0");
  if (c.outbox.max_backoff < c.outbox.initial_backoff) {
    return bad("outbox.max_backoff", "must be >= outbox.initial_backoff");
  }
  if (!positive(c.outbox.max_age)) return bad("outbox.max_age", "must be > 0");
  std::set<std::string> names;
  for (size_t i = 0; i < c.receivers.size(); ++i) {
    const ReceiverConfig& r = c.receivers[i];
    std::string key = "receivers[" + std::to_string(i) + "]";
    if (r.name.empty()) return bad(key + ".name", "must not be empty");
    if (!names.insert(r.name).second) return bad(key + ".name", "duplicate \"" + r.name + "\"");
    if (r.urls.empty()) return bad(key + ".url", "required");
    for (const std::string& u : r.urls) {
      auto parsed = ParseHttpUrl(u);
      if (!parsed.ok()) return bad(key + ".url", parsed.status().message());
    }
    if (!positive(r.timeout)) return bad(key + ".timeout", "must be > 0");
  }
  auto check_route = [&](const RouteConfig& r, const std::string& key) -> Status {
    for (const std::string& name : r.receivers) {
      if (names.count(name) == 0)
        return bad(key + ".receivers", "unknown receiver \"" + name + "\"");
    }
    if (r.group_wait.count() < 0) return bad(key + ".group_wait", "must be >= 0");
    if (!positive(r.group_interval)) return bad(key + ".group_interval", "must be > 0");
    if (!positive(r.repeat_interval)) return bad(key + ".repeat_interval", "must be > 0");
    return Status::Ok();
  };
  for (size_t i = 0; i < c.routes.size(); ++i) {
    TIDEMARK_RETURN_IF_ERROR(check_route(c.routes[i], "routes[" + std::to_string(i) + "]"));
  }
  TIDEMARK_RETURN_IF_ERROR(check_route(c.default_route, "default_route"));
  auto router = Router::Create(c.routes, c.default_route);
  if (!router.ok()) return bad("", router.status().message());
  auto owners = OwnerResolver::Create(c.owners);
  if (!owners.ok())
    return Status::InvalidArgument(std::string(source) + ": notify." + owners.status().message());
  return Status::Ok();
}

namespace {

YAML::Node EmitRoute(const RouteConfig& r, bool catch_all) {
  YAML::Node n;
  if (!catch_all) n["owner"] = r.owner;
  n["receivers"] = YAML::Node(YAML::NodeType::Sequence);
  for (const auto& s : r.receivers) n["receivers"].push_back(s);
  n["group_by"] = YAML::Node(YAML::NodeType::Sequence);
  for (const auto& s : r.group_by) n["group_by"].push_back(s);
  n["group_wait"] = FormatDuration(r.group_wait);
  n["group_interval"] = FormatDuration(r.group_interval);
  n["repeat_interval"] = FormatDuration(r.repeat_interval);
  if (!catch_all) n["continue"] = r.continue_matching;
  return n;
}

}  // namespace

YAML::Node EmitNotifyConfig(const NotifyConfig& c) {
  YAML::Node n;
  n["external_url"] = c.external_url;
  n["resend_delay"] = FormatDuration(c.resend_delay);
  n["evaluation_interval"] = FormatDuration(c.evaluation_interval);
  YAML::Node owners;
  owners["label_keys"] = YAML::Node(YAML::NodeType::Sequence);
  for (const auto& k : c.owners.label_keys) owners["label_keys"].push_back(k);
  owners["static"] = YAML::Node(YAML::NodeType::Sequence);
  for (const OwnerRule& r : c.owners.static_map) {
    YAML::Node s;
    if (!r.match_service.empty()) s["match_service"] = r.match_service;
    if (!r.match_namespace.empty()) s["match_namespace"] = r.match_namespace;
    s["owner"] = r.owner;
    owners["static"].push_back(s);
  }
  owners["default"] = c.owners.default_owner;
  n["owners"] = owners;
  n["receivers"] = YAML::Node(YAML::NodeType::Sequence);
  for (const ReceiverConfig& r : c.receivers) {
    YAML::Node x;
    x["name"] = r.name;
    x["type"] = std::string(ReceiverTypeName(r.type));
    x["urls"] = YAML::Node(YAML::NodeType::Sequence);
    for (const auto& u : r.urls) x["urls"].push_back(u);
    x["timeout"] = FormatDuration(r.timeout);
    x["send_resolved"] = r.send_resolved;
    x["max_alerts"] = r.max_alerts;
    n["receivers"].push_back(x);
  }
  n["routes"] = YAML::Node(YAML::NodeType::Sequence);
  for (const RouteConfig& r : c.routes) n["routes"].push_back(EmitRoute(r, false));
  n["default_route"] = EmitRoute(c.default_route, true);
  n["rate_limit"]["max_per_minute"] = c.max_per_minute;
  n["outbox"]["max_entries"] = c.outbox.max_entries;
  n["outbox"]["initial_backoff"] = FormatDuration(c.outbox.initial_backoff);
  n["outbox"]["max_backoff"] = FormatDuration(c.outbox.max_backoff);
  n["outbox"]["max_age"] = FormatDuration(c.outbox.max_age);
  return n;
}

}  // namespace tidemark::alerting
