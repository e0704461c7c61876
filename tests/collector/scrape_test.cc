#include "collector/scrape.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>

#include "collector/scrape_config.h"
#include "collector/scraper.h"
#include "tests/testing/testing.h"

namespace tidemark::collector {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Render(const Labels& l) {
  std::string out;
  for (const Label& x : l) out += (out.empty() ? "" : ",") + x.name + "=" + x.value;
  return out;
}

bool IsStale(double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  return bits == 0x7ff0000000000002ULL;
}

// An in-memory ScrapeStore recording every committed sample by rendered label set.
class FakeStore final : public ScrapeStore {
 public:
  struct Point {
    int64_t t;
    double v;
  };
  std::map<std::string, std::vector<Point>> series;  // Rendered labels → committed points.
  std::map<uint64_t, std::string> refs;
  bool fail_commit = false;

  class App final : public ScrapeAppender {
   public:
    explicit App(FakeStore* s) : s_(s) {}
    uint64_t Add(const Labels& labels, int64_t t, double v) override {
      std::string key = Render(labels);
      uint64_t ref = 0;
      for (const auto& [r, k] : s_->refs) {
        if (k == key) ref = r;
      }
      if (ref == 0) {
        ref = s_->refs.size() + 1;
        s_->refs[ref] = key;
      }
      pending_.push_back({ref, t, v});
      return ref;
    }
    bool AddRef(uint64_t ref, int64_t t, double v) override {
      if (s_->refs.count(ref) == 0) return false;
      pending_.push_back({ref, t, v});
      return true;
    }
    void AddStale(uint64_t ref, int64_t t) override {
      double nan;
      const uint64_t bits = 0x7ff0000000000002ULL;
      std::memcpy(&nan, &bits, sizeof nan);
      AddRef(ref, t, nan);
    }
    Status Commit() override {
      if (s_->fail_commit) return Status::IoError("disk on fire");
      for (const auto& p : pending_) s_->series[s_->refs[p.ref]].push_back({p.t, p.v});
      return Status::Ok();
    }

   private:
    struct P {
      uint64_t ref;
      int64_t t;
      double v;
    };
    FakeStore* s_;
    std::vector<P> pending_;
  };
  std::unique_ptr<ScrapeAppender> NewAppender() override { return std::make_unique<App>(this); }

  // The last committed value of the series rendered as `key`; NaN when absent.
  double Last(const std::string& key) const {
    auto it = series.find(key);
    return it == series.end() || it->second.empty() ? std::nan("") : it->second.back().v;
  }
};

ScrapeTarget Target(ScrapeOptions o = {}) {
  ScrapeConfig c;
  ScrapeJob j;
  j.job_name = "app";
  j.options = o;
  j.static_configs.push_back(StaticTargets{{"10.0.0.1:8080"}, {}});
  c.jobs.push_back(j);
  return BuildStaticTargets(c, seconds(1)).at(0);
}

Result<ScrapeResponse> Body(std::string body, std::string ct = "text/plain; version=0.0.4") {
  return ScrapeResponse{std::move(body), std::move(ct)};
}

constexpr char kT[] = "instance=10.0.0.1:8080,job=app";

// --- config -------------------------------------------------------------------------------

Result<ScrapeConfig> ParseYaml(const std::string& text) {
  YAML::Node root = YAML::Load(text);
  YamlWalker w("agent.yaml");
  ScrapeConfig c;
  Status st = ParseScrapeSection(w, root["scrape"], "scrape", &c);
  if (!st.ok()) return st;
  TIDEMARK_RETURN_IF_ERROR(ValidateScrapeConfig(c, "scrape", seconds(1)));
  return c;
}

TEST(ScrapeConfigTest, JobsInheritSectionOptionsWhereverTheyAppear) {
  auto c = ParseYaml(R"(
scrape:
  jobs:
    - job_name: web
      sample_limit: 10
      metrics_path: /m
      params: {format: [prom, x y], b: [c]}
      static_configs:
        - targets: ['127.0.0.1:9000', 'web:80']
          labels: {env: prod}
  scrape_interval: 5s
  honor_labels: true
  docker_sd: {enabled: true, network: ingress}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->jobs.size(), 1u);
  const ScrapeJob& j = c->jobs[0];
  EXPECT_EQ(j.options.interval, seconds(5));
  EXPECT_TRUE(j.options.honor_labels);
  EXPECT_EQ(j.options.sample_limit, 10u);
  EXPECT_EQ(c->docker_sd.options.interval, seconds(5));
  EXPECT_EQ(c->docker_sd.network, "ingress");
  EXPECT_TRUE(c->docker_sd.enabled);
  auto targets = BuildStaticTargets(*c, seconds(1));
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(Render(targets[1].labels), "env=prod,instance=web:80,job=web");
  EXPECT_EQ(targets[0].RequestTarget(), "/m?b=c&format=prom&format=x+y");
  EXPECT_EQ(targets[0].options.timeout, seconds(5));  // min(interval, 10s)
}

TEST(ScrapeConfigTest, DefaultsFollowTheAgentInterval) {
  auto c = ParseYaml("scrape:\n  jobs: [{job_name: a, static_configs: [{targets: ['h:1']}]}]\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto t = BuildStaticTargets(*c, milliseconds(1500));
  EXPECT_EQ(t.at(0).options.interval, milliseconds(1500));
  EXPECT_EQ(t.at(0).options.timeout, milliseconds(1500));
  EXPECT_EQ(t.at(0).options.sample_limit, 50000u);
  EXPECT_TRUE(t.at(0).options.honor_timestamps);
  EXPECT_EQ(BuildStaticTargets(*c, seconds(30)).at(0).options.timeout, seconds(10));
}

TEST(ScrapeConfigTest, RejectsBadValuesNamingTheKey) {
  auto unknown = ParseYaml("scrape:\n  jobs:\n    - job_name: a\n      targets: [x]\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("agent.yaml:4: scrape.jobs[0].targets: unknown key"),
            std::string::npos)
      << unknown.status().message();
  auto timeout =
      ParseYaml("scrape:\n  jobs: [{job_name: a, scrape_interval: 1s, scrape_timeout: 2s}]\n");
  ASSERT_FALSE(timeout.ok());
  EXPECT_NE(timeout.status().message().find("greater than scrape_interval"), std::string::npos);
  auto port = ParseYaml("scrape:\n  jobs: [{job_name: a, static_configs: [{targets: [h]}]}]\n");
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.status().message().find("must be HOST:PORT"), std::string::npos);
  auto dup = ParseYaml("scrape:\n  jobs: [{job_name: a}, {job_name: a}]\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("used twice"), std::string::npos);
  auto https = ParseYaml("scrape:\n  jobs: [{job_name: a, scheme: https}]\n");
  ASSERT_FALSE(https.ok());
  auto label = ParseYaml(
      "scrape:\n  jobs: [{job_name: a, static_configs: [{targets: ['h:1'], labels: "
      "{__x: y}}]}]\n");
  ASSERT_FALSE(label.ok());
}

TEST(ScrapeConfigTest, EmittedSectionParsesBackToTheSameTargets) {
  auto c = ParseYaml(R"(
scrape:
  sample_limit: 7
  jobs:
    - job_name: web
      params: {a: [b, "c d"]}
      static_configs: [{targets: ['127.0.0.1:9000'], labels: {env: prod}}]
)");
  ASSERT_TRUE(c.ok());
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "scrape" << YAML::Value;
  EmitScrapeSection(*c, seconds(1), &out);
  out << YAML::EndMap;
  auto again = ParseYaml(out.c_str());
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << out.c_str();
  auto a = BuildStaticTargets(*c, seconds(1));
  auto b = BuildStaticTargets(*again, seconds(1));
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a[0].Key(), b[0].Key());
  EXPECT_EQ(b[0].options.sample_limit, 7u);
  EXPECT_EQ(b[0].RequestTarget(), "/metrics?a=b&a=c+d");
}

// --- labels ---------------------------------------------------------------------------------

TEST(MergeTargetLabelsTest, ClashesBecomeExportedLabels) {
  Labels target = {{"instance", "h:1"}, {"job", "app"}};
  Labels s = {{"__name__", "m"}, {"exported_job", "x"}, {"instance", "i"}, {"job", "j"}};
  MergeTargetLabels(target, false, &s);
  EXPECT_EQ(Render(s),
            "__name__=m,exported_exported_job=j,exported_instance=i,exported_job=x,instance=h:1,"
            "job=app");
}

TEST(MergeTargetLabelsTest, HonorLabelsKeepsTheSeriesValues) {
  Labels target = {{"env", "prod"}, {"instance", "h:1"}, {"job", "app"}};
  Labels s = {{"__name__", "m"}, {"job", "j"}};
  MergeTargetLabels(target, true, &s);
  EXPECT_EQ(Render(s), "__name__=m,env=prod,instance=h:1,job=j");
}

// --- Docker discovery -------------------------------------------------------------------------

constexpr char kContainers[] = R"([
 {"Id":"aaaaaaaaaaaa1111","Names":["/web.1.x7f3"],"Image":"shop/web:2","State":"running",
  "Labels":{"prometheus.io/scrape":"true","prometheus.io/port":"8080",
            "com.docker.swarm.service.name":"web","com.docker.stack.namespace":"shop"},
  "HostConfig":{"NetworkMode":"default"},
  "Ports":[{"PrivatePort":8080,"Type":"tcp"}],
  "NetworkSettings":{"Networks":{"shop_net":{"IPAddress":"10.0.1.5"},
                                 "ingress":{"IPAddress":"10.255.0.7"}}}},
 {"Id":"bbbbbbbbbbbb2222","Names":["/api-1"],"Image":"api","State":"running",
  "Labels":{"prometheus.io.scrape":"true","prometheus.io.path":"/internal/metrics",
            "com.docker.compose.service":"api","com.docker.compose.project":"dev"},
  "Ports":[{"IP":"0.0.0.0","PrivatePort":9100,"PublicPort":32768,"Type":"tcp"}],
  "NetworkSettings":{"Networks":{"bridge":{"IPAddress":""}}}},
 {"Id":"cccccccccccc3333","Names":["/two-ports"],"Image":"x","State":"running",
  "Labels":{"prometheus.io/scrape":"true"},
  "Ports":[{"PrivatePort":80,"Type":"tcp"},{"PrivatePort":81,"Type":"tcp"}],
  "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.3"}}}},
 {"Id":"dddddddddddd4444","Names":["/quiet"],"Image":"x","State":"running",
  "Labels":{"prometheus.io/port":"80"},
  "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.4"}}}},
 {"Id":"eeeeeeeeeeee5555","Names":["/hostnet"],"Image":"x","State":"running",
  "Labels":{"prometheus.io/scrape":"true","prometheus.io/port":"9999",
            "prometheus.io/job":"node-app"},
  "HostConfig":{"NetworkMode":"host"},"NetworkSettings":{"Networks":{"host":{}}}},
 {"Id":"ffffffffffff6666","Names":["/bad-port"],"State":"running",
  "Labels":{"prometheus.io/scrape":"true","prometheus.io/port":"http"}},
 "junk", {"Names":["/no-id"]}
])";

TEST(DockerSdTest, BuildsTargetsFromContainerLabels) {
  auto containers = ParseDockerContainers(kContainers);
  ASSERT_TRUE(containers.ok()) << containers.status().ToString();
  EXPECT_EQ(containers->size(), 6u);
  DockerSdConfig cfg;
  DockerTargets got = BuildDockerTargets(*containers, cfg, seconds(1));
  ASSERT_EQ(got.targets.size(), 3u);
  // First network by name with an address: ingress.
  EXPECT_EQ(got.targets[0].address, "10.255.0.7:8080");
  EXPECT_EQ(Render(got.targets[0].labels),
            "container=web.1.x7f3,image=shop/web:2,instance=10.255.0.7:8080,job=web,service=web,"
            "stack=shop");
  EXPECT_EQ(got.targets[0].options.interval, seconds(1));
  // No IP: the published port; path and job from labels with dots.
  EXPECT_EQ(got.targets[1].address, "127.0.0.1:32768");
  EXPECT_EQ(got.targets[1].metrics_path, "/internal/metrics");
  EXPECT_EQ(got.targets[1].job, "api");
  EXPECT_EQ(GetLabel(got.targets[1].labels, "stack"), "dev");
  EXPECT_EQ(got.targets[2].address, "127.0.0.1:9999");
  EXPECT_EQ(got.targets[2].job, "node-app");
  ASSERT_EQ(got.skipped.size(), 2u);
  EXPECT_NE(got.skipped[0].find("two-ports: no prometheus.io/port label and 2 exposed TCP"),
            std::string::npos)
      << got.skipped[0];
  EXPECT_NE(got.skipped[1].find("bad-port"), std::string::npos);

  cfg.network = "shop_net";
  cfg.job = "fixed";
  got = BuildDockerTargets(*containers, cfg, seconds(1));
  EXPECT_EQ(got.targets[0].address, "10.0.1.5:8080");
  EXPECT_EQ(got.targets[0].job, "fixed");
}

TEST(DockerSdTest, RejectsNonArrays) {
  EXPECT_FALSE(ParseDockerContainers("{}").ok());
  EXPECT_FALSE(ParseDockerContainers("[{").ok());
  EXPECT_TRUE(ParseDockerContainers("[]").ok());
}

// --- one scrape -------------------------------------------------------------------------------

TEST(TargetScraperTest, WritesSamplesAndPrometheusReportSeries) {
  FakeStore store;
  TargetScraper ts(Target());
  ScrapeReport r =
      ts.Write(Body("# TYPE a counter\na_total{job=\"x\"} 3\nb 1.5 123\n"), 1000, 0.25, store);
  EXPECT_TRUE(r.up) << r.error.ToString();
  EXPECT_EQ(store.Last("__name__=a_total,exported_job=x,instance=10.0.0.1:8080,job=app"), 3);
  // Exposed timestamps are kept (honor_timestamps).
  ASSERT_EQ(store.series["__name__=b," + std::string(kT)].size(), 1u);
  EXPECT_EQ(store.series["__name__=b," + std::string(kT)][0].t, 123);
  EXPECT_EQ(store.Last("__name__=up," + std::string(kT)), 1);
  EXPECT_EQ(store.Last("__name__=scrape_duration_seconds," + std::string(kT)), 0.25);
  EXPECT_EQ(store.Last("__name__=scrape_samples_scraped," + std::string(kT)), 2);
  EXPECT_EQ(store.Last("__name__=scrape_samples_post_metric_relabeling," + std::string(kT)), 2);
  EXPECT_EQ(store.Last("__name__=scrape_series_added," + std::string(kT)), 2);
  r = ts.Write(Body("a_total{job=\"x\"} 4\nb 1.5 124\n"), 2000, 0.25, store);
  EXPECT_EQ(r.series_added, 0u);
  EXPECT_EQ(store.Last("__name__=scrape_series_added," + std::string(kT)), 0);
}

TEST(TargetScraperTest, VanishedSeriesGetStaleMarkersButTimestampedOnesDoNot) {
  FakeStore store;
  TargetScraper ts(Target());
  ASSERT_TRUE(ts.Write(Body("a 1\nb 2\nc 3 500\n"), 1000, 0, store).up);
  ScrapeReport r = ts.Write(Body("a 1\n"), 2000, 0, store);
  EXPECT_EQ(r.stale_markers, 1u);
  const auto& b = store.series["__name__=b," + std::string(kT)];
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1].t, 2000);
  EXPECT_TRUE(IsStale(b[1].v));
  EXPECT_EQ(store.series["__name__=c," + std::string(kT)].size(), 1u);
  // A series coming back is a new series again.
  r = ts.Write(Body("a 1\nb 5\n"), 3000, 0, store);
  EXPECT_EQ(r.series_added, 1u);
  EXPECT_EQ(store.Last("__name__=b," + std::string(kT)), 5);
}

TEST(TargetScraperTest, SampleLimitFailsTheWholeScrape) {
  ScrapeOptions o;
  o.sample_limit = 3;
  FakeStore store;
  TargetScraper ts(Target(o));
  ASSERT_TRUE(ts.Write(Body("a 1\n"), 1000, 0, store).up);
  ScrapeReport r = ts.Write(Body("a 1\nb 2\nc 3\nd 4\ne 5\n"), 2000, 0, store);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error.message(), "sample limit exceeded");
  EXPECT_EQ(r.samples_scraped, 5u);  // Prometheus counts them all.
  EXPECT_EQ(store.series.count("__name__=b," + std::string(kT)), 0u);
  EXPECT_TRUE(IsStale(store.Last("__name__=a," + std::string(kT))));
  EXPECT_EQ(store.Last("__name__=up," + std::string(kT)), 0);
  EXPECT_EQ(store.Last("__name__=scrape_samples_scraped," + std::string(kT)), 5);
  // Exactly at the limit is fine.
  EXPECT_TRUE(ts.Write(Body("a 1\nb 2\nc 3\n"), 3000, 0, store).up);
}

TEST(TargetScraperTest, LabelLimitsFailTheScrape) {
  ScrapeOptions o;
  o.label_limit = 3;  // __name__, instance, job
  TargetScraper ts(Target(o));
  FakeStore store;
  EXPECT_TRUE(ts.Write(Body("a 1\n"), 1000, 0, store).up);
  ScrapeReport r = ts.Write(Body("a{x=\"1\"} 1\n"), 2000, 0, store);
  EXPECT_FALSE(r.up);
  EXPECT_NE(r.error.message().find("label_limit exceeded"), std::string::npos);
  ScrapeOptions v;
  v.label_value_length_limit = 4;
  TargetScraper tv(Target(v));
  r = tv.Write(Body("a{x=\"12345\"} 1\n"), 1000, 0, store);
  EXPECT_FALSE(r.up);
  EXPECT_NE(r.error.message().find("label_value_length_limit exceeded"), std::string::npos);
}

TEST(TargetScraperTest, FailedFetchIsUpZeroAndStalesEverything) {
  FakeStore store;
  TargetScraper ts(Target());
  ASSERT_TRUE(ts.Write(Body("a 1\n"), 1000, 0, store).up);
  ScrapeReport r = ts.Write(Status::Unavailable("connection refused"), 2000, 0.1, store);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.stale_markers, 1u);
  EXPECT_EQ(store.Last("__name__=up," + std::string(kT)), 0);
  EXPECT_EQ(store.Last("__name__=scrape_samples_scraped," + std::string(kT)), 0);
  Result<uint64_t> eor = ts.WriteEndOfRun(3000, store);
  ASSERT_TRUE(eor.ok());
  EXPECT_EQ(*eor, 5u);  // The report series only: the samples are already stale.
  EXPECT_TRUE(IsStale(store.Last("__name__=up," + std::string(kT))));
}

TEST(TargetScraperTest, FormatFollowsTheContentType) {
  FakeStore store;
  TargetScraper ts(Target());
  const std::string om = "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\n";
  EXPECT_TRUE(
      ts.Write(Body(om + "# EOF\n", "application/openmetrics-text; version=1.0.0"), 1000, 0, store)
          .up);
  EXPECT_EQ(store.Last("__name__=h_bucket," + std::string(kT) + ",le=+Inf"), 3);
  // OpenMetrics without # EOF is rejected, as by Prometheus; text accepts the same lines.
  EXPECT_FALSE(ts.Write(Body(om, "application/openmetrics-text"), 2000, 0, store).up);
  EXPECT_TRUE(ts.Write(Body(om, "text/plain"), 3000, 0, store).up);
  EXPECT_TRUE(IsOpenMetricsContentType("Application/OpenMetrics-Text ;version=0.0.1"));
  EXPECT_FALSE(IsOpenMetricsContentType("text/plain;version=0.0.4"));
}

TEST(TargetScraperTest, CommitFailureIsReportedAndRecovered) {
  FakeStore store;
  TargetScraper ts(Target());
  store.fail_commit = true;
  ScrapeReport r = ts.Write(Body("a 1\n"), 1000, 0, store);
  EXPECT_EQ(r.error.code(), StatusCode::kIoError);
  store.fail_commit = false;
  EXPECT_TRUE(ts.Write(Body("a 2\n"), 2000, 0, store).up);
  EXPECT_EQ(store.Last("__name__=a," + std::string(kT)), 2);
}

TEST(TargetScraperTest, GarbageBodiesNeverCrash) {
  std::mt19937 rng(42);
  const std::string valid =
      "# HELP x y\n# TYPE h histogram\nh_bucket{le=\"0.1\",path=\"/a\\\"b\"} 1\nh_sum 2.5\n"
      "h_count 3\nx{a=\"b\",} NaN\ny -Inf 1700000000000\n# EOF\n";
  FakeStore store;
  ScrapeOptions o;
  o.sample_limit = 5;
  TargetScraper ts(Target(o));
  int64_t t = 1000;
  int up = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string body = valid;
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations && !body.empty(); ++m) {
      size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0:
          body[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          body.erase(at, rng() % 8);
          break;
        case 2:
          body.insert(at, std::string(1 + rng() % 3, "{}\"=,\\\n #"[rng() % 10]));
          break;
        default:
          body.resize(at);
      }
    }
    const char* ct = i % 2 == 0 ? "text/plain" : "application/openmetrics-text";
    ScrapeReport r = ts.Write(Body(body, ct), t += 1000, 0, store);
    up += r.up ? 1 : 0;
    EXPECT_EQ(r.up, r.error.ok());
    if (!r.up) {
      EXPECT_FALSE(r.error.message().empty());
    }
  }
  // Some mutations leave a valid exposition; most do not.
  EXPECT_GT(up, 0);
  EXPECT_LT(up, 3000);
  EXPECT_FALSE(ts.Write(Body(std::string("\0\xff\xfe", 3)), t += 1000, 0, store).up);
  EXPECT_FALSE(ts.Write(Body("a{b=\"\xff\xfe\"} 1\n"), t += 1000, 0, store).up);
}

// --- scheduling -------------------------------------------------------------------------------

TEST(ScrapeScheduleTest, SlotsKeepTheTargetsOffset) {
  const int64_t off = ScrapeOffsetMs("some-target", seconds(1));
  EXPECT_GE(off, 0);
  EXPECT_LT(off, 1000);
  EXPECT_EQ(off, ScrapeOffsetMs("some-target", seconds(1)));
  EXPECT_EQ(NextScrapeSlotMs(10'000, 250, seconds(1)), 10'250);
  EXPECT_EQ(NextScrapeSlotMs(10'250, 250, seconds(1)), 11'250);
  EXPECT_EQ(NextScrapeSlotMs(10'300, 250, seconds(1)), 11'250);
}

class FakeFetcher final : public ScrapeFetcher {
 public:
  Result<ScrapeResponse> Fetch(const ScrapeTarget& t) override {
    ++calls[t.address];
    auto it = bodies.find(t.address);
    if (it == bodies.end()) return Status::Unavailable("connection refused");
    return ScrapeResponse{it->second, "text/plain"};
  }
  std::map<std::string, std::string> bodies;
  std::map<std::string, int> calls;
};

TEST(ScraperTest, ScrapesEachTargetAtItsSlotAndStalesRemovedOnes) {
  testing::FakeClock clock;  // 1700000000 s: a whole second.
  FakeStore store;
  FakeFetcher fetcher;
  fetcher.bodies["10.0.0.1:8080"] = "a 1\n";
  Scraper scraper(clock, store, fetcher);
  ScrapeTarget t = Target();
  const int64_t off = ScrapeOffsetMs(t.Key(), seconds(1));
  const int64_t first = NextScrapeSlotMs(1'700'000'000'000, off, seconds(1));
  scraper.SetTargets({t});
  clock.Set(std::chrono::system_clock::time_point(milliseconds(first - 1)));
  EXPECT_EQ(scraper.RunDue(), 0u);
  clock.Set(std::chrono::system_clock::time_point(milliseconds(first)));
  EXPECT_EQ(scraper.RunDue(), 1u);
  EXPECT_EQ(scraper.RunDue(), 0u);  // Not again in the same slot.
  clock.Advance(seconds(1));
  EXPECT_EQ(scraper.RunDue(), 1u);
  ASSERT_EQ(store.series["__name__=a," + std::string(kT)].size(), 2u);
  EXPECT_EQ(store.series["__name__=a," + std::string(kT)][1].t, first + 1000);
  auto status = scraper.Targets();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].up);
  EXPECT_EQ(status[0].scrapes, 2u);
  EXPECT_EQ(scraper.Totals()["app"].scrapes, 2u);

  // Removed: markers stamped at the next slot, written 1.1 intervals after it.
  scraper.SetTargets({});
  EXPECT_TRUE(scraper.Targets().empty());
  clock.Advance(seconds(2));
  EXPECT_EQ(scraper.RunDue(), 0u);
  clock.Advance(milliseconds(100));
  EXPECT_EQ(scraper.RunDue(), 1u);
  const auto& a = store.series["__name__=a," + std::string(kT)];
  EXPECT_TRUE(IsStale(a.back().v));
  EXPECT_EQ(a.back().t, first + 2000);
  EXPECT_TRUE(IsStale(store.Last("__name__=up," + std::string(kT))));
  EXPECT_EQ(scraper.stale_markers(), 6u);
  EXPECT_EQ(fetcher.calls["10.0.0.1:8080"], 2);
}

TEST(ScraperTest, WallClockSteppingBackDoesNotPauseScrapes) {
  testing::FakeClock clock;
  FakeStore store;
  FakeFetcher fetcher;
  Scraper scraper(clock, store, fetcher);
  scraper.SetTargets({Target()});
  clock.Advance(seconds(1));
  EXPECT_EQ(scraper.RunDue(), 1u);
  clock.Advance(-std::chrono::hours(1));
  EXPECT_EQ(scraper.RunDue(), 0u);  // Rescheduled within the next interval.
  clock.Advance(seconds(1));
  EXPECT_EQ(scraper.RunDue(), 1u);
}

TEST(ScraperTest, TargetBackBeforeItsMarkersCarriesOn) {
  testing::FakeClock clock;
  FakeStore store;
  FakeFetcher fetcher;
  fetcher.bodies["10.0.0.1:8080"] = "a 1\n";
  Scraper scraper(clock, store, fetcher);
  scraper.SetTargets({Target()});
  clock.Advance(seconds(1));
  EXPECT_EQ(scraper.RunDue(), 1u);
  scraper.SetTargets({});
  scraper.SetTargets({Target()});
  for (int i = 0; i < 5; ++i) {
    clock.Advance(seconds(1));
    EXPECT_EQ(scraper.RunDue(), 1u);
  }
  EXPECT_EQ(scraper.stale_markers(), 0u);
  EXPECT_EQ(scraper.Totals()["app"].failures, 0u);
}

// Counts fetches and lets a waiter block until a number is reached.
class CountingFetcher final : public ScrapeFetcher {
 public:
  Result<ScrapeResponse> Fetch(const ScrapeTarget&) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    cv_.notify_all();
    return ScrapeResponse{"a 1\n", "text/plain"};
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(60), [&] { return calls_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
};

TEST(ScraperTest, ThreadedRunScrapesAndStops) {
  // The real scheduler and workers on the system clock; asserts on what ran, not on timing.
  FakeStore store;
  CountingFetcher fetcher;
  Scraper scraper(SystemClock::Instance(), store, fetcher, ScraperOptions{.workers = 2});
  ScrapeOptions o;
  o.interval = milliseconds(100);
  scraper.SetTargets({Target(o)});
  scraper.Start();
  EXPECT_TRUE(fetcher.WaitFor(3));
  scraper.Stop();
  const auto totals = scraper.Totals();
  EXPECT_GE(totals.at("app").scrapes, 3u);
  EXPECT_EQ(totals.at("app").failures, 0u);
  EXPECT_EQ(store.Last("__name__=a," + std::string(kT)), 1);
}

}  // namespace
}  // namespace tidemark::collector
