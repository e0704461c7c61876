#include "alerting/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>

#include "common/logging.h"

namespace tidemark::alerting {

namespace {

// Prometheus keeps re-sending resolved alerts for 15 m; state older than that is forgotten.
constexpr int64_t kResolvedRetentionMs = 15 * 60 * 1000;

std::string AlertmanagerEndpoint(const std::string& base) {
  static constexpr std::string_view kPath = "/api/v2/alerts";
  if (std::string_view(base).ends_with(kPath)) return base;
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + std::string(kPath);
}

}  // namespace

Result<std::unique_ptr<Notifier>> Notifier::Create(const NotifyConfig& config,
                                                   const std::string& outbox_dir,
                                                   const Clock& clock,
                                                   ServiceLabelsLookup service_labels,
                                                   OutboxDeliverer deliver) {
  std::unique_ptr<Notifier> n(new Notifier(config, clock));
  OwnerOptions owner_opts = config.owners;
  owner_opts.service_labels = std::move(service_labels);
  auto owners = OwnerResolver::Create(std::move(owner_opts));
  if (!owners.ok()) return owners.status();
  n->owners_ = std::move(owners).value();
  RouteConfig fallback = config.default_route;
  if (fallback.receivers.empty()) {
    for (const ReceiverConfig& r : config.receivers) fallback.receivers.push_back(r.name);
  }
  auto router = Router::Create(config.routes, std::move(fallback));
  if (!router.ok()) return router.status();
  n->router_ = std::move(router).value();
  std::vector<GroupedReceiver> grouped;
  for (const ReceiverConfig& r : n->config_.receivers) {
    if (r.urls.empty()) return Status::InvalidArgument("receiver " + r.name + ": no url");
    for (const std::string& u : r.urls) {
      auto parsed = ParseHttpUrl(u);
      if (!parsed.ok())
        return Status::InvalidArgument("receiver " + r.name + ": " + parsed.status().message());
    }
    n->receivers_[r.name] = &r;
    n->stats_[r.name].type = std::string(ReceiverTypeName(r.type));
    if (r.type != ReceiverType::kAlertmanager) {
      grouped.push_back(GroupedReceiver{r.name, r.send_resolved, r.max_alerts});
    }
  }
  DispatcherOptions dopts;
  dopts.external_url = config.external_url;
  dopts.max_per_minute = config.max_per_minute;
  dopts.resolve_timeout = config.ValidFor();
  n->dispatcher_ = std::make_unique<Dispatcher>(std::move(dopts), std::move(grouped));
  if (!deliver) {
    Notifier* self = n.get();
    deliver = [self](const OutboxEntry& e) -> DeliveryResult {
      auto it = self->receivers_.find(e.receiver);
      if (it == self->receivers_.end()) {
        return {DeliveryOutcome::kDrop, "receiver " + e.receiver + " is no longer configured"};
      }
      return Deliver(it->second->type, e.receiver, e.url, e.body,
                     e.idempotency_key.empty() ? e.key : e.idempotency_key, it->second->timeout);
    };
  }
  OutboxOptions oopts;
  oopts.dir = outbox_dir;
  oopts.max_entries = config.outbox.max_entries;
  oopts.initial_backoff = config.outbox.initial_backoff;
  oopts.max_backoff = config.outbox.max_backoff;
  oopts.max_age = config.outbox.max_age;
  auto outbox = Outbox::Open(std::move(oopts), clock, std::move(deliver));
  if (!outbox.ok()) return outbox.status();
  n->outbox_ = std::move(outbox).value();
  return n;
}

Notifier::~Notifier() { Stop(); }

void Notifier::EnqueueLocked(OutboxEntry entry) {
  NotifierReceiverStats& st = stats_[entry.receiver];
  std::string receiver = entry.receiver;
  Status s = outbox_->Enqueue(std::move(entry));
  if (s.ok()) {
    st.notifications++;
    return;
  }
  st.dropped++;
  st.last_error = s.ToString();
  st.last_error_ms = ToUnixMillis(clock_.Now());
  if (log_limiter_.Allow("enqueue")) {
    spdlog::warn("alerting: notification for receiver {} lost: {}", receiver, s.ToString());
  }
}

void Notifier::Send(std::vector<Alert> alerts) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = ToUnixMillis(clock_.Now());
  bool grouped = false;
  for (Alert& alert : alerts) {
    alerts_received_++;
    owners_->Apply(&alert);
    std::vector<size_t> routes = router_->Match(GetLabel(alert.labels, "owner"));
    if (routes.empty()) {
      alerts_unrouted_++;
      continue;
    }
    const uint64_t fp = alert.Fingerprint();
    std::vector<std::string> done;  // A receiver on several matching routes gets it once.
    for (size_t ri : routes) {
      const RouteConfig& route = router_->route(ri);
      for (const std::string& name : route.receivers) {
        auto rit = receivers_.find(name);
        if (rit == receivers_.end()) continue;
        if (std::find(done.begin(), done.end(), name) != done.end()) continue;
        done.push_back(name);
        const ReceiverConfig& rcv = *rit->second;
        if (rcv.type != ReceiverType::kAlertmanager) {
          dispatcher_->Add(alert, ri, route, name, now);
          grouped = true;
          continue;
        }
        // Prometheus' needsSending: new, (re)resolved or re-fired now, else once per resend_delay.
        auto [it, fresh] = am_[name].try_emplace(fp);
        AmState& st = it->second;
        st.last_seen_ms = now;
        bool send = fresh || st.sent_ends_at_ms != alert.ends_at_ms ||
                    now - st.last_sent_ms > config_.resend_delay.count();
        if (!send) continue;
        st.last_sent_ms = now;
        st.sent_ends_at_ms = alert.ends_at_ms;
        std::string body = AlertmanagerPayload({alert}, now, config_.ValidFor());
        char fps[20];
        std::snprintf(fps, sizeof(fps), "%016" PRIx64, fp);
        for (size_t u = 0; u < rcv.urls.size(); ++u) {
          OutboxEntry e;
          // One pending entry per alert and Alertmanager: a newer state replaces an unsent one.
          e.key = name + "/" + std::to_string(u) + "/" + fps;
          e.idempotency_key = e.key + (alert.resolved() ? "/resolved/" : "/firing/") +
                              std::to_string(alert.resolved() ? alert.ends_at_ms : now);
          e.receiver = name;
          e.url = AlertmanagerEndpoint(rcv.urls[u]);
          e.body = body;
          EnqueueLocked(std::move(e));
        }
      }
    }
  }
  if (grouped) cv_.notify_all();
}

void Notifier::Tick() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = ToUnixMillis(clock_.Now());
  for (DispatchedMessage& m : dispatcher_->Flush(now)) {
    auto it = receivers_.find(m.message.receiver);
    if (it == receivers_.end()) continue;
    OutboxEntry e;
    e.key = std::move(m.group_id);
    e.idempotency_key = std::move(m.idempotency_key);
    e.receiver = m.message.receiver;
    e.url = it->second->urls.front();
    e.body = GroupPayload(it->second->type, m.message);
    EnqueueLocked(std::move(e));
  }
  const int64_t keep = kResolvedRetentionMs + config_.ValidFor().count();
  for (auto& [name, states] : am_) {
    std::erase_if(states, [&](const auto& kv) { return now - kv.second.last_seen_ms > keep; });
  }
}

size_t Notifier::RunOnce() {
  Tick();
  return outbox_->ProcessDue();
}

void Notifier::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) return;
    running_ = true;
  }
  outbox_->Start();
  thread_ = std::thread([this] { RunGuarded("alerting notifier", [this] { Loop(); }); });
}

void Notifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  outbox_->Stop();
}

void Notifier::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (running_) {
    lock.unlock();
    Tick();
    lock.lock();
    if (!running_) break;
    int64_t next = dispatcher_->NextFlushMs();
    int64_t now = ToUnixMillis(clock_.Now());
    // The clock may be a fake one: look again at least once a second.
    int64_t wait = next == INT64_MAX ? 1000 : std::clamp<int64_t>(next - now, 1, 1000);
    cv_.wait_for(lock, std::chrono::milliseconds(wait));
  }
}

NotifierStats Notifier::Stats() const {
  std::map<std::string, OutboxReceiverStats> ob = outbox_->Stats();
  std::lock_guard<std::mutex> lock(mu_);
  NotifierStats s;
  s.alerts_received = alerts_received_;
  s.alerts_unrouted = alerts_unrouted_;
  s.outbox_length = outbox_->size();
  s.groups = dispatcher_->group_count();
  s.receivers = stats_;
  for (const auto& [name, n] : dispatcher_->rate_limited()) s.receivers[name].rate_limited = n;
  for (const auto& [name, o] : ob) {
    NotifierReceiverStats& r = s.receivers[name];
    r.sent = o.sent;
    r.failed = o.failed;
    r.dropped += o.dropped;
    r.pending = o.pending;
    if (o.last_error_ms >= r.last_error_ms && !o.last_error.empty()) {
      r.last_error = o.last_error;
      r.last_error_ms = o.last_error_ms;
    }
  }
  return s;
}

}  // namespace tidemark::alerting
