#include "agent/remote_write.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/testing.h"

namespace tidemark::agent {
namespace {

using tidemark::testing::FakeClock;
using tidemark::testing::TempDir;

constexpr int64_t kT0 = 1700000000000;

// A minimal protobuf and snappy encoder for building requests by hand.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string Key(uint32_t field, int wire_type) { return Varint(field << 3 | wire_type); }
std::string Len(uint32_t field, const std::string& bytes) {
  return Key(field, 2) + Varint(bytes.size()) + bytes;
}
std::string Fixed64(uint64_t bits) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(bits >> (8 * i));
  return out;
}
std::string LabelMsg(const std::string& name, const std::string& value) {
  return Len(1, name) + Len(2, value);
}
std::string SampleMsg(double v, int64_t t) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return Key(1, 1) + Fixed64(bits) + Key(2, 0) + Varint(static_cast<uint64_t>(t));
}
std::string SeriesMsg(const std::vector<std::pair<std::string, std::string>>& labels,
                      const std::vector<std::pair<int64_t, double>>& samples,
                      const std::string& extra = "") {
  std::string out;
  for (const auto& [n, v] : labels) out += Len(1, LabelMsg(n, v));
  for (const auto& [t, v] : samples) out += Len(2, SampleMsg(v, t));
  return out + extra;
}
std::string Request(const std::vector<std::string>& series, const std::string& extra = "") {
  std::string out;
  for (const std::string& s : series) out += Len(1, s);
  return out + extra;
}
// Snappy block format made only of literals: valid, if uncompressed.
std::string Snappy(const std::string& data) {
  std::string out = Varint(data.size());
  for (size_t i = 0; i < data.size(); i += 65536) {
    const std::string chunk = data.substr(i, 65536);
    const size_t n = chunk.size() - 1;
    if (n < 60) {
      out += static_cast<char>(n << 2);
    } else {
      out += static_cast<char>(61 << 2);
      out += static_cast<char>(n & 0xff);
      out += static_cast<char>(n >> 8);
    }
    out += chunk;
  }
  return out;
}

HttpRequest Post(std::string encoding = "snappy") {
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/v1/write";
  if (!encoding.empty()) r.headers.emplace_back("Content-Encoding", encoding);
  r.headers.emplace_back("Content-Type", "application/x-protobuf");
  return r;
}

class RemoteWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::DbOptions o;
    o.dir = dir_.path() + "/db";
    o.min_free_bytes = 0;
    auto db = tsdb::Db::Open(o, clock_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }
  RemoteWriteResponse Write(const std::string& proto) {
    return HandleRemoteWrite(Snappy(proto), Post(), db_.get());
  }
  // Samples of the series named `name`, with their labels, from the store.
  std::vector<std::pair<int64_t, double>> Read(const std::string& name, Labels* labels = nullptr) {
    tsdb::Matcher m[] = {*tsdb::Matcher::Create(tsdb::MatchType::kEqual, "__name__", name)};
    auto sel = db_->Select(m, -kT0, kT0 * 2);
    EXPECT_TRUE(sel.ok());
    std::vector<std::pair<int64_t, double>> out;
    if (!sel.ok() || sel->empty()) return out;
    EXPECT_EQ(sel->size(), 1u);
    if (labels != nullptr) *labels = (*sel)[0].labels;
    auto it = (*sel)[0].Iterate();
    while (it->Next()) out.emplace_back(it->t(), it->v());
    return out;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<tsdb::Db> db_;
};

TEST_F(RemoteWriteTest, StoresSamplesWithSortedLabelsAndAnswers204) {
  auto r = Write(Request({SeriesMsg({{"job", "a"}, {"__name__", "up"}, {"instance", "i:1"}},
                                    {{kT0, 1}, {kT0 + 15000, 0.5}})}));
  EXPECT_EQ(r.status, 204) << r.message;
  EXPECT_EQ(r.samples_accepted, 2u);
  Labels labels;
  auto got = Read("up", &labels);
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, double>>{{kT0, 1}, {kT0 + 15000, 0.5}}));
  EXPECT_EQ(labels, (Labels{{"__name__", "up"}, {"instance", "i:1"}, {"job", "a"}}));
}

TEST_F(RemoteWriteTest, EmptyRequestIsSuccess) { EXPECT_EQ(Write("").status, 204); }

TEST_F(RemoteWriteTest, SkipsUnknownFieldsOfEveryMessage) {
  // WriteRequest.metadata = 3; TimeSeries.exemplars = 3, histograms = 4; unknown varint, fixed32
  // and fixed64 fields inside Label and Sample.
  std::string label = LabelMsg("__name__", "m") + Key(7, 0) + Varint(300);
  std::string sample = SampleMsg(2.5, kT0) + Key(9, 5) + "abcd" + Key(10, 1) + Fixed64(7);
  std::string series =
      Len(1, label) + Len(2, sample) + Len(3, "exemplar-bytes") + Len(4, std::string(40, 'h'));
  std::string metadata = Len(3, Key(1, 0) + Varint(1) + Len(2, "m") + Len(4, "help"));
  auto r = Write(Request({series}, metadata));
  EXPECT_EQ(r.status, 204) << r.message;
  EXPECT_EQ(Read("m"), (std::vector<std::pair<int64_t, double>>{{kT0, 2.5}}));
}

TEST_F(RemoteWriteTest, StaleMarkerBitPatternReachesTheStore) {
  auto r =
      Write(Request({SeriesMsg({{"__name__", "s"}}, {{kT0, 1}, {kT0 + 15000, tsdb::StaleNaN()}})}));
  ASSERT_EQ(r.status, 204) << r.message;
  auto got = Read("s");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(tsdb::IsStaleNaN(got[1].second));
  // An ordinary NaN stays an ordinary NaN.
  ASSERT_EQ(Write(Request({SeriesMsg({{"__name__", "n"}}, {{kT0, std::nan("")}})})).status, 204);
  auto nan = Read("n");
  ASSERT_EQ(nan.size(), 1u);
  EXPECT_TRUE(std::isnan(nan[0].second));
  EXPECT_FALSE(tsdb::IsStaleNaN(nan[0].second));
}

TEST_F(RemoteWriteTest, NegativeTimestampsDecode) {
  ASSERT_EQ(Write(Request({SeriesMsg({{"__name__", "neg"}}, {{-15000, 3}})})).status, 204);
  EXPECT_EQ(Read("neg"), (std::vector<std::pair<int64_t, double>>{{-15000, 3}}));
}

TEST_F(RemoteWriteTest, GarbageAndTruncatedBodiesAre400) {
  EXPECT_EQ(HandleRemoteWrite("\xff\xff\xff\xff garbage", Post(), db_.get()).status, 400);
  EXPECT_EQ(HandleRemoteWrite("", Post(), db_.get()).status, 400);
  const std::string good =
      Request({SeriesMsg({{"__name__", "t"}, {"job", "x"}}, {{kT0, 1}, {kT0 + 1, 2}})});
  // Every proper prefix cuts the one TimeSeries short, so every one is rejected.
  for (size_t n = 1; n < good.size(); ++n) EXPECT_EQ(Write(good.substr(0, n)).status, 400) << n;
  // A length that runs past the end, an over-long varint, a group, a field number 0.
  EXPECT_EQ(Write(Key(1, 2) + Varint(1000) + "x").status, 400);
  EXPECT_EQ(Write(Key(1, 0) + std::string(11, '\xff')).status, 400);
  EXPECT_EQ(Write(Key(5, 3)).status, 400);
  EXPECT_EQ(Write(std::string("\x02\x00", 2)).status, 400);
  // The right field with the wrong wire type.
  EXPECT_EQ(Write(Key(1, 0) + Varint(1)).status, 400);
  EXPECT_EQ(Write(Len(1, Key(2, 0) + Varint(5))).status, 400);
  // A snappy body whose compressed literal is shorter than announced.
  std::string cut = Snappy(good);
  EXPECT_EQ(HandleRemoteWrite(cut.substr(0, cut.size() - 1), Post(), db_.get()).status, 400);
  EXPECT_TRUE(Read("t").empty());
}

TEST_F(RemoteWriteTest, DecompressedSizeIsCappedBeforeAllocating) {
  // Announces 1 GiB; only the header is present.
  auto r = HandleRemoteWrite(Varint(1u << 30) + std::string("\x00", 1), Post(), db_.get());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.message.find("exceeds the limit"), std::string::npos) << r.message;
  RemoteWriteOptions small;
  small.max_decompressed_bytes = 10;
  const std::string body = Snappy(Request({SeriesMsg({{"__name__", "big"}}, {{kT0, 1}})}));
  EXPECT_EQ(HandleRemoteWrite(body, Post(), db_.get(), small).status, 400);
}

TEST(RemoteWriteDecodeTest, DecodedSizeIsBoundedNotOnlyTheBody) {
  // 100 000 empty series: 200 KB on the wire, ~10 MB once decoded.
  std::string body;
  for (int i = 0; i < 100000; ++i) body += Len(1, "");
  auto small = DecodeWriteRequest(body, 1u << 20);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("request too large"), std::string::npos);
  auto big = DecodeWriteRequest(body, 64u << 20);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->size(), 100000u);
}

TEST_F(RemoteWriteTest, InvalidLabelSetsRejectTheWholeRequest) {
  const std::string ok = SeriesMsg({{"__name__", "fine"}}, {{kT0, 1}});
  const std::vector<std::vector<std::pair<std::string, std::string>>> bad = {
      {},                                               // empty
      {{"job", ""}},                                    // empty once empty values are dropped
      {{"__name__", "d"}, {"job", "x"}, {"job", "y"}},  // duplicate name
      {{"__name__", "1bad"}},                           // invalid metric name
      {{"__name__", "d"}, {"a-b", "x"}},                // invalid label name
      {{"__name__", "d"}, {"", "x"}},                   // empty label name
  };
  for (const auto& labels : bad) {
    auto r = Write(Request({ok, SeriesMsg(labels, {{kT0, 1}})}));
    EXPECT_EQ(r.status, 400) << r.message;
    EXPECT_FALSE(r.retryable());
  }
  EXPECT_TRUE(Read("fine").empty());
  auto dup = Write(Request({SeriesMsg({{"__name__", "d"}, {"job", "x"}, {"job", "y"}}, {})}));
  EXPECT_NE(dup.message.find("label name \"job\" is not unique"), std::string::npos) << dup.message;
}

TEST_F(RemoteWriteTest, EmptyLabelValuesAreDroppedAndNameIsOptional) {
  ASSERT_EQ(Write(Request({SeriesMsg({{"__name__", "ev"}, {"job", ""}}, {{kT0, 1}})})).status, 204);
  Labels labels;
  EXPECT_EQ(Read("ev", &labels).size(), 1u);
  EXPECT_EQ(labels, (Labels{{"__name__", "ev"}}));
  // Prometheus accepts series without __name__; so does the receiver.
  auto r = Write(Request({SeriesMsg({{"job", "nameless"}}, {{kT0, 4}})}));
  EXPECT_EQ(r.status, 204) << r.message;
  tsdb::Matcher m[] = {*tsdb::Matcher::Create(tsdb::MatchType::kEqual, "job", "nameless")};
  auto sel = db_->Select(m, 0, kT0 * 2);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->size(), 1u);
}

TEST_F(RemoteWriteTest, OutOfOrderSamplesAre400WithCountsAndTheRestIsKept) {
  ASSERT_EQ(Write(Request({SeriesMsg({{"__name__", "o"}}, {{kT0 + 60000, 1}})})).status, 204);
  auto r = Write(Request({SeriesMsg({{"__name__", "o"}}, {{kT0 + 30000, 2}, {kT0 + 90000, 3}}),
                          SeriesMsg({{"__name__", "p"}}, {{kT0, 5}})}));
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.retryable());
  EXPECT_EQ(r.message.rfind("out of order sample", 0), 0u) << r.message;
  EXPECT_NE(r.message.find("1 of 3 samples rejected"), std::string::npos) << r.message;
  EXPECT_EQ(r.samples_accepted, 2u);
  EXPECT_EQ(r.samples_rejected, 1u);
  EXPECT_EQ(Read("o"),
            (std::vector<std::pair<int64_t, double>>{{kT0 + 60000, 1}, {kT0 + 90000, 3}}));
  EXPECT_EQ(Read("p"), (std::vector<std::pair<int64_t, double>>{{kT0, 5}}));
}

TEST_F(RemoteWriteTest, DuplicatesAndTooOldSamplesAre400) {
  ASSERT_EQ(Write(Request({SeriesMsg({{"__name__", "d"}}, {{kT0, 1}})})).status, 204);
  // The same sample again is dropped silently, as Prometheus does.
  EXPECT_EQ(Write(Request({SeriesMsg({{"__name__", "d"}}, {{kT0, 1}})})).status, 204);
  auto dup = Write(Request({SeriesMsg({{"__name__", "d"}}, {{kT0, 2}})}));
  EXPECT_EQ(dup.status, 400);
  EXPECT_EQ(dup.message.rfind("duplicate sample for timestamp", 0), 0u) << dup.message;
  auto old = Write(Request({SeriesMsg({{"__name__", "q"}}, {{kT0 - 2 * 3600 * 1000, 1}})}));
  EXPECT_EQ(old.status, 400);
  EXPECT_EQ(old.message.rfind("out of bounds", 0), 0u) << old.message;
}

TEST_F(RemoteWriteTest, FullDiskIsRetryable503) {
  tsdb::DbOptions o;
  o.dir = dir_.path() + "/full";
  o.min_free_bytes = ~0ull;  // No filesystem has this much free space.
  auto full = tsdb::Db::Open(o, clock_);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  auto r = HandleRemoteWrite(Snappy(Request({SeriesMsg({{"__name__", "x"}}, {{kT0, 1}})})), Post(),
                             full->get());
  EXPECT_EQ(r.status, 503) << r.message;
  EXPECT_TRUE(r.retryable());
}

TEST_F(RemoteWriteTest, WrongMethodEncodingOrNoStoreAreRefused) {
  const std::string body = Snappy(Request({SeriesMsg({{"__name__", "w"}}, {{kT0, 1}})}));
  HttpRequest get = Post();
  get.method = "GET";
  auto r = HandleRemoteWrite(body, get, db_.get());
  EXPECT_EQ(r.status, 405);
  HttpResponse resp;
  r.ToHttp(&resp);
  EXPECT_EQ(resp.status, 405);
  ASSERT_EQ(resp.headers.size(), 1u);
  EXPECT_EQ(resp.headers[0], (std::pair<std::string, std::string>{"Allow", "POST"}));
  EXPECT_EQ(HandleRemoteWrite(body, Post("gzip"), db_.get()).status, 415);
  EXPECT_EQ(HandleRemoteWrite(body, Post(""), nullptr).status, 404);
  // Without a Content-Encoding header the body is still read as snappy, as Prometheus 2.42 does.
  EXPECT_EQ(HandleRemoteWrite(body, Post(""), db_.get()).status, 204);
  EXPECT_EQ(HandleRemoteWrite(body, Post("SNAPPY"), db_.get()).status, 204);
  EXPECT_EQ(Read("w").size(), 1u);
}

TEST(SnappyUncompressTest, DecodesCompressedCopies) {
  // Literal "abcd" then a copy (tag 01, length 4+4=8... as len-4=4, offset 4): "abcdabcdabcd".
  std::string block = Varint(12);
  block += static_cast<char>(3 << 2);
  block += "abcd";
  block += static_cast<char>(0x01 | (4 << 2));  // copy-1: length 4 + 4 = 8, offset high bits 0
  block += static_cast<char>(4);
  auto out = SnappyUncompress(block, 100);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "abcdabcdabcd");
}

}  // namespace
}  // namespace tidemark::agent
