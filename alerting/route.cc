#include "alerting/route.h"

#include <re2/re2.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>

namespace tidemark::alerting {

Result<std::unique_ptr<Router>> Router::Create(std::vector<RouteConfig> routes,
                                               RouteConfig fallback) {
  std::unique_ptr<Router> r(new Router());
  for (size_t i = 0; i < routes.size(); ++i) {
    std::string what = "routes[" + std::to_string(i) + "]";
    if (routes[i].receivers.empty()) {
      return Status::InvalidArgument(what + ".receivers: at least one receiver is needed");
    }
    std::unique_ptr<re2::RE2> re;
    if (!routes[i].owner.empty()) {
      re2::RE2::Options opts;
      opts.set_log_errors(false);
      re = std::make_unique<re2::RE2>("^(?:" + routes[i].owner + ")$", opts);
      if (!re->ok()) {
        return Status::InvalidArgument(what + ".owner: bad regex \"" + routes[i].owner +
                                       "\": " + re->error());
      }
    }
    r->owner_res_.push_back(std::move(re));
  }
  r->routes_ = std::move(routes);
  r->fallback_ = std::move(fallback);
  return r;
}

Router::Router() = default;
Router::~Router() = default;

std::vector<size_t> Router::Match(std::string_view owner) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (owner_res_[i] != nullptr && !re2::RE2::FullMatch(owner, *owner_res_[i])) continue;
    out.push_back(i);
    if (!routes_[i].continue_matching) return out;
  }
  if (out.empty() && !fallback_.receivers.empty()) out.push_back(routes_.size());
  return out;
}

std::string FormatGroupLabels(const Labels& labels) {
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    out += labels[i].name + "=\"";
    AppendEscapedLabelValue(labels[i].value, &out);
    out += "\"";
  }
  return out + "}";
}

void Dispatcher::Add(const Alert& alert, size_t route_index, const RouteConfig& route,
                     const std::string& receiver, int64_t now_ms) {
  Labels group_labels;
  bool all = std::find(route.group_by.begin(), route.group_by.end(), "...") != route.group_by.end();
  for (const Label& l : alert.labels) {
    if (all ||
        std::find(route.group_by.begin(), route.group_by.end(), l.name) != route.group_by.end()) {
      group_labels.push_back(l);
    }
  }
  std::string key =
      "{route=" + std::to_string(route_index) + "}:" + FormatGroupLabels(group_labels);
  std::string map_key = receiver + "\x1f" + key;
  uint64_t fp = alert.Fingerprint();
  auto it = groups_.find(map_key);
  if (it == groups_.end()) {
    if (alert.resolved()) return;
    Group g;
    g.receiver = receiver;
    g.key = key;
    g.group_labels = std::move(group_labels);
    g.route = &route;
    g.next_flush_ms = now_ms + route.group_wait.count();
    it = groups_.emplace(map_key, std::move(g)).first;
  }
  Group& g = it->second;
  auto a = g.alerts.find(fp);
  if (alert.resolved() && (a == g.alerts.end() || a->second.alert.resolved())) return;
  Entry& e = g.alerts[fp];
  e.alert = alert;
  e.updated_ms = now_ms;
}

int64_t Dispatcher::NextFlushMs() const {
  int64_t next = INT64_MAX;
  for (const auto& [k, g] : groups_) next = std::min(next, g.next_flush_ms);
  return next;
}

namespace {

bool Subset(const std::set<uint64_t>& a, const std::set<uint64_t>& b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

}  // namespace

std::vector<DispatchedMessage> Dispatcher::Flush(int64_t now_ms) {
  std::vector<DispatchedMessage> out;
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = it->second;
    if (g.next_flush_ms > now_ms) {
      ++it;
      continue;
    }
    const GroupedReceiver& rcv = receivers_[g.receiver];
    std::set<uint64_t> firing, resolved;
    for (auto& [fp, e] : g.alerts) {
      // Went silent: not re-sent within the window its last send vouched for (the rule group's
      // own 4 x max(interval, resend delay)), else the default resolve_timeout.
      const int64_t deadline = e.alert.valid_until_ms > e.updated_ms
                                   ? e.alert.valid_until_ms
                                   : e.updated_ms + options_.resolve_timeout.count();
      if (!e.alert.resolved() && now_ms >= deadline) e.alert.ends_at_ms = deadline;
      (e.alert.resolved() ? resolved : firing).insert(fp);
    }
    bool needs;
    if (g.last_notify_ms < 0) {
      needs = !firing.empty();
    } else if (!Subset(firing, g.last_firing)) {
      needs = true;
    } else if (firing.empty()) {
      needs = !g.last_firing.empty() && rcv.send_resolved;
    } else if (rcv.send_resolved && !Subset(resolved, g.last_resolved)) {
      needs = true;
    } else {
      needs = now_ms - g.last_notify_ms >= g.route->repeat_interval.count();
    }
    if (needs && options_.max_per_minute > 0) {
      std::deque<int64_t>& times = sent_times_[g.receiver];
      while (!times.empty() && times.front() <= now_ms - 60000) times.pop_front();
      if (times.size() >= options_.max_per_minute) {
        rate_limited_[g.receiver]++;
        g.next_flush_ms = times.front() + 60000;
        ++it;
        continue;
      }
      times.push_back(now_ms);
    }
    if (needs) {
      DispatchedMessage m;
      m.message.receiver = g.receiver;
      m.message.group_key = g.key;
      m.message.group_labels = g.group_labels;
      m.message.external_url = options_.external_url;
      std::string fps;
      for (auto& [fp, e] : g.alerts) {
        if (e.alert.resolved() && !rcv.send_resolved) continue;
        if (rcv.max_alerts > 0 && m.message.alerts.size() >= rcv.max_alerts) {
          m.message.truncated_alerts++;
          continue;
        }
        m.message.alerts.push_back(e.alert);
        char buf[24];
        std::snprintf(buf, sizeof(buf), "%016" PRIx64 "%c", fp, e.alert.resolved() ? 'r' : 'f');
        fps += buf;
      }
      std::string status = m.message.firing() ? "firing" : "resolved";
      char hash[20];
      std::snprintf(hash, sizeof(hash), "%016" PRIx64, LabelsFingerprint({{"fps", fps}}));
      m.group_id = g.receiver + "/" + g.key;
      m.idempotency_key = m.group_id + "/" + status + "/" + hash;
      out.push_back(std::move(m));
      g.last_notify_ms = now_ms;
      g.last_firing = firing;
      g.last_resolved = resolved;
    }
    // Resolved alerts are done with once notified (or not wanted).
    for (uint64_t fp : resolved) g.alerts.erase(fp);
    g.last_resolved.clear();
    if (g.alerts.empty()) {
      it = groups_.erase(it);
      continue;
    }
    g.next_flush_ms = now_ms + g.route->group_interval.count();
    ++it;
  }
  return out;
}

}  // namespace tidemark::alerting
