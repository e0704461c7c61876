#include "agent/oom_alerts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/file_util.h"
#include "tests/testing/testing.h"

namespace tidemark::agent {
namespace {

using alerting::Alert;
using std::chrono::minutes;

class RecordingSink final : public alerting::AlertSink {
 public:
  void Send(std::vector<Alert> alerts) override {
    for (Alert& a : alerts) sent.push_back(std::move(a));
  }
  std::vector<Alert> sent;
};

int64_t Ms(const testing::FakeClock& clock) { return ToUnixMillis(clock.Now()); }

class OomAlertsTest : public ::testing::Test {
 protected:
  OomAlertsTest() : path_(dir_.path() + "/oom_alerts.json") {
    event_.time_ms = Ms(clock_);
    event_.container = {{"id", "/docker/abc"}, {"name", "cart"}};
    event_.pid = 42;
    event_.comm = "dd";
    event_.source = "ebpf";
  }
  std::unique_ptr<OomAlerts> Make() {
    return std::make_unique<OomAlerts>(&sink_, nullptr, clock_, minutes(5), "", path_);
  }
  // The firing alerts' kill counts.
  static std::vector<double> Kills(const OomAlerts& a) {
    std::vector<double> out;
    for (const auto& alert : a.Snapshot().rules[0].alerts) out.push_back(alert.value);
    return out;
  }

  testing::TempDir dir_;
  const std::string path_;
  testing::FakeClock clock_;
  RecordingSink sink_;
  OomEvent event_;
};

// The tick after a kill writes the state (what a kill -9 leaves); a new instance restores the
// alert with its start and kills, re-sends it as firing and merges a later kill into it.
TEST_F(OomAlertsTest, TheTickAfterAKillSavesWhatARestartRestores) {
  auto before = Make();
  before->OnEvent(event_);
  EXPECT_FALSE(PathExists(path_));  // Not on the event's thread.
  before->Tick();
  ASSERT_TRUE(PathExists(path_));
  const int64_t started = Ms(clock_);

  clock_.Advance(minutes(1));
  sink_.sent.clear();
  auto after = Make();  // `before` never detached: as after a crash.
  EXPECT_EQ(Kills(*after), std::vector<double>{1});
  EXPECT_EQ(after->Snapshot().rules[0].alerts[0].active_at_ms, started);
  after->Tick();
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_FALSE(sink_.sent[0].resolved());
  EXPECT_EQ(sink_.sent[0].starts_at_ms, started);
  EXPECT_EQ(GetLabel(sink_.sent[0].annotations, "comm"), "dd");

  event_.time_ms = Ms(clock_);
  after->OnEvent(event_);
  EXPECT_EQ(Kills(*after), std::vector<double>{2});
  EXPECT_EQ(after->Snapshot().rules[0].alerts[0].active_at_ms, started);
}

// An alert whose resolve_after passed while the agent was down ends at its last kill +
// resolve_after, not at the restart, and is sent resolved at least once even when that is
// longer ago than the 15 m resolved retention.
TEST_F(OomAlertsTest, AnAlertThatExpiredDuringTheDowntimeEndsWhenItShouldHave) {
  const int64_t kill = Ms(clock_);
  {
    auto a = Make();
    a->OnEvent(event_);
    a->Detach();
  }
  for (auto downtime : {minutes(10), minutes(30)}) {
    SCOPED_TRACE(downtime.count());
    ASSERT_TRUE(PathExists(path_));
    testing::FakeClock later;
    later.Set(clock_.Now() + downtime);
    RecordingSink sink;
    // The same saved state, restored by an instance whose clock is `downtime` later.
    ASSERT_TRUE(WriteFileAtomically(dir_.path() + "/copy.json", *ReadFile(path_)).ok());
    OomAlerts restored(&sink, nullptr, later, minutes(5), "", dir_.path() + "/copy.json");
    restored.Tick();
    ASSERT_EQ(sink.sent.size(), 1u);
    EXPECT_EQ(sink.sent[0].ends_at_ms, kill + 5 * 60 * 1000);
    EXPECT_TRUE(restored.Snapshot().rules[0].alerts.empty());
    sink.sent.clear();
    later.Advance(std::chrono::seconds(1));
    restored.Tick();
    EXPECT_EQ(sink.sent.size(), downtime == minutes(10) ? 1u : 0u);  // Retention: 15 m.
  }
}

// The kernel cuts a command name at 15 bytes, possibly inside a UTF-8 character: the state is
// still written (the byte replaced), and neither the tick nor Detach throws.
TEST_F(OomAlertsTest, ACommandNameCutInsideAUtf8CharacterIsSaved) {
  auto a = Make();
  event_.comm = "processus-donn\xc3";
  a->OnEvent(event_);
  EXPECT_NO_THROW(a->Tick());
  ASSERT_TRUE(PathExists(path_));
  nlohmann::json saved = nlohmann::json::parse(*ReadFile(path_));
  EXPECT_EQ(saved["active"][0]["annotations"]["comm"], "processus-donn\xef\xbf\xbd");
  event_.container = {{"id", "/docker/def"}, {"name", "other"}};
  a->OnEvent(event_);
  EXPECT_NO_THROW(a->Detach());
  EXPECT_EQ(nlohmann::json::parse(*ReadFile(path_))["active"].size(), 2u);
}

// Times later than now (a clock set back since the save) count as now: the alert still
// resolves resolve_after later instead of firing for as long as the bad time says.
TEST_F(OomAlertsTest, FutureTimesInTheStateCountAsNow) {
  auto a = Make();
  a->OnEvent(event_);
  a->Detach();
  nlohmann::json doc = nlohmann::json::parse(*ReadFile(path_));
  doc["active"][0]["last_kill_ms"] = Ms(clock_) + 365LL * 24 * 3600 * 1000;
  doc["active"][0]["starts_at_ms"] = Ms(clock_) + 365LL * 24 * 3600 * 1000;
  ASSERT_TRUE(WriteFileAtomically(path_, doc.dump()).ok());
  auto b = Make();
  ASSERT_EQ(Kills(*b), std::vector<double>{1});
  EXPECT_EQ(b->Snapshot().rules[0].alerts[0].active_at_ms, Ms(clock_));
  clock_.Advance(minutes(5));
  b->Tick();
  EXPECT_TRUE(b->Snapshot().rules[0].alerts.empty());
}

// Anything but a well-formed state of OOM alerts is set aside as .bad, and nothing restored.
TEST_F(OomAlertsTest, AnUnusableStateIsSetAsideNotRestored) {
  auto good = Make();
  good->OnEvent(event_);
  good->Detach();
  const nlohmann::json base = nlohmann::json::parse(*ReadFile(path_));
  auto with = [&](const char* key, nlohmann::json value) {
    nlohmann::json d = base;
    d["active"][0][key] = std::move(value);
    return d.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not JSON", "{not json"},
      {"an array", "[]"},
      {"version 2", R"({"version":2,"active":[],"resolved":[]})"},
      {"no resolved list", R"({"version":1,"active":[]})"},
      {"alerts in an object", R"({"version":1,"active":{},"resolved":[]})"},
      {"labels as an array", with("labels", nlohmann::json::array({"a", "b"}))},
      {"a label that is a number",
       with("labels", {{"alertname", "ContainerOOMKilled"}, {"pid", 42}})},
      {"not an OOM alert", with("labels", {{"alertname", "Other"}})},
      {"negative kills", with("kills", -1)},
      {"no kills", with("kills", 0)},
      {"a float time", with("last_kill_ms", 1e300)},
      {"a time past int64", with("starts_at_ms", 18446744073709551615ULL)},
      {"a firing alert with an end", with("ends_at_ms", 5)},
      {"over 16 MiB", std::string(16 * 1024 * 1024 + 1, ' ')},
  };
  for (const auto& [what, text] : cases) {
    SCOPED_TRACE(what);
    dir_.WriteFile("oom_alerts.json", text);
    auto a = Make();
    EXPECT_TRUE(a->Snapshot().rules[0].alerts.empty());
    EXPECT_FALSE(PathExists(path_));
    Result<std::string> aside = ReadFile(path_ + ".bad");
    ASSERT_TRUE(aside.ok());
    EXPECT_EQ(aside->size(), text.size());
  }
}

}  // namespace
}  // namespace tidemark::agent
