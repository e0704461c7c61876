#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tsdb/encoding/chunk.h"

namespace tidemark::tsdb::encoding {
namespace {

constexpr uint64_t kStaleNaN = 0x7ff0000000000002;
constexpr int64_t kMinT = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxT = std::numeric_limits<int64_t>::max();

struct Samples {
  std::vector<int64_t> ts;
  std::vector<double> vs;
};

const std::vector<uint64_t>& SpecialBits() {
  static const std::vector<uint64_t> kBits = {
      kStaleNaN,          0x7ff8000000000000, 0x7ff8000000000001, 0xfff8000000000000,
      0x7ff4000000000000, 0xfff0000000000001, 0x7ff0000000000000, 0xfff0000000000000,
      0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x800fffffffffffff,
      0x0010000000000000, 0x7fefffffffffffff, 0xffefffffffffffff, 0x3ff0000000000000,
      0x4340000000000000, 0xc340000000000000, 0x4340000000000001};
  return kBits;
}

// Strictly increasing timestamps of one of several shapes.
std::vector<int64_t> GenTimestamps(std::mt19937_64& rng, size_t n, int shape) {
  std::vector<int64_t> ts(n);
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  switch (shape) {
    case 0:  // Exact 1 s ticks.
    case 1: {
      const int64_t start = uni(1'600'000'000'000, 1'800'000'000'000) / 1000 * 1000;
      for (size_t i = 0; i < n; ++i) ts[i] = start + static_cast<int64_t>(i) * 1000;
      break;
    }
    case 2: {  // ±5 ms jitter around 1 s ticks.
      const int64_t start = uni(1'600'000'000'000, 1'800'000'000'000);
      for (size_t i = 0; i < n; ++i) ts[i] = start + static_cast<int64_t>(i) * 1000 + uni(-5, 5);
      break;
    }
    case 3: {  // Big and irregular gaps.
      int64_t t = uni(-1'000'000'000'000, 1'000'000'000'000);
      for (size_t i = 0; i < n; ++i) {
        ts[i] = t;
        t += rng() % 4 == 0 ? uni(1, int64_t{1} << 40) : uni(1, 100'000);
      }
      break;
    }
    case 4: {  // Negative, 15 s step with rare hiccups.
      int64_t t = -uni(1'000'000, 1'000'000'000'000);
      for (size_t i = 0; i < n; ++i) {
        ts[i] = t;
        t += rng() % 50 == 0 ? 15'001 : 15'000;
      }
      break;
    }
    case 5: {  // Ending at INT64_MAX.
      int64_t t = kMaxT;
      for (size_t i = n; i-- > 0;) {
        ts[i] = t;
        t -= uni(1, 1'000'000);
      }
      break;
    }
    case 6: {  // Starting at INT64_MIN.
      int64_t t = kMinT;
      for (size_t i = 0; i < n; ++i) {
        ts[i] = t;
        t += uni(1, 1'000'000);
      }
      break;
    }
    default: {  // Consecutive milliseconds.
      const int64_t start = uni(-1'000'000, 1'000'000);
      for (size_t i = 0; i < n; ++i) ts[i] = start + static_cast<int64_t>(i);
    }
  }
  if (n == 2 && shape == 7) ts = {kMinT, kMaxT};
  return ts;
}

constexpr int kValueShapes = 14;

std::vector<double> GenValues(std::mt19937_64& rng, size_t n, int shape) {
  std::vector<double> vs(n);
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::normal_distribution<double> gauss(0, 1);
  double v = 0;
  int64_t m = 0;
  switch (shape) {
    case 0:  // Any bit pattern.
      for (auto& x : vs) x = std::bit_cast<double>(rng());
      break;
    case 1:  // Specials (NaN payloads, stale marker, ±Inf, ±0, denormals) mixed with randoms.
      for (auto& x : vs) {
        x = rng() % 3 == 0 ? std::bit_cast<double>(rng())
                           : std::bit_cast<double>(SpecialBits()[rng() % SpecialBits().size()]);
      }
      break;
    case 2:  // Integer counter with resets.
      m = uni(0, 1'000'000);
      for (auto& x : vs) {
        m = rng() % 50 == 0 ? uni(0, 10) : m + uni(0, 100);
        x = static_cast<double>(m);
      }
      break;
    case 3:  // Gauge walking in 4096-byte pages.
      m = uni(1, 1 << 20) * 4096;
      for (auto& x : vs) {
        m = std::max<int64_t>(4096, m + 4096 * uni(-64, 64));
        x = static_cast<double>(m);
      }
      break;
    case 4:  // Decimals like 12.34 walking by 0.01.
      m = uni(-100'000, 100'000);
      for (auto& x : vs) {
        m += uni(-3, 3);
        x = static_cast<double>(m) / 100;
      }
      break;
    case 5:  // Constants, including the special ones.
      v = rng() % 2 ? std::bit_cast<double>(SpecialBits()[rng() % SpecialBits().size()])
                    : static_cast<double>(uni(-1'000'000, 1'000'000));
      std::fill(vs.begin(), vs.end(), v);
      break;
    case 6:  // Float counter (CPU seconds).
      v = static_cast<double>(uni(0, 10'000)) + 0.123456789;
      for (auto& x : vs) x = v += std::max(0.0, 0.5 + 0.15 * gauss(rng));
      break;
    case 7:  // Integers near and beyond 2^53, with -0.0 and 0.
      for (auto& x : vs) {
        const int64_t big = (int64_t{1} << 53) - uni(-3, 3);
        switch (rng() % 4) {
          case 0:
            x = static_cast<double>(big);
            break;
          case 1:
            x = -static_cast<double>(big);
            break;
          case 2:
            x = rng() % 2 ? -0.0 : 0.0;
            break;
          default:
            x = static_cast<double>(uni(-5, 5)) * 1e17;
        }
      }
      break;
    case 8:  // Decimals with up to 6 digits and a -0.0 in the middle.
      for (auto& x : vs) x = static_cast<double>(uni(-2'000'000, 2'000'000)) / 1e6;
      if (n > 2) vs[n / 2] = -0.0;
      break;
    case 9:  // Accumulated 0.1 steps: not exact decimals.
      for (auto& x : vs) x = v += 0.1;
      break;
    case 10:  // Rare increments.
      for (auto& x : vs) x = v += rng() % 40 == 0 ? 1 : 0;
      break;
    case 11:  // Byte counter: non-integer start plus big integer increments.
      v = 483729384.1234567;
      for (auto& x : vs) x = v += std::floor(std::max(0.0, 2e6 + 1e6 * gauss(rng)));
      break;
    case 12:  // Negative floats walking.
      v = -1e-3;
      for (auto& x : vs) x = v -= std::fabs(gauss(rng)) * 1e-6;
      break;
    default:  // Values with huge swings between integer and non-integer.
      for (auto& x : vs) {
        x = rng() % 2 ? static_cast<double>(uni(kMinT / 2, kMaxT / 2)) : gauss(rng) * 1e300;
      }
  }
  return vs;
}

size_t GenLength(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return 1;
    case 1:
      return 2;
    case 2:
      return 3 + rng() % 8;
    case 3:
      return 240;
    case 4:
      return 1 + rng() % 300;
    default:
      return 1 + rng() % 1200;
  }
}

Samples Decode(std::string_view encoded, Status* status) {
  Samples s;
  auto it = ChunkIterator::Open(encoded);
  if (!it.ok()) {
    *status = it.status();
    return s;
  }
  while (it->Next()) {
    s.ts.push_back(it->t());
    s.vs.push_back(it->v());
  }
  *status = it->status();
  return s;
}

void ExpectSame(const Samples& want, const Samples& got, const std::string& what) {
  ASSERT_EQ(got.ts.size(), want.ts.size()) << what;
  for (size_t i = 0; i < want.ts.size(); ++i) {
    ASSERT_EQ(got.ts[i], want.ts[i]) << what << " sample " << i;
    ASSERT_EQ(std::bit_cast<uint64_t>(got.vs[i]), std::bit_cast<uint64_t>(want.vs[i]))
        << what << " sample " << i << " want " << want.vs[i] << " got " << got.vs[i];
  }
}

std::string WithEncoding(ChunkEncoding e, std::string_view data) {
  std::string s(1, static_cast<char>(e));
  s += data;
  return s;
}

TEST(ChunkEncodingTest, RoundTripsRandomChunksBitExactly) {
  std::mt19937_64 rng(20260101);
  std::map<int, int> packed_wins;
  for (int round = 0; round < 3000; ++round) {
    const size_t n = GenLength(rng);
    const int ts_shape = static_cast<int>(rng() % 8);
    const int v_shape = round % kValueShapes;
    Samples s{GenTimestamps(rng, n, ts_shape), GenValues(rng, n, v_shape)};
    const std::string what = "round " + std::to_string(round) + " n " + std::to_string(n) + " ts " +
                             std::to_string(ts_shape) + " values " + std::to_string(v_shape);

    const std::string chunk = EncodeChunk(s.ts, s.vs);
    Status st;
    ExpectSame(s, Decode(chunk, &st), what + " (best)");
    ASSERT_TRUE(st.ok()) << what << ": " << st.ToString();
    EXPECT_EQ(NumSamples(chunk), n) << what;
    auto meta = ReadChunkMeta(chunk);
    ASSERT_TRUE(meta.ok()) << what;
    EXPECT_EQ(meta->num_samples, n);
    EXPECT_EQ(meta->min_t, s.ts.front());
    EXPECT_EQ(meta->max_t, s.ts.back());
    if (meta->encoding == ChunkEncoding::kPacked) ++packed_wins[v_shape];

    // Both encodings on their own, whichever EncodeChunk picked.
    const std::string packed = WithEncoding(ChunkEncoding::kPacked, EncodePacked(s.ts, s.vs));
    ExpectSame(s, Decode(packed, &st), what + " (packed)");
    ASSERT_TRUE(st.ok()) << what << ": " << st.ToString();
    XorAppender app;
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(app.Append(s.ts[i], s.vs[i]).ok());
    auto xor_it = ChunkIterator::OpenXor(app.bytes());
    ASSERT_TRUE(xor_it.ok());
    Samples got;
    while (xor_it->Next()) {
      got.ts.push_back(xor_it->t());
      got.vs.push_back(xor_it->v());
    }
    ASSERT_TRUE(xor_it->status().ok()) << what;
    ExpectSame(s, got, what + " (xor)");
    EXPECT_LE(chunk.size(), std::min(packed.size(), app.bytes().size() + 1)) << what;

    auto sealed = SealXor(app.bytes());
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(*sealed, chunk) << what;
  }
  // Integer, page, decimal, constant and rare-counter shapes must not fall back to XOR.
  for (int shape : {2, 3, 4, 5, 10}) EXPECT_GT(packed_wins[shape], 150) << "shape " << shape;
}

TEST(ChunkEncodingTest, EmptyInputIsAnEmptyXorChunk) {
  const std::string c = EncodeChunk({}, {});
  EXPECT_EQ(c, std::string("\x01\x00\x00", 3));
  Status st;
  EXPECT_TRUE(Decode(c, &st).ts.empty());
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(NumSamples(c), 0u);
}

TEST(ChunkEncodingTest, SeeksForwardOnly) {
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (int i = 1; i <= 240; ++i) {
    ts.push_back(i * 1000);
    vs.push_back(i);
  }
  XorAppender app;
  for (size_t i = 0; i < ts.size(); ++i) ASSERT_TRUE(app.Append(ts[i], vs[i]).ok());
  for (const std::string& chunk :
       {EncodeChunk(ts, vs), WithEncoding(ChunkEncoding::kXor, app.bytes())}) {
    auto it = ChunkIterator::Open(chunk);
    ASSERT_TRUE(it.ok());
    ASSERT_TRUE(it->Seek(-5));
    EXPECT_EQ(it->t(), 1000);
    ASSERT_TRUE(it->Seek(1500));
    EXPECT_EQ(it->t(), 2000);
    EXPECT_EQ(it->v(), 2);
    ASSERT_TRUE(it->Seek(1000));  // Already past: no-op.
    EXPECT_EQ(it->t(), 2000);
    ASSERT_TRUE(it->Seek(2000));
    EXPECT_EQ(it->t(), 2000);
    ASSERT_TRUE(it->Next());
    EXPECT_EQ(it->t(), 3000);
    ASSERT_TRUE(it->Seek(240000));
    EXPECT_EQ(it->v(), 240);
    EXPECT_FALSE(it->Seek(240001));
    EXPECT_FALSE(it->Seek(0));  // Exhausted stays exhausted.
    EXPECT_TRUE(it->status().ok());
  }
}

TEST(ChunkEncodingTest, RejectsUnknownEncodingAndEmptyInput) {
  EXPECT_EQ(ChunkIterator::Open("").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ChunkIterator::Open("\x02zz").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(NumSamples("\x07"), 0u);
  EXPECT_FALSE(ReadChunkMeta("\x09").ok());
  EXPECT_FALSE(SealXor("\x00").ok());
}

// Decodes arbitrary bytes; returns false if the input was rejected. Never crashes.
bool DecodesCleanly(std::string_view chunk, size_t* count) {
  Status st;
  const Samples got = Decode(chunk, &st);
  for (size_t i = 1; i < got.ts.size(); ++i) EXPECT_LT(got.ts[i - 1], got.ts[i]);
  *count = got.ts.size();
  return st.ok();
}

std::vector<std::string> CorpusChunks() {
  std::mt19937_64 rng(99);
  std::vector<std::string> out;
  for (int shape = 0; shape < kValueShapes; ++shape) {
    for (int ts_shape = 0; ts_shape < 8; ts_shape += 2) {
      for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{17}, size_t{240}}) {
        Samples s{GenTimestamps(rng, n, ts_shape), GenValues(rng, n, shape)};
        out.push_back(EncodeChunk(s.ts, s.vs));
        out.push_back(WithEncoding(ChunkEncoding::kPacked, EncodePacked(s.ts, s.vs)));
      }
    }
  }
  return out;
}

TEST(ChunkEncodingTest, EveryTruncationIsDetected) {
  for (const std::string& chunk : CorpusChunks()) {
    for (size_t len = 0; len < chunk.size(); ++len) {
      // A fresh copy so that tools like ASan see reads past the truncated end.
      const std::string cut = chunk.substr(0, len);
      size_t count;
      EXPECT_FALSE(DecodesCleanly(cut, &count))
          << "encoding " << int(chunk[0]) << " size " << chunk.size() << " cut at " << len;
    }
  }
}

TEST(ChunkEncodingTest, RandomByteFlipsNeverCrash) {
  std::mt19937_64 rng(5);
  size_t rejected = 0, total = 0;
  for (const std::string& chunk : CorpusChunks()) {
    for (int trial = 0; trial < 30; ++trial) {
      std::string bad = chunk;
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f) {
        bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
      }
      if (trial % 10 == 0) bad += static_cast<char>(rng());
      size_t count;
      rejected += DecodesCleanly(bad, &count) ? 0 : 1;
      ++total;
      auto meta = ReadChunkMeta(bad);
      (void)NumSamples(bad);
      auto sealed = SealXor(std::string_view(bad).substr(1));
      (void)sealed.ok();
      (void)meta.ok();
    }
  }
  std::printf("byte flips: %zu of %zu corrupted chunks rejected\n", rejected, total);
  EXPECT_GT(rejected, total / 2);
}

TEST(ChunkEncodingTest, GarbageNeverCrashes) {
  std::mt19937_64 rng(6);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (!junk.empty())
      junk[0] = static_cast<char>(trial % 2 ? ChunkEncoding::kPacked : ChunkEncoding::kXor);
    size_t count;
    DecodesCleanly(junk, &count);
    auto reopened = XorAppender::FromBytes(junk);
    (void)reopened.ok();
  }
}

// ---- Size on data shaped like /work/shared/bench/gen_openmetrics.py. ----

struct BenchSeries {
  std::string cls;
  std::vector<double> vs;
};

// Same distributions as gen_openmetrics.py (per container: CPU float counter, throttling,
// two 4096-byte-page memory gauges, a constant limit, two rare counters, a byte counter with a
// non-integer start, eight histogram buckets sharing one I/O count per step), 1 s exact ticks.
std::vector<BenchSeries> GenOpenMetricsLike(int containers, int seconds, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](double a, double b) {
    return std::uniform_real_distribution<double>(a, b)(rng);
  };
  auto randint = [&](int64_t a, int64_t b) {
    return std::uniform_int_distribution<int64_t>(a, b)(rng);
  };
  auto gauss = [&](double mu, double sigma) {
    return std::normal_distribution<double>(mu, sigma)(rng);
  };
  auto random01 = [&] { return std::uniform_real_distribution<double>(0, 1)(rng); };
  struct State {
    std::string cls;
    double v;
    double rate = 0, p = 0, lim = 0;
    int idx = 0;
  };
  std::vector<State> st;
  const int kBuckets = 8;
  for (int c = 0; c < containers; ++c) {
    const double lim = 256.0 * 1024 * 1024 * (1 + c % 4);
    const auto lim_i = static_cast<int64_t>(lim);
    st.push_back({"cpu_float_counter", uniform(0, 1e4), uniform(0.01, 1.8)});
    st.push_back({"cpu_throttled", 0.0});
    st.push_back({"memory_gauge_4k", static_cast<double>(lim_i / 3 / 4096 * 4096), 0, 0, lim});
    st.push_back({"memory_gauge_4k", static_cast<double>(lim_i / 4 / 4096 * 4096), 0, 0, lim});
    st.push_back({"constant_limit", lim});
    st.push_back({"rare_counter", 0.0, 0, 0.0002});
    st.push_back({"rare_counter", 0.0, 0, 0.02});
    st.push_back({"byte_counter", uniform(0, 1e9), uniform(1e3, 5e6)});
    for (int i = 0; i < kBuckets; ++i) st.push_back({"histogram_bucket", 0.0, 0, 0, 0, i});
  }
  std::vector<BenchSeries> out(st.size());
  for (size_t i = 0; i < st.size(); ++i) {
    out[i].cls = st[i].cls;
    out[i].vs.reserve(static_cast<size_t>(seconds));
  }
  for (int s = 0; s < seconds; ++s) {
    const int64_t ios = randint(0, 400);
    for (size_t i = 0; i < st.size(); ++i) {
      State& x = st[i];
      if (x.cls == "cpu_float_counter") {
        x.v += std::max(0.0, gauss(x.rate, x.rate * 0.3));
      } else if (x.cls == "cpu_throttled") {
        if (random01() < 0.05) x.v += uniform(0, 0.05);
      } else if (x.cls == "memory_gauge_4k") {
        x.v =
            std::min(x.lim, std::max(4096.0, x.v + 4096.0 * static_cast<double>(randint(-64, 64))));
      } else if (x.cls == "rare_counter") {
        if (random01() < x.p) x.v += 1;
      } else if (x.cls == "byte_counter") {
        x.v += std::trunc(std::max(0.0, gauss(x.rate, x.rate * 0.5)));
      } else if (x.cls == "histogram_bucket") {
        const double share =
            x.idx < kBuckets - 1 ? std::min(1.0, (x.idx + 1.0) / (kBuckets - 1)) : 1.0;
        x.v += std::trunc(static_cast<double>(ios) * share);
      }
      out[i].vs.push_back(x.v);
    }
  }
  return out;
}

TEST(ChunkEncodingTest, BytesPerSampleOnNodeAgentData) {
  constexpr int kContainers = 50;
  constexpr int kSeconds = 3600;
  constexpr size_t kChunk = 240;
  const auto series = GenOpenMetricsLike(kContainers, kSeconds, 42);
  std::vector<int64_t> all_ts(kSeconds);
  for (int s = 0; s < kSeconds; ++s) all_ts[s] = (int64_t{1767225600} + s) * 1000;

  struct Tally {
    size_t samples = 0, best = 0, xor_bytes = 0, packed_chunks = 0, chunks = 0;
  };
  std::map<std::string, Tally> by_class;
  Tally total;
  for (const BenchSeries& s : series) {
    for (size_t off = 0; off < s.vs.size(); off += kChunk) {
      const size_t n = std::min(kChunk, s.vs.size() - off);
      std::span<const int64_t> ts(all_ts.data() + off, n);
      std::span<const double> vs(s.vs.data() + off, n);
      const std::string chunk = EncodeChunk(ts, vs);
      XorAppender app;
      for (size_t i = 0; i < n; ++i) ASSERT_TRUE(app.Append(ts[i], vs[i]).ok());
      for (Tally* t : {&by_class[s.cls], &total}) {
        t->samples += n;
        t->best += chunk.size();
        t->xor_bytes += app.bytes().size() + 1;
        t->chunks += 1;
        t->packed_chunks += chunk[0] == static_cast<char>(ChunkEncoding::kPacked) ? 1 : 0;
      }
    }
  }
  std::printf("%-20s %10s %12s %12s %8s\n", "class", "samples", "xor B/smp", "best B/smp",
              "packed%");
  auto row = [](const std::string& name, const Tally& t) {
    std::printf("%-20s %10zu %12.3f %12.3f %7.1f%%\n", name.c_str(), t.samples,
                static_cast<double>(t.xor_bytes) / static_cast<double>(t.samples),
                static_cast<double>(t.best) / static_cast<double>(t.samples),
                100.0 * static_cast<double>(t.packed_chunks) / static_cast<double>(t.chunks));
  };
  for (const auto& [name, t] : by_class) row(name, t);
  row("overall", total);
  const double overall = static_cast<double>(total.best) / static_cast<double>(total.samples);
  EXPECT_LT(overall, 1.2);
}

// ---- Decode speed (reported, not asserted: timing is not a unit-test property). ----

// Best of several timed passes (M samples/s), so that other load on the machine matters less.
double DecodeRate(const std::vector<std::string>& chunks, size_t samples_per_pass) {
  double checksum = 0;
  double best = 0;
  for (int rep = 0; rep < 15; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& c : chunks) {
      auto it = ChunkIterator::Open(c);
      while (it->Next()) checksum += it->v() + static_cast<double>(it->t() & 1);
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(samples_per_pass) / secs / 1e6);
  }
  EXPECT_NE(checksum, -1.0);
  return best;
}

TEST(ChunkEncodingTest, DecodeSpeed) {
  const auto series = GenOpenMetricsLike(10, 2400, 7);
  std::map<std::string, std::vector<std::string>> packed, xors;
  std::map<std::string, size_t> samples;
  for (const BenchSeries& s : series) {
    for (size_t off = 0; off < s.vs.size(); off += 240) {
      std::vector<int64_t> ts(240);
      for (size_t i = 0; i < 240; ++i) ts[i] = 1767225600000 + static_cast<int64_t>(off + i) * 1000;
      std::span<const double> vs(s.vs.data() + off, 240);
      packed[s.cls].push_back(WithEncoding(ChunkEncoding::kPacked, EncodePacked(ts, vs)));
      XorAppender app;
      for (size_t i = 0; i < 240; ++i) ASSERT_TRUE(app.Append(ts[i], vs[i]).ok());
      xors[s.cls].push_back(WithEncoding(ChunkEncoding::kXor, app.bytes()));
      samples[s.cls] += 240;
    }
  }
  for (const auto& [cls, chunks] : packed) {
    std::printf("decode %-18s packed %7.1f M samples/s   xor %7.1f M samples/s\n", cls.c_str(),
                DecodeRate(chunks, samples[cls]), DecodeRate(xors[cls], samples[cls]));
  }
}

}  // namespace
}  // namespace tidemark::tsdb::encoding
