#include "alerting/notifier.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/http_client.h"
#include "common/http_server.h"
#include "tests/testing/testing.h"

extern char** environ;

namespace tidemark::alerting {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::TempDir;

Alert OomAlert(std::string pod = "cart-7d9f") {
  Alert a;
  a.labels = {{"alertname", "ContainerOOMKilled"},
              {"container", "cart"},
              {"container_label_team", "checkout"},
              {"namespace", "shop"},
              {"pod", std::move(pod)}};
  a.annotations = {{"summary", "cart was OOM-killed"}};
  a.starts_at_ms = 1700000000000;
  return a;
}

ReceiverConfig Receiver(std::string name, ReceiverType type, std::vector<std::string> urls) {
  ReceiverConfig r;
  r.name = std::move(name);
  r.type = type;
  r.urls = std::move(urls);
  r.timeout = seconds(2);
  return r;
}

struct Recorded {
  std::string receiver, url, body, key;
};

// Records what the notifier would POST; the answer is configurable.
class FakeDelivery {
 public:
  OutboxDeliverer Deliverer() {
    return [this](const OutboxEntry& e) {
      std::lock_guard<std::mutex> lock(mu_);
      sent_.push_back({e.receiver, e.url, e.body, e.idempotency_key});
      return DeliveryResult{outcome_, outcome_ == DeliveryOutcome::kDelivered ? "" : "down"};
    };
  }
  void set_outcome(DeliveryOutcome o) {
    std::lock_guard<std::mutex> lock(mu_);
    outcome_ = o;
  }
  std::vector<Recorded> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(sent_, {});
  }

 private:
  std::mutex mu_;
  std::vector<Recorded> sent_;
  DeliveryOutcome outcome_ = DeliveryOutcome::kDelivered;
};

class NotifierTest : public ::testing::Test {
 protected:
  std::unique_ptr<Notifier> Make(const NotifyConfig& c) {
    EXPECT_TRUE(ValidateNotifyConfig(c, "test").ok()) << ValidateNotifyConfig(c, "test").message();
    auto n = Notifier::Create(c, dir_.path() + "/outbox", clock_, {}, fake_.Deliverer());
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return std::move(n).value();
  }
  TempDir dir_;
  FakeClock clock_;
  FakeDelivery fake_;
};

TEST_F(NotifierTest, OwnerRoutingAndReceiverFormats) {
  NotifyConfig c;
  c.receivers = {Receiver("am", ReceiverType::kAlertmanager,
                          {"http://127.0.0.1:9093", "http://127.0.0.2:9093/"}),
                 Receiver("hook", ReceiverType::kWebhook, {"http://127.0.0.1:8080/hook"}),
                 Receiver("ops", ReceiverType::kWeCom, {"http://127.0.0.1:8081/robot"})};
  RouteConfig checkout;
  checkout.owner = "checkout";
  checkout.receivers = {"hook", "am"};
  c.routes = {checkout};
  c.default_route.receivers = {"ops"};
  auto n = Make(c);
  n->Send({OomAlert()});
  Alert other = OomAlert();
  other.labels.erase(other.labels.begin() + 2);  // no team label: default owner → ops
  n->Send({other});

  n->RunOnce();
  auto sent = fake_.Take();
  // Alertmanager gets it at once (no grouping on our side), once per URL.
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].url, "http://127.0.0.1:9093/api/v2/alerts");
  EXPECT_EQ(sent[1].url, "http://127.0.0.2:9093/api/v2/alerts");
  json am = json::parse(sent[0].body);
  ASSERT_EQ(am.size(), 1u);
  EXPECT_EQ(am[0]["labels"]["owner"], "checkout");
  EXPECT_EQ(am[0]["endsAt"], FormatRfc3339(ToUnixMillis(clock_.Now()) + 240000));

  clock_.Advance(seconds(1));  // group_wait
  n->RunOnce();
  sent = fake_.Take();
  ASSERT_EQ(sent.size(), 2u);
  std::sort(sent.begin(), sent.end(),
            [](const Recorded& a, const Recorded& b) { return a.receiver < b.receiver; });
  EXPECT_EQ(sent[0].receiver, "hook");
  json hook = json::parse(sent[0].body);
  EXPECT_EQ(hook["version"], "4");
  EXPECT_EQ(hook["receiver"], "hook");
  EXPECT_EQ(hook["groupLabels"]["owner"], "checkout");
  EXPECT_EQ(sent[1].receiver, "ops");
  json ops = json::parse(sent[1].body);
  EXPECT_EQ(ops["msgtype"], "markdown");
  EXPECT_NE(ops["markdown"]["content"].get<std::string>().find("owner=unowned"), std::string::npos);

  auto st = n->Stats();
  EXPECT_EQ(st.alerts_received, 2u);
  EXPECT_EQ(st.receivers["am"].sent, 2u);
  EXPECT_EQ(st.receivers["am"].type, "alertmanager");
  EXPECT_EQ(st.receivers["hook"].sent, 1u);
  EXPECT_EQ(st.receivers["ops"].notifications, 1u);
  EXPECT_EQ(st.outbox_length, 0u);
}

// alerting.md §2 checks: eval 15 s, resend 1 m → endsAt = ts + 240 s; re-sent at the first
// evaluation with ts > last sent + 60 s; a resolution is sent at once and repeated.
TEST_F(NotifierTest, AlertmanagerResendCadenceAsPrometheus) {
  NotifyConfig c;
  c.evaluation_interval = seconds(15);
  c.receivers = {Receiver("am", ReceiverType::kAlertmanager, {"http://127.0.0.1:9093"})};
  auto n = Make(c);
  const int64_t t0 = ToUnixMillis(clock_.Now());
  std::vector<int64_t> sent_at;
  for (int i = 0; i <= 20; ++i) {  // 0 .. 300 s
    n->Send({OomAlert()});
    n->RunOnce();
    for (const auto& r : fake_.Take()) {
      int64_t now = ToUnixMillis(clock_.Now());
      sent_at.push_back((now - t0) / 1000);
      json j = json::parse(r.body);
      EXPECT_EQ(j[0]["endsAt"], FormatRfc3339(now + 240000));
    }
    clock_.Advance(seconds(15));
  }
  EXPECT_EQ(sent_at, (std::vector<int64_t>{0, 75, 150, 225, 300}));

  // Resolved at 315 s: sent at once with endsAt = ResolvedAt, then once per resend delay.
  Alert resolved = OomAlert();
  resolved.ends_at_ms = ToUnixMillis(clock_.Now());
  sent_at.clear();
  for (int i = 0; i < 8; ++i) {
    n->Send({resolved});
    n->RunOnce();
    for (const auto& r : fake_.Take()) {
      sent_at.push_back((ToUnixMillis(clock_.Now()) - t0) / 1000);
      EXPECT_EQ(json::parse(r.body)[0]["endsAt"], FormatRfc3339(resolved.ends_at_ms));
    }
    clock_.Advance(seconds(15));
  }
  EXPECT_EQ(sent_at, (std::vector<int64_t>{315, 390}));
}

TEST_F(NotifierTest, PendingNotificationsSurviveRecreation) {
  NotifyConfig c;
  c.receivers = {Receiver("am", ReceiverType::kAlertmanager, {"http://127.0.0.1:9093"})};
  fake_.set_outcome(DeliveryOutcome::kRetry);
  {
    auto n = Make(c);
    n->Send({OomAlert("a"), OomAlert("b")});
    n->RunOnce();
    EXPECT_EQ(fake_.Take().size(), 1u);  // one probe while the receiver is down
    EXPECT_EQ(n->Stats().outbox_length, 2u);
    EXPECT_EQ(n->Stats().receivers["am"].failed, 1u);
  }
  fake_.set_outcome(DeliveryOutcome::kDelivered);
  auto n = Make(c);
  EXPECT_EQ(n->Stats().outbox_length, 2u);
  n->RunOnce();
  auto sent = fake_.Take();
  ASSERT_EQ(sent.size(), 2u);
  std::set<std::string> pods;
  for (const auto& r : sent) pods.insert(json::parse(r.body)[0]["labels"]["pod"]);
  EXPECT_EQ(pods, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(n->Stats().outbox_length, 0u);
}

TEST_F(NotifierTest, NewerGroupStateReplacesUndeliveredOne) {
  NotifyConfig c;
  c.receivers = {Receiver("hook", ReceiverType::kWebhook, {"http://127.0.0.1:8080/hook"})};
  auto n = Make(c);
  fake_.set_outcome(DeliveryOutcome::kRetry);
  n->Send({OomAlert()});
  clock_.Advance(seconds(1));
  n->RunOnce();
  auto failed = fake_.Take();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].key.find("/firing/"), std::string::npos);
  // It resolves while the receiver is still down: at the next group_interval the resolved state
  // replaces the pending firing one, so the receiver never sees them out of order.
  Alert resolved = OomAlert();
  resolved.ends_at_ms = ToUnixMillis(clock_.Now());
  n->Send({resolved});
  clock_.Advance(seconds(60));
  n->Tick();
  EXPECT_EQ(n->Stats().outbox_length, 1u);
  fake_.set_outcome(DeliveryOutcome::kDelivered);
  n->RunOnce();
  auto sent = fake_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(json::parse(sent[0].body)["status"], "resolved");
  EXPECT_NE(sent[0].key.find("/resolved/"), std::string::npos);
  EXPECT_EQ(n->Stats().outbox_length, 0u);
}

TEST_F(NotifierTest, NoReceiversCountsUnroutedAlerts) {
  auto n = Make(NotifyConfig{});
  n->Send({OomAlert()});
  n->RunOnce();
  EXPECT_TRUE(fake_.Take().empty());
  EXPECT_EQ(n->Stats().alerts_unrouted, 1u);
}

TEST_F(NotifierTest, SendDoesNotWaitForDelivery) {
  NotifyConfig c;
  c.receivers = {Receiver("am", ReceiverType::kAlertmanager, {"http://127.0.0.1:9093"})};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> attempts{0};
  auto created = Notifier::Create(c, dir_.path() + "/outbox", clock_, {}, [&](const OutboxEntry&) {
    attempts++;
    released.wait();
    return DeliveryResult{DeliveryOutcome::kDelivered, ""};
  });
  ASSERT_TRUE(created.ok());
  auto& n = *created;
  n->Start();
  n->Send({OomAlert("a")});
  while (attempts.load() == 0) std::this_thread::sleep_for(milliseconds(5));
  // The delivery thread is stuck in the receiver; Send still returns (or this test hangs).
  n->Send({OomAlert("b")});
  n->Send({OomAlert("c")});
  EXPECT_EQ(n->Stats().receivers["am"].notifications, 3u);
  release.set_value();
  while (n->Stats().outbox_length != 0) std::this_thread::sleep_for(milliseconds(5));
  n->Stop();
  EXPECT_EQ(n->Stats().receivers["am"].sent, 3u);
}

// ---- Real HTTP: a receiver served by common/http_server on loopback. ----

class TestReceiver {
 public:
  TestReceiver() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~TestReceiver() {
    Down();
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  // Serves on `port` (0 = any); returns the port.
  uint16_t Up(uint16_t port = 0) {
    auto s = HttpServer::Create(io_, "127.0.0.1:" + std::to_string(port),
                                [this](const HttpRequest& req, HttpResponse* resp) {
                                  std::lock_guard<std::mutex> lock(mu_);
                                  bodies_.push_back(req.body);
                                  keys_.push_back(std::string(req.Header("Idempotency-Key")));
                                  resp->status = status_;
                                  resp->body = reply_;
                                });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    return server_->port();
  }
  void Down() {
    if (server_) server_->Stop();
    server_.reset();
  }
  void Answer(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    reply_ = std::move(body);
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  std::vector<std::string> keys() {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<std::string> bodies_, keys_;
  int status_ = 200;
  std::string reply_ = "ok";
};

// Polls `pred` until it holds or `limit` passes (real daemons; not a timing assertion).
template <typename F>
bool WaitFor(F pred, milliseconds limit = milliseconds(30000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return pred();
}

TEST(DeliverTest, ClassifiesResponses) {
  TestReceiver rx;
  uint16_t port = rx.Up();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  auto deliver = [&](ReceiverType t) { return Deliver(t, "r", url, "{}", "key-1", seconds(5)); };
  EXPECT_EQ(deliver(ReceiverType::kWebhook).outcome, DeliveryOutcome::kDelivered);
  EXPECT_EQ(rx.keys().back(), "key-1");
  rx.Answer(400, "bad payload");
  DeliveryResult r = deliver(ReceiverType::kWebhook);
  EXPECT_EQ(r.outcome, DeliveryOutcome::kDrop);
  EXPECT_NE(r.error.find("receiver r (" + RedactUrl(url) + "): HTTP 400: bad payload"),
            std::string::npos)
      << r.error;
  rx.Answer(429, "slow down");
  EXPECT_EQ(deliver(ReceiverType::kSlack).outcome, DeliveryOutcome::kRetry);
  rx.Answer(503, "");
  EXPECT_EQ(deliver(ReceiverType::kWebhook).outcome, DeliveryOutcome::kRetry);
  rx.Answer(200, R"({"errcode":130101,"errmsg":"send too fast"})");
  EXPECT_EQ(deliver(ReceiverType::kDingTalk).outcome, DeliveryOutcome::kRetry);
  rx.Answer(200, R"({"errcode":93000,"errmsg":"invalid webhook url"})");
  r = deliver(ReceiverType::kWeCom);
  EXPECT_EQ(r.outcome, DeliveryOutcome::kDrop);
  EXPECT_NE(r.error.find("robot error 93000"), std::string::npos);
  rx.Answer(200, R"({"errcode":0,"errmsg":"ok"})");
  EXPECT_EQ(deliver(ReceiverType::kWeCom).outcome, DeliveryOutcome::kDelivered);
  rx.Down();
  r = deliver(ReceiverType::kWebhook);
  EXPECT_EQ(r.outcome, DeliveryOutcome::kRetry);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(Deliver(ReceiverType::kWebhook, "r", "ftp://x/", "{}", "k", seconds(1)).outcome,
            DeliveryOutcome::kDrop);
}

NotifyConfig HttpConfig(ReceiverType type, const std::string& url) {
  NotifyConfig c;
  c.receivers = {Receiver("hook", type, {url})};
  c.default_route.group_wait = milliseconds(0);
  c.outbox.initial_backoff = milliseconds(200);
  c.outbox.max_backoff = milliseconds(1000);
  return c;
}

TEST(NotifierHttpTest, WebhookDownWhenSentUpLaterReceivesOnce) {
  TempDir dir;
  TestReceiver rx;
  uint16_t port = rx.Up();
  rx.Down();  // nothing listens on the port now
  NotifyConfig c =
      HttpConfig(ReceiverType::kWebhook, "http://127.0.0.1:" + std::to_string(port) + "/hook");
  auto n = Notifier::Create(c, dir.path() + "/outbox", SystemClock::Instance());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  (*n)->Start();
  Alert a = OomAlert();
  a.starts_at_ms = ToUnixMillis(SystemClock::Instance().Now());
  (*n)->Send({a});
  ASSERT_TRUE(WaitFor([&] { return (*n)->Stats().receivers["hook"].failed >= 2; }));
  EXPECT_NE((*n)->Stats().receivers["hook"].last_error.find("receiver hook"), std::string::npos);
  ASSERT_EQ(rx.Up(port), port);
  ASSERT_TRUE(WaitFor([&] { return (*n)->Stats().receivers["hook"].sent == 1; }));
  // The rules keep re-sending the alert; the group is unchanged, so nothing more goes out.
  for (int i = 0; i < 5; ++i) {
    (*n)->Send({a});
    std::this_thread::sleep_for(milliseconds(300));
  }
  (*n)->Stop();
  auto bodies = rx.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  json j = json::parse(bodies[0]);
  EXPECT_EQ(j["alerts"][0]["labels"]["owner"], "checkout");
  EXPECT_EQ((*n)->Stats().outbox_length, 0u);
}

TEST(NotifierHttpTest, RecreatedNotifierDeliversPendingEntries) {
  TempDir dir;
  TestReceiver rx;
  uint16_t port = rx.Up();
  rx.Down();
  NotifyConfig c =
      HttpConfig(ReceiverType::kSlack, "http://127.0.0.1:" + std::to_string(port) + "/slack");
  {
    auto n = Notifier::Create(c, dir.path() + "/outbox", SystemClock::Instance());
    ASSERT_TRUE(n.ok());
    (*n)->Start();
    (*n)->Send({OomAlert("a")});
    ASSERT_TRUE(WaitFor([&] { return (*n)->Stats().receivers["hook"].failed >= 1; }));
    EXPECT_EQ((*n)->Stats().outbox_length, 1u);
  }  // destroyed with the notification pending
  rx.Up(port);
  auto n = Notifier::Create(c, dir.path() + "/outbox", SystemClock::Instance());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)->Stats().outbox_length, 1u);
  (*n)->Start();
  ASSERT_TRUE(WaitFor([&] { return (*n)->Stats().receivers["hook"].sent == 1; }));
  (*n)->Stop();
  auto bodies = rx.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(json::parse(bodies[0])["text"], "[FIRING:1] ContainerOOMKilled (checkout)");
}

uint16_t FreePort();

TEST(NotifierHttpTest, PendingEntriesSurviveKill9) {
  TempDir dir;
  uint16_t port = FreePort();  // nothing listens there yet; no threads exist before the fork
  ASSERT_NE(port, 0);
  NotifyConfig c;
  c.receivers = {
      Receiver("am", ReceiverType::kAlertmanager, {"http://127.0.0.1:" + std::to_string(port)})};
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child queues one alert for a receiver that is down, says so, and waits to be killed.
    auto n = Notifier::Create(c, dir.path() + "/outbox", SystemClock::Instance());
    if (!n.ok()) ::_exit(1);
    (*n)->Send({OomAlert("killed")});
    char b = (*n)->Stats().outbox_length == 1 ? 'y' : 'n';
    if (::write(ready[1], &b, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char b = 0;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(b, 'y');

  TestReceiver rx;
  ASSERT_EQ(rx.Up(port), port);
  auto n = Notifier::Create(c, dir.path() + "/outbox", SystemClock::Instance());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ((*n)->Stats().outbox_length, 1u);
  (*n)->Start();
  ASSERT_TRUE(WaitFor([&] { return (*n)->Stats().receivers["am"].sent == 1; }));
  (*n)->Stop();
  auto bodies = rx.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  json j = json::parse(bodies[0]);
  EXPECT_EQ(j[0]["labels"]["pod"], "killed");
  EXPECT_EQ(j[0]["labels"]["owner"], "checkout");
}

// ---- Debian's prometheus-alertmanager on loopback. ----

constexpr char kAlertmanager[] = "/usr/bin/prometheus-alertmanager";

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

class AlertmanagerPrivilegedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kAlertmanager, X_OK) != 0) {
      GTEST_SKIP() << kAlertmanager << " not installed (apt-get install prometheus-alertmanager)";
    }
    port_ = FreePort();
    ASSERT_NE(port_, 0);
    std::ofstream(dir_.path() + "/am.yml") << "route:\n  receiver: default\n  group_wait: 0s\n"
                                              "receivers:\n  - name: default\n";
    std::vector<std::string> args = {kAlertmanager,
                                     "--config.file=" + dir_.path() + "/am.yml",
                                     "--storage.path=" + dir_.path() + "/data",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--cluster.listen-address=",
                                     "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, kAlertmanager, nullptr, nullptr, argv.data(), environ), 0);
    HttpClient client = HttpClient::Tcp("127.0.0.1", port_);
    ASSERT_TRUE(WaitFor([&] {
      auto r = client.Get("/-/ready", seconds(1));
      return r.ok() && r->status == 200;
    })) << "alertmanager did not become ready on port "
        << port_;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  json Alerts() {
    auto r = HttpClient::Tcp("127.0.0.1", port_).Get("/api/v2/alerts", seconds(2));
    if (!r.ok() || r->status != 200) return json::array();
    return json::parse(r->body, nullptr, false);
  }
  TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(AlertmanagerPrivilegedTest, ReceivesAlertWithOwnerAndResolution) {
  NotifyConfig c;
  c.owners.label_keys = {"owner"};  // the team label is not consulted: the static map decides
  c.owners.static_map = {{"cart", "shop", "checkout"}};
  c.receivers = {
      Receiver("am", ReceiverType::kAlertmanager, {"http://127.0.0.1:" + std::to_string(port_)})};
  auto n = Notifier::Create(c, dir_.path() + "/outbox", SystemClock::Instance());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  (*n)->Start();
  Alert a = OomAlert();
  a.starts_at_ms = ToUnixMillis(SystemClock::Instance().Now());
  a.generator_url = "http://node-1:9920/alerts";
  auto sent = std::chrono::steady_clock::now();
  (*n)->Send({a});
  json got;
  ASSERT_TRUE(WaitFor([&] {
    got = Alerts();
    return got.is_array() && got.size() == 1;
  }));
  auto latency = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - sent);
  std::printf("Send → visible in Alertmanager: %lld ms\n", static_cast<long long>(latency.count()));
  EXPECT_LT(latency.count(), 5000);
  EXPECT_EQ(got[0]["labels"]["owner"], "checkout");
  EXPECT_EQ(got[0]["labels"]["alertname"], "ContainerOOMKilled");
  EXPECT_EQ(got[0]["labels"]["pod"], "cart-7d9f");
  EXPECT_EQ(got[0]["annotations"]["summary"], "cart was OOM-killed");
  EXPECT_EQ(got[0]["status"]["state"], "active");
  EXPECT_EQ(got[0]["generatorURL"], "http://node-1:9920/alerts");
  char fp[20];
  Alert owned = a;
  (*n)->owners().Apply(&owned);
  std::snprintf(fp, sizeof(fp), "%016llx", static_cast<unsigned long long>(owned.Fingerprint()));
  EXPECT_EQ(got[0]["fingerprint"], fp);  // same fingerprint as Alertmanager computes

  // Resolving it: Alertmanager stops listing it as active.
  a.ends_at_ms = ToUnixMillis(SystemClock::Instance().Now());
  (*n)->Send({a});
  ASSERT_TRUE(WaitFor([&] {
    got = Alerts();
    return got.is_array() && got.empty();
  }));
  (*n)->Stop();
  auto st = (*n)->Stats();
  EXPECT_EQ(st.receivers["am"].sent, 2u);
  EXPECT_EQ(st.receivers["am"].failed, 0u);
}

}  // namespace
}  // namespace tidemark::alerting
