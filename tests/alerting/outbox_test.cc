#include "alerting/outbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "tests/testing/testing.h"

namespace tidemark::alerting {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::TempDir;

OutboxEntry MakeEntry(std::string key, std::string receiver = "hook") {
  OutboxEntry e;
  e.key = key;
  e.receiver = std::move(receiver);
  e.url = "http://127.0.0.1:1/x";
  e.body = "{\"k\":\"" + key + "\"}";
  return e;
}

class OutboxTest : public ::testing::Test {
 protected:
  std::unique_ptr<Outbox> Open(OutboxDeliverer d, size_t max_entries = 100) {
    OutboxOptions o;
    o.dir = dir_.path() + "/outbox";
    o.max_entries = max_entries;
    o.jitter = 0;
    auto box = Outbox::Open(o, clock_, std::move(d));
    EXPECT_TRUE(box.ok()) << box.status().ToString();
    return std::move(box).value();
  }
  static DeliveryResult Ok(const OutboxEntry&) { return {DeliveryOutcome::kDelivered, ""}; }
  static DeliveryResult Down(const OutboxEntry&) {
    return {DeliveryOutcome::kRetry, "connection refused"};
  }
  TempDir dir_;
  FakeClock clock_;
};

TEST_F(OutboxTest, WrittenBeforeSendingAndDeletedAfterSuccess) {
  std::vector<std::string> seen;
  auto box = Open([&](const OutboxEntry& e) {
    seen.push_back(e.body);
    return Ok(e);
  });
  ASSERT_TRUE(box->Enqueue(MakeEntry("a")).ok());
  EXPECT_EQ(box->size(), 1u);
  EXPECT_EQ(box->ProcessDue(), 1u);
  EXPECT_EQ(seen, (std::vector<std::string>{"{\"k\":\"a\"}"}));
  EXPECT_EQ(box->size(), 0u);
  EXPECT_EQ(box->Stats()["hook"].sent, 1u);
  box.reset();
  auto again = Open(Ok);
  EXPECT_EQ(again->size(), 0u);  // deleted on disk too
}

TEST_F(OutboxTest, BackoffDoublesUpToTheCap) {
  std::vector<int64_t> attempts;
  auto box = Open([&](const OutboxEntry& e) {
    attempts.push_back(ToUnixMillis(clock_.Now()));
    return Down(e);
  });
  const int64_t t0 = ToUnixMillis(clock_.Now());
  ASSERT_TRUE(box->Enqueue(MakeEntry("a")).ok());
  // Step the clock by 500 ms for 40 simulated minutes.
  for (int i = 0; i < 4800; ++i) {
    box->ProcessDue();
    clock_.Advance(milliseconds(500));
  }
  ASSERT_GE(attempts.size(), 12u);
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < attempts.size(); ++i) gaps.push_back(attempts[i] - attempts[i - 1]);
  EXPECT_EQ(attempts[0], t0);
  std::vector<int64_t> want = {1000,  2000,   4000,   8000,   16000, 32000,
                               64000, 128000, 256000, 300000, 300000};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(gaps[i], want[i]) << i;
  auto st = box->Stats()["hook"];
  EXPECT_EQ(st.failed, attempts.size());
  EXPECT_EQ(st.last_error, "connection refused");
  EXPECT_EQ(box->size(), 1u);
}

TEST_F(OutboxTest, JitterOnlyShortensDelays) {
  OutboxOptions o;
  o.dir = dir_.path() + "/j";
  o.jitter = 0.2;
  std::vector<int64_t> attempts;
  auto box = Outbox::Open(o, clock_, [&](const OutboxEntry& e) {
    attempts.push_back(ToUnixMillis(clock_.Now()));
    return Down(e);
  });
  ASSERT_TRUE(box.ok());
  ASSERT_TRUE((*box)->Enqueue(MakeEntry("a")).ok());
  for (int i = 0; i < 2000; ++i) {
    (*box)->ProcessDue();
    clock_.Advance(milliseconds(10));
  }
  ASSERT_GE(attempts.size(), 4u);
  int64_t nominal = 1000;
  for (size_t i = 1; i < 4; ++i, nominal *= 2) {
    int64_t gap = attempts[i] - attempts[i - 1];
    EXPECT_LE(gap, nominal + 10);
    EXPECT_GE(gap, nominal * 8 / 10);
  }
}

TEST_F(OutboxTest, PendingEntriesSurviveReopen) {
  {
    auto box = Open(Down);
    for (std::string k : {"a", "b", "c"}) ASSERT_TRUE(box->Enqueue(MakeEntry(k)).ok());
    // The first failure marks the receiver down: b and c wait for its backoff.
    EXPECT_EQ(box->ProcessDue(), 1u);
    EXPECT_EQ(box->size(), 3u);
  }
  std::vector<OutboxEntry> seen;
  auto box = Open([&](const OutboxEntry& e) {
    seen.push_back(e);
    return Ok(e);
  });
  EXPECT_EQ(box->size(), 3u);
  EXPECT_EQ(box->Stats()["hook"].pending, 3u);
  EXPECT_EQ(box->ProcessDue(), 3u);  // due at once, not after the backoff
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].key, "a");
  EXPECT_EQ(seen[2].key, "c");
  EXPECT_EQ(seen[0].attempts, 1u);
  EXPECT_EQ(seen[1].attempts, 0u);
  EXPECT_EQ(seen[0].last_error, "connection refused");
  EXPECT_EQ(box->size(), 0u);
}

TEST_F(OutboxTest, BoundedSizeDropsOldest) {
  auto box = Open(Down, /*max_entries=*/3);
  for (std::string k : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(box->Enqueue(MakeEntry(k)).ok());
  auto pending = box->Pending();
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].key, "c");
  EXPECT_EQ(pending[2].key, "e");
  auto st = box->Stats()["hook"];
  EXPECT_EQ(st.dropped, 2u);
  EXPECT_EQ(st.pending, 3u);
  EXPECT_NE(st.last_error.find("outbox full"), std::string::npos);
  box.reset();
  EXPECT_EQ(Open(Down, 3)->size(), 3u);  // the drops reached the disk
}

TEST_F(OutboxTest, ClientErrorsAreDroppedNotRetried) {
  int calls = 0;
  auto box = Open([&](const OutboxEntry&) {
    ++calls;
    return DeliveryResult{DeliveryOutcome::kDrop, "HTTP 400: bad alert"};
  });
  ASSERT_TRUE(box->Enqueue(MakeEntry("a")).ok());
  box->ProcessDue();
  clock_.Advance(seconds(10));
  box->ProcessDue();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(box->size(), 0u);
  auto st = box->Stats()["hook"];
  EXPECT_EQ(st.dropped, 1u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_NE(st.last_error.find("HTTP 400"), std::string::npos);
}

TEST_F(OutboxTest, SameKeyReplacesPendingEntry) {
  auto box = Open(Down);
  OutboxEntry a = MakeEntry("k");
  ASSERT_TRUE(box->Enqueue(a).ok());
  a.body = "newer";
  ASSERT_TRUE(box->Enqueue(a).ok());
  auto pending = box->Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].body, "newer");
  EXPECT_EQ(box->Stats()["hook"].pending, 1u);
}

TEST_F(OutboxTest, TooOldEntriesAreDropped) {
  auto box = Open(Down);
  ASSERT_TRUE(box->Enqueue(MakeEntry("a")).ok());
  box->ProcessDue();
  clock_.Advance(std::chrono::hours(25));
  box->ProcessDue();
  EXPECT_EQ(box->size(), 0u);
  EXPECT_EQ(box->Stats()["hook"].dropped, 1u);
}

TEST_F(OutboxTest, SlowReceiverDoesNotHoldUpOthers) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> fast_sent{0};
  auto box = Open([&](const OutboxEntry& e) {
    if (e.receiver == "slow") released.wait();
    if (e.receiver == "fast") fast_sent++;
    return Ok(e);
  });
  box->Start();
  ASSERT_TRUE(box->Enqueue(MakeEntry("s", "slow")).ok());
  ASSERT_TRUE(box->Enqueue(MakeEntry("f", "fast")).ok());
  // Condition wait (no timing assumption): the fast lane delivers while the slow one is stuck.
  while (fast_sent.load() == 0) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(box->size(), 1u);
  release.set_value();
  while (box->size() != 0) std::this_thread::sleep_for(milliseconds(5));
  box->Stop();
  EXPECT_EQ(box->Stats()["slow"].sent, 1u);
}

TEST_F(OutboxTest, OpenFailsClearlyOnBadDirectory) {
  OutboxOptions o;
  o.dir = "/proc/version/outbox";
  auto box = Outbox::Open(o, clock_, Ok);
  ASSERT_FALSE(box.ok());
  EXPECT_NE(box.status().message().find("/proc/version/outbox"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::alerting
