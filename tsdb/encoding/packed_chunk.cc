#include "tsdb/encoding/packed_chunk.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace tidemark::tsdb::encoding {
namespace {

constexpr int kMaxTruncBinaryWidth = 56;  // BitReader::Peek limit.
constexpr int kRiceEscape = 32;           // Unary prefixes this long escape to 64 raw bits.
constexpr int kMaxRiceK = 56;
constexpr int kMaxDecimalExponent = 6;
constexpr double kPow10[kMaxDecimalExponent + 1] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
constexpr double kTwo53 = 9007199254740992.0;
// Steps (ms) stored as a code in the layout byte instead of a uvarint; code 0 = explicit.
constexpr uint64_t kStepCodes[8] = {0, 1000, 5000, 10000, 15000, 30000, 60000, 1};

// ---- Residual coders: cost, write. ----

int GorillaDodBits(int64_t r) {
  auto in = [r](int n) {
    return -((int64_t{1} << (n - 1)) - 1) <= r && r <= (int64_t{1} << (n - 1));
  };
  if (r == 0) return 1;
  if (in(14)) return 16;
  if (in(17)) return 20;
  if (in(20)) return 24;
  return 68;
}

void WriteGorillaDod(BitWriter& w, int64_t r) {
  const uint64_t u = static_cast<uint64_t>(r);
  switch (GorillaDodBits(r)) {
    case 1:
      w.WriteBit(false);
      break;
    case 16:
      w.WriteBits(0b10, 2);
      w.WriteBits(u, 14);
      break;
    case 20:
      w.WriteBits(0b110, 3);
      w.WriteBits(u, 17);
      break;
    case 24:
      w.WriteBits(0b1110, 4);
      w.WriteBits(u, 20);
      break;
    default:
      w.WriteBits(0b1111, 4);
      w.WriteBits(u, 64);
  }
}

// A chosen way to code one sequence.
struct SeqPlan {
  uint8_t order = 1;
  SeqCoder coder = SeqCoder::kTruncBinary;
  uint64_t g = 1;
  int64_t q1 = 0;
  int64_t base = 0;                 // lo or center
  uint64_t range = 0;               // kTruncBinary
  int k = 0;                        // kRice
  size_t bits = 0;                  // Bits of all residual codes.
  size_t header = 0;                // Bytes of the SeqHeader.
  std::vector<int64_t> residuals;   // Coded residuals in sample order.
  std::vector<uint32_t> exc_index;  // Samples whose delta is stored in the header.
  std::vector<int64_t> exc_delta;
  std::vector<bool> coded;  // coded[i]: sample i has a residual in the stream.

  size_t TotalBits() const { return header * 8 + bits; }
};

void AppendSeqHeader(const SeqPlan& p, uint8_t extra, std::string* out) {
  const uint8_t has_exc = p.exc_index.empty() ? 0 : 0x80;
  out->push_back(
      static_cast<char>(p.order | (static_cast<uint8_t>(p.coder) << 2) | (extra << 4) | has_exc));
  if (has_exc) {
    PutUvarint(out, p.exc_index.size() - 1);
    uint32_t prev = 0;
    for (size_t j = 0; j < p.exc_index.size(); ++j) {
      PutUvarint(out, p.exc_index[j] - prev - 1);
      PutVarint(out, p.exc_delta[j]);
      prev = p.exc_index[j];
    }
  }
  PutUvarint(out, p.g);
  if (p.order == 2) PutVarint(out, p.q1);
  switch (p.coder) {
    case SeqCoder::kTruncBinary:
      PutVarint(out, p.base);
      PutUvarint(out, p.range);
      break;
    case SeqCoder::kRice:
      PutVarint(out, p.base);
      out->push_back(static_cast<char>(p.k));
      break;
    case SeqCoder::kVarint:
      PutVarint(out, p.base);
      break;
    case SeqCoder::kGorillaDod:
      break;
  }
}

size_t SeqHeaderSize(const SeqPlan& p) {
  std::string s;
  AppendSeqHeader(p, 0, &s);
  return s.size();
}

uint64_t TruncBinaryU(uint64_t range, int w) {
  // 2^w - (range + 1), computed without overflow (w <= 56).
  return (uint64_t{1} << w) - range - 1;
}

void WriteResidual(const SeqPlan& p, int64_t r, BitWriter& w) {
  switch (p.coder) {
    case SeqCoder::kTruncBinary: {
      if (p.range == 0) return;
      const int width = std::bit_width(p.range);
      const uint64_t u = TruncBinaryU(p.range, width);
      const uint64_t v = static_cast<uint64_t>(r) - static_cast<uint64_t>(p.base);
      if (v < u) {
        w.WriteBits(v, width - 1);
      } else {
        w.WriteBits(v + u, width);
      }
      return;
    }
    case SeqCoder::kRice: {
      const uint64_t z =
          ZigZag(static_cast<int64_t>(static_cast<uint64_t>(r) - static_cast<uint64_t>(p.base)));
      const uint64_t q = z >> p.k;
      if (q < kRiceEscape) {
        w.WriteBits(1, static_cast<int>(q) + 1);  // q zeros, then a one.
        w.WriteBits(z, p.k);
      } else {
        w.WriteBits(0, kRiceEscape);
        w.WriteBits(z, 64);
      }
      return;
    }
    case SeqCoder::kVarint: {
      uint64_t z =
          ZigZag(static_cast<int64_t>(static_cast<uint64_t>(r) - static_cast<uint64_t>(p.base)));
      while (z >= 0x80) {
        w.WriteBits((z & 0x7f) | 0x80, 8);
        z >>= 7;
      }
      w.WriteBits(z, 8);
      return;
    }
    case SeqCoder::kGorillaDod:
      WriteGorillaDod(w, r);
      return;
  }
}

int64_t Median(std::vector<int64_t> v) {
  auto mid = v.begin() + static_cast<ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// Fills in coder parameters and bits for residuals r under each coder; keeps the cheapest in
// *best (comparing header and bits).
void PriceCoders(SeqPlan cand, bool allow_gorilla, SeqPlan* best) {
  const std::vector<int64_t>& r = cand.residuals;
  auto consider = [&](SeqPlan& p) {
    p.header = SeqHeaderSize(p);  // Never 0, so 0 marks an empty *best.
    if (best->header == 0 || p.TotalBits() < best->TotalBits()) *best = p;
  };
  if (r.empty()) {
    cand.coder = SeqCoder::kTruncBinary;
    cand.bits = 0;
    consider(cand);
    return;
  }
  // Frame of reference, truncated binary.
  {
    const auto [lo_it, hi_it] = std::minmax_element(r.begin(), r.end());
    SeqPlan p = cand;
    p.coder = SeqCoder::kTruncBinary;
    p.base = *lo_it;
    p.range = static_cast<uint64_t>(*hi_it) - static_cast<uint64_t>(*lo_it);
    const int width = std::bit_width(p.range);
    if (width <= kMaxTruncBinaryWidth) {
      size_t bits = 0;
      if (p.range != 0) {
        const uint64_t u = TruncBinaryU(p.range, width);
        for (int64_t x : r) {
          const uint64_t v = static_cast<uint64_t>(x) - static_cast<uint64_t>(p.base);
          bits += static_cast<size_t>(v < u ? width - 1 : width);
        }
      }
      p.bits = bits;
      consider(p);
    }
  }
  const int64_t center = Median(r);
  std::vector<uint64_t> z(r.size());
  double mean = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    z[i] =
        ZigZag(static_cast<int64_t>(static_cast<uint64_t>(r[i]) - static_cast<uint64_t>(center)));
    mean += static_cast<double>(z[i]);
  }
  mean /= static_cast<double>(r.size());
  // Rice: the best k lies near log2(mean).
  {
    const int k0 = mean < 1 ? 0 : static_cast<int>(std::log2(mean));
    for (int k = std::max(0, k0 - 2); k <= std::min(kMaxRiceK, k0 + 2); ++k) {
      SeqPlan p = cand;
      p.coder = SeqCoder::kRice;
      p.base = center;
      p.k = k;
      size_t bits = 0;
      for (uint64_t x : z) {
        const uint64_t q = x >> k;
        bits += q < kRiceEscape ? static_cast<size_t>(q) + 1 + static_cast<size_t>(k)
                                : size_t{kRiceEscape + 64};
      }
      p.bits = bits;
      consider(p);
    }
  }
  {
    SeqPlan p = cand;
    p.coder = SeqCoder::kVarint;
    p.base = center;
    size_t bits = 0;
    for (uint64_t x : z) bits += 8 * static_cast<size_t>(UvarintSize(x));
    p.bits = bits;
    consider(p);
  }
  if (allow_gorilla) {
    SeqPlan p = cand;
    p.coder = SeqCoder::kGorillaDod;
    size_t bits = 0;
    for (int64_t x : r) bits += static_cast<size_t>(GorillaDodBits(x));
    p.bits = bits;
    consider(p);
  }
}

// Most deltas a sequence may store in its header instead of coding them (a counter reset, the
// delta that crosses a power of two in float-bit images, the few steps of a rare counter).
constexpr size_t kMaxExceptions = 8;

uint64_t Magnitude(int64_t d) {
  return d < 0 ? 0 - static_cast<uint64_t>(d) : static_cast<uint64_t>(d);
}

// GCD of the deltas outside `exc`; 0 when they are all zero.
uint64_t GcdWithout(const std::vector<int64_t>& d, const std::vector<bool>& exc) {
  uint64_t g = 0;
  for (size_t i = 1; i < d.size(); ++i) {
    if (!exc[i]) g = std::gcd(g, Magnitude(d[i]));
  }
  return g;
}

// Greedily drops the deltas whose removal at least doubles the GCD of the rest.
std::vector<bool> GreedyGcdExceptions(const std::vector<int64_t>& d) {
  const size_t n = d.size();
  std::vector<bool> exc(n, false);
  auto key = [](uint64_t g) { return g == 0 ? std::numeric_limits<uint64_t>::max() : g; };
  uint64_t g = GcdWithout(d, exc);
  std::vector<uint64_t> pre(n + 1), suf(n + 1);
  for (size_t round = 0; round < kMaxExceptions && g != 0; ++round) {
    pre[0] = 0;
    for (size_t i = 1; i < n; ++i)
      pre[i] = exc[i] ? pre[i - 1] : std::gcd(pre[i - 1], Magnitude(d[i]));
    suf[n] = 0;
    for (size_t i = n - 1; i >= 1; --i)
      suf[i] = exc[i] ? suf[i + 1] : std::gcd(suf[i + 1], Magnitude(d[i]));
    size_t best_i = 0;
    uint64_t best = g;
    for (size_t i = 1; i < n; ++i) {
      if (exc[i]) continue;
      const uint64_t without = std::gcd(pre[i - 1], suf[i + 1]);
      if (key(without) > key(best)) {
        best = without;
        best_i = i;
      }
    }
    if (best_i == 0 || key(best) / 2 < key(g)) break;
    exc[best_i] = true;
    g = best;
  }
  return exc;
}

// Residuals of x under `order` with deltas d (d[i] = x[i] - x[i-1]) and exceptions `exc`.
SeqPlan BuildCandidate(uint8_t order, const std::vector<int64_t>& d, const std::vector<bool>& exc) {
  const size_t n = d.size();
  SeqPlan cand;
  cand.order = order;
  cand.g = GcdWithout(d, exc);
  if (cand.g == 0) cand.g = 1;
  cand.coded.assign(n, false);
  auto q_of = [&](size_t i) {
    const uint64_t mag = Magnitude(d[i]) / cand.g;
    return static_cast<int64_t>(d[i] < 0 ? 0 - mag : mag);
  };
  uint64_t sum = 0;
  bool first = true;
  int64_t prev_q = 0;
  for (size_t i = 1; i < n; ++i) {
    if (exc[i]) {
      cand.exc_index.push_back(static_cast<uint32_t>(i));
      cand.exc_delta.push_back(d[i]);
      continue;
    }
    const int64_t q = q_of(i);
    if (order == 0) {
      sum += static_cast<uint64_t>(q);
      cand.residuals.push_back(static_cast<int64_t>(sum));
      cand.coded[i] = true;
    } else if (order == 1) {
      cand.residuals.push_back(q);
      cand.coded[i] = true;
    } else if (first) {
      cand.q1 = q;
      first = false;
    } else {
      cand.residuals.push_back(
          static_cast<int64_t>(static_cast<uint64_t>(q) - static_cast<uint64_t>(prev_q)));
      cand.coded[i] = true;
    }
    prev_q = q;
  }
  return cand;
}

// Plans the cheapest coding of x[1..] given x[0] (stored elsewhere). x must not be constant.
SeqPlan PlanSequence(std::span<const uint64_t> x, bool gorilla) {
  const size_t n = x.size();
  std::vector<int64_t> d(n, 0);
  size_t nonzero = 0;
  for (size_t i = 1; i < n; ++i) {
    d[i] = static_cast<int64_t>(x[i] - x[i - 1]);
    nonzero += d[i] != 0 ? 1 : 0;
  }
  std::vector<std::vector<bool>> exception_sets;
  exception_sets.emplace_back(n, false);
  exception_sets.push_back(GreedyGcdExceptions(d));
  if (exception_sets.back() == exception_sets.front()) exception_sets.pop_back();
  // Outliers (counter resets): the j deltas farthest from the median, j = 1, 2, 4, 8.
  if (n > 2 * kMaxExceptions) {
    std::vector<int64_t> dd(d.begin() + 1, d.end());
    const int64_t med = Median(dd);
    std::vector<std::pair<uint64_t, size_t>> dev;
    for (size_t i = 1; i < n; ++i)
      dev.emplace_back(
          Magnitude(static_cast<int64_t>(static_cast<uint64_t>(d[i]) - static_cast<uint64_t>(med))),
          i);
    std::partial_sort(dev.begin(), dev.begin() + kMaxExceptions, dev.end(), std::greater<>());
    for (size_t j = 1; j <= kMaxExceptions && dev[j - 1].first > 0; j *= 2) {
      std::vector<bool> e(n, false);
      for (size_t k = 0; k < j; ++k) e[dev[k].second] = true;
      exception_sets.push_back(std::move(e));
    }
  }
  if (nonzero <= kMaxExceptions && nonzero < n - 1) {
    std::vector<bool> e(n, false);
    for (size_t i = 1; i < n; ++i) e[i] = d[i] != 0;
    exception_sets.push_back(std::move(e));
  }
  SeqPlan best;
  for (size_t set = 0; set < exception_sets.size(); ++set) {
    for (uint8_t order = 0; order <= 2; ++order) {
      if (order == 0 && set > 0) continue;  // Order 0 codes absolute positions: no exceptions.
      if (order == 2 && n < 3) break;
      PriceCoders(BuildCandidate(order, d, exception_sets[set]), gorilla, &best);
    }
  }
  return best;
}

// ---- Value representations. ----

bool IsPackableInt(double v) {
  return std::isfinite(v) && std::trunc(v) == v && std::fabs(v) <= kTwo53 &&
         !(v == 0 && std::signbit(v));
}

// Smallest e in [0, 6] with v == m / 10^e exactly, or -1.
int DecimalExponent(double v) {
  if (!std::isfinite(v)) return -1;
  for (int e = 0; e <= kMaxDecimalExponent; ++e) {
    const double scaled = v * kPow10[e];
    if (!(std::fabs(scaled) < kTwo53)) return -1;
    const auto m = static_cast<int64_t>(std::nearbyint(scaled));
    if (std::bit_cast<uint64_t>(static_cast<double>(m) / kPow10[e]) == std::bit_cast<uint64_t>(v)) {
      return e;
    }
  }
  return -1;
}

struct ValuePlan {
  ValueKind kind = ValueKind::kXor;
  int exponent = 0;
  std::vector<uint64_t> x;  // Sequence image of the values.
  SeqPlan seq;
  size_t total_bits = 0;  // Header + stream bits.
};

size_t XorValueBits(std::span<const double> vs) {
  XorValueEncoder enc(std::bit_cast<uint64_t>(vs[0]));
  size_t bits = 64;
  for (size_t i = 1; i < vs.size(); ++i) {
    bits += static_cast<size_t>(enc.Append(std::bit_cast<uint64_t>(vs[i]), nullptr));
  }
  return bits;
}

ValuePlan PlanValues(std::span<const double> vs) {
  const size_t n = vs.size();
  ValuePlan best;
  const uint64_t b0 = std::bit_cast<uint64_t>(vs[0]);
  bool constant = true;
  bool all_int = true;
  for (double v : vs) {
    constant = constant && std::bit_cast<uint64_t>(v) == b0;
    all_int = all_int && IsPackableInt(v);
  }
  if (constant) {
    if (all_int && UvarintSize(ZigZag(static_cast<int64_t>(vs[0]))) < 8) {
      best.kind = ValueKind::kConstInt;
      best.total_bits = 8 * static_cast<size_t>(UvarintSize(ZigZag(static_cast<int64_t>(vs[0]))));
    } else {
      best.kind = ValueKind::kConstRaw;
      best.total_bits = 64;
    }
    return best;
  }
  best.kind = ValueKind::kXor;
  best.total_bits = XorValueBits(vs);

  auto consider = [&](ValueKind kind, int exponent, std::vector<uint64_t> x) {
    ValuePlan p;
    p.kind = kind;
    p.exponent = exponent;
    p.seq = PlanSequence(x, /*gorilla=*/false);
    const size_t x0_bytes =
        kind == ValueKind::kFloatBits
            ? 8
            : static_cast<size_t>(UvarintSize(ZigZag(static_cast<int64_t>(x[0]))));
    p.total_bits = 8 * x0_bytes + p.seq.TotalBits();
    p.x = std::move(x);
    if (p.total_bits < best.total_bits) best = std::move(p);
  };
  std::vector<uint64_t> x(n);
  if (all_int) {
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<uint64_t>(static_cast<int64_t>(vs[i]));
    consider(ValueKind::kInt, 0, x);
  } else {
    int e = 0;
    for (double v : vs) {
      const int ev = DecimalExponent(v);
      if (ev < 0) {
        e = -1;
        break;
      }
      e = std::max(e, ev);
    }
    if (e > 0) {
      bool exact = true;
      for (size_t i = 0; i < n && exact; ++i) {
        const double scaled = vs[i] * kPow10[e];
        exact = std::fabs(scaled) < kTwo53;
        if (!exact) break;
        const auto m = static_cast<int64_t>(std::nearbyint(scaled));
        exact = std::bit_cast<uint64_t>(static_cast<double>(m) / kPow10[e]) ==
                std::bit_cast<uint64_t>(vs[i]);
        x[i] = static_cast<uint64_t>(m);
      }
      if (exact) consider(ValueKind::kDecimal, e, x);
    }
  }
  for (size_t i = 0; i < n; ++i) x[i] = FloatBitsToOrdered(std::bit_cast<uint64_t>(vs[i]));
  consider(ValueKind::kFloatBits, 0, std::move(x));
  return best;
}

}  // namespace

// ---- Encoder. ----

std::string EncodePacked(std::span<const int64_t> ts, std::span<const double> vs) {
  assert(!ts.empty() && ts.size() == vs.size());
  const size_t n = std::min(ts.size(), vs.size());
  std::string out;
  if (n == 0) return out;
  if (n <= 255) {
    out.push_back(static_cast<char>(n - 1));
  } else {
    out.push_back(static_cast<char>(0xff));
    PutUvarint(&out, n - 256);
  }

  // Timestamps.
  TsKind ts_kind = TsKind::kSingle;
  SeqPlan ts_plan;
  const uint64_t step = n > 1 ? static_cast<uint64_t>(ts[1]) - static_cast<uint64_t>(ts[0]) : 0;
  if (n > 1) {
    ts_kind = TsKind::kStep;
    for (size_t i = 2; i < n; ++i) {
      if (static_cast<uint64_t>(ts[i]) - static_cast<uint64_t>(ts[i - 1]) != step) {
        ts_kind = TsKind::kSequence;
        break;
      }
    }
  }
  if (ts_kind == TsKind::kSequence) {
    std::vector<uint64_t> x(ts.begin(), ts.begin() + static_cast<ptrdiff_t>(n));
    ts_plan = PlanSequence(x, /*gorilla=*/true);
  }
  const ValuePlan vp = PlanValues(vs.first(n));

  uint8_t step_code = 0;
  if (ts_kind == TsKind::kStep) {
    for (uint8_t c = 1; c < 8; ++c) {
      if (kStepCodes[c] == step) step_code = c;
    }
  }
  out.push_back(static_cast<char>(static_cast<uint8_t>(ts_kind) |
                                  (static_cast<uint8_t>(vp.kind) << 2) | (step_code << 5)));
  PutVarint(&out, ts[0]);
  if (ts_kind == TsKind::kStep) {
    if (step_code == 0) PutUvarint(&out, step);
  } else if (ts_kind == TsKind::kSequence) {
    PutUvarint(&out, static_cast<uint64_t>(ts[n - 1]) - static_cast<uint64_t>(ts[0]));
    AppendSeqHeader(ts_plan, 0, &out);
  }
  const uint64_t v0 = std::bit_cast<uint64_t>(vs[0]);
  switch (vp.kind) {
    case ValueKind::kConstRaw:
    case ValueKind::kXor:
      PutFixed64BE(&out, v0);
      break;
    case ValueKind::kConstInt:
      PutVarint(&out, static_cast<int64_t>(vs[0]));
      break;
    case ValueKind::kInt:
    case ValueKind::kDecimal:
      PutVarint(&out, static_cast<int64_t>(vp.x[0]));
      AppendSeqHeader(vp.seq, static_cast<uint8_t>(vp.exponent), &out);
      break;
    case ValueKind::kFloatBits:
      PutFixed64BE(&out, vp.x[0]);
      AppendSeqHeader(vp.seq, 0, &out);
      break;
  }

  const size_t header_bits = out.size() * 8;
  BitWriter w(std::move(out), header_bits);
  XorValueEncoder xor_enc(v0);
  const bool value_seq = vp.kind == ValueKind::kInt || vp.kind == ValueKind::kDecimal ||
                         vp.kind == ValueKind::kFloatBits;
  size_t ts_next = 0, v_next = 0;
  for (size_t i = 1; i < n; ++i) {
    if (ts_kind == TsKind::kSequence && ts_plan.coded[i]) {
      WriteResidual(ts_plan, ts_plan.residuals[ts_next++], w);
    }
    if (value_seq && vp.seq.coded[i]) WriteResidual(vp.seq, vp.seq.residuals[v_next++], w);
    if (vp.kind == ValueKind::kXor) xor_enc.Append(std::bit_cast<uint64_t>(vs[i]), &w);
  }
  return std::move(w).Release();
}

// ---- Decoder. ----

bool SeqDecoder::ReadResidual(BitReader& r, uint64_t* out) {
  switch (coder) {
    case SeqCoder::kTruncBinary: {
      if (w == 0) {
        *out = base;
        return true;
      }
      if (r.available() < w) r.Refill();
      const uint64_t y = r.Peek(w);
      const uint64_t half = y >> 1;
      const bool short_code = half < u;
      const int len = short_code ? w - 1 : w;
      if (len > r.available()) return false;
      r.Consume(len);
      *out = base + (short_code ? half : y - u);
      return true;
    }
    case SeqCoder::kRice: {
      if (r.available() < kRiceEscape + 1) r.Refill();
      const uint64_t window = r.Window();
      const int zeros = window == 0 ? 64 : std::countl_zero(window);
      uint64_t z;
      if (zeros >= kRiceEscape) {
        if (r.available() < kRiceEscape) return false;
        r.Consume(kRiceEscape);
        if (!r.ReadBits(64, &z)) return false;
      } else {
        if (zeros + 1 > r.available()) return false;
        r.Consume(zeros + 1);
        uint64_t low;
        if (!r.ReadBits(k, &low)) return false;
        z = (static_cast<uint64_t>(zeros) << k) | low;
      }
      *out = base + static_cast<uint64_t>(UnZigZag(z));
      return true;
    }
    case SeqCoder::kVarint: {
      uint64_t z;
      if (!r.ReadUvarint(&z)) return false;
      *out = base + static_cast<uint64_t>(UnZigZag(z));
      return true;
    }
    case SeqCoder::kGorillaDod: {
      int ones = 0;
      for (; ones < 4; ++ones) {
        bool b;
        if (!r.ReadBit(&b)) return false;
        if (!b) break;
      }
      static constexpr int kSizes[5] = {0, 14, 17, 20, 64};
      const int sz = kSizes[ones];
      uint64_t v = 0;
      if (sz != 0 && !r.ReadBits(sz, &v)) return false;
      if (sz != 0 && sz != 64 && v > (uint64_t{1} << (sz - 1))) v -= uint64_t{1} << sz;
      *out = v;
      return true;
    }
  }
  return false;
}

bool SeqDecoder::Next(BitReader& r) {
  if (++i == next_exc) {
    x += exc_delta[exc_pos];
    ++exc_pos;
    next_exc = exc_pos < exc_count ? exc_index[exc_pos] : 0;
    return true;
  }
  if (order == 2 && first_delta_pending) {
    first_delta_pending = false;
    x += g * q;
    return true;
  }
  uint64_t res;
  if (!ReadResidual(r, &res)) return false;
  switch (order) {
    case 0:
      x = x0 + g * res;
      break;
    case 1:
      x += g * res;
      break;
    default:
      q += res;
      x += g * q;
  }
  return true;
}

namespace {

// Parses a SeqHeader into d (x and x0 already set by the caller).
bool ParseSeqHeader(ByteReader& br, size_t n, SeqDecoder* d, uint8_t* extra) {
  uint8_t b;
  if (!br.GetU8(&b)) return false;
  d->order = b & 3;
  d->coder = static_cast<SeqCoder>((b >> 2) & 3);
  *extra = static_cast<uint8_t>((b >> 4) & 7);
  if (d->order > 2) return false;
  if (b & 0x80) {
    uint64_t count;
    if (d->order == 0 || !br.GetUvarint(&count) || count >= kMaxExceptions) return false;
    d->exc_count = static_cast<uint8_t>(count + 1);
    uint64_t prev = 0;
    for (int j = 0; j < d->exc_count; ++j) {
      uint64_t gap;
      int64_t delta;
      if (!br.GetUvarint(&gap) || !br.GetVarint(&delta) || gap >= n) return false;
      prev += gap + 1;
      if (prev >= n) return false;
      d->exc_index[j] = static_cast<uint32_t>(prev);
      d->exc_delta[j] = static_cast<uint64_t>(delta);
    }
    d->next_exc = d->exc_index[0];
  }
  if (!br.GetUvarint(&d->g) || d->g == 0) return false;
  if (d->order == 2) {
    int64_t q1;
    if (!br.GetVarint(&q1)) return false;
    d->q = static_cast<uint64_t>(q1);
    d->first_delta_pending = true;
  }
  int64_t base;
  switch (d->coder) {
    case SeqCoder::kTruncBinary:
      if (!br.GetVarint(&base) || !br.GetUvarint(&d->range)) return false;
      d->w = std::bit_width(d->range);
      if (d->w > kMaxTruncBinaryWidth) return false;
      d->u = d->w == 0 ? 0 : TruncBinaryU(d->range, d->w);
      break;
    case SeqCoder::kRice: {
      uint8_t k;
      if (!br.GetVarint(&base) || !br.GetU8(&k) || k > kMaxRiceK) return false;
      d->k = k;
      break;
    }
    case SeqCoder::kVarint:
      if (!br.GetVarint(&base)) return false;
      break;
    case SeqCoder::kGorillaDod:
      base = 0;
      break;
  }
  d->base = static_cast<uint64_t>(base);
  return true;
}

struct ParsedHeader {
  size_t n = 0;
  TsKind ts_kind = TsKind::kSingle;
  ValueKind value_kind = ValueKind::kConstRaw;
  int64_t t0 = 0;
  int64_t last_t = 0;
  uint64_t step = 0;
};

// Parses count, layout, t0 and the timestamp header; leaves br at the value header.
Status ParseTsHeader(ByteReader& br, ParsedHeader* h, SeqDecoder* ts) {
  uint8_t c;
  if (!br.GetU8(&c)) return Status::Corruption("packed chunk: empty");
  h->n = static_cast<size_t>(c) + 1;
  if (c == 0xff) {
    uint64_t more;
    if (!br.GetUvarint(&more) || more > std::numeric_limits<uint32_t>::max() - 256) {
      return Status::Corruption("packed chunk: bad sample count");
    }
    h->n = 256 + more;
  }
  uint8_t layout;
  if (!br.GetU8(&layout) || !br.GetVarint(&h->t0)) {
    return Status::Corruption("packed chunk: truncated header");
  }
  h->ts_kind = static_cast<TsKind>(layout & 3);
  h->value_kind = static_cast<ValueKind>((layout >> 2) & 7);
  const uint8_t step_code = layout >> 5;
  if ((layout & 3) > 2 || ((layout >> 2) & 7) > 5 ||
      (step_code != 0 && h->ts_kind != TsKind::kStep)) {
    return Status::Corruption("packed chunk: bad layout byte");
  }
  const __int128 t0 = h->t0;
  const __int128 kMaxT = std::numeric_limits<int64_t>::max();
  switch (h->ts_kind) {
    case TsKind::kSingle:
      if (h->n != 1) return Status::Corruption("packed chunk: missing timestamps");
      h->last_t = h->t0;
      break;
    case TsKind::kStep: {
      h->step = kStepCodes[step_code];
      if ((step_code == 0 && !br.GetUvarint(&h->step)) || h->step == 0 || h->n < 2) {
        return Status::Corruption("packed chunk: bad step");
      }
      const __int128 last = t0 + static_cast<__int128>(h->step) * static_cast<__int128>(h->n - 1);
      if (last > kMaxT) return Status::Corruption("packed chunk: timestamps overflow");
      h->last_t = static_cast<int64_t>(last);
      break;
    }
    case TsKind::kSequence: {
      uint64_t span;
      uint8_t extra;
      if (!br.GetUvarint(&span) || h->n < 2 || span < h->n - 1 ||
          t0 + static_cast<__int128>(span) > kMaxT || !ParseSeqHeader(br, h->n, ts, &extra) ||
          extra != 0) {
        return Status::Corruption("packed chunk: bad timestamp header");
      }
      h->last_t = static_cast<int64_t>(t0 + static_cast<__int128>(span));
      ts->x = ts->x0 = static_cast<uint64_t>(h->t0);
      break;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PackedSummary> ReadPackedSummary(std::string_view data) {
  ByteReader br(data);
  ParsedHeader h;
  SeqDecoder ts;
  TIDEMARK_RETURN_IF_ERROR(ParseTsHeader(br, &h, &ts));
  PackedSummary s;
  s.num_samples = h.n;
  s.min_t = h.t0;
  s.max_t = h.last_t;
  s.ts_kind = h.ts_kind;
  s.value_kind = h.value_kind;
  return s;
}

Status PackedIterator::Init(std::string_view data) {
  ByteReader br(data);
  ParsedHeader h;
  ts_ = SeqDecoder();
  vals_ = SeqDecoder();
  TIDEMARK_RETURN_IF_ERROR(ParseTsHeader(br, &h, &ts_));
  n_ = static_cast<uint32_t>(h.n);
  ts_kind_ = h.ts_kind;
  value_kind_ = h.value_kind;
  t_ = h.t0;
  last_t_ = h.last_t;
  step_ = h.step;
  const Status bad = Status::Corruption("packed chunk: bad value header");
  uint64_t raw;
  switch (value_kind_) {
    case ValueKind::kConstRaw:
    case ValueKind::kXor:
      if (!br.GetFixed64BE(&raw)) return bad;
      v_ = std::bit_cast<double>(raw);
      xor_ = XorValueDecoder(raw);
      break;
    case ValueKind::kConstInt: {
      int64_t x;
      if (!br.GetVarint(&x)) return bad;
      v_ = static_cast<double>(x);
      break;
    }
    case ValueKind::kInt:
    case ValueKind::kDecimal:
    case ValueKind::kFloatBits: {
      uint8_t extra;
      int64_t x0 = 0;
      const bool ok =
          value_kind_ == ValueKind::kFloatBits ? br.GetFixed64BE(&raw) : br.GetVarint(&x0);
      if (value_kind_ != ValueKind::kFloatBits) raw = static_cast<uint64_t>(x0);
      if (!ok || !ParseSeqHeader(br, n_, &vals_, &extra)) return bad;
      if (value_kind_ == ValueKind::kDecimal) {
        if (extra < 1 || extra > kMaxDecimalExponent) return bad;
        scale_ = kPow10[extra];
      } else if (extra != 0) {
        return bad;
      }
      vals_.x = vals_.x0 = raw;
      v_ = ValueOf(raw);
      break;
    }
  }
  r_ = BitReader(br.rest());
  i_ = 0;
  status_ = Status::Ok();
  return Status::Ok();
}

double PackedIterator::ValueOf(uint64_t x) const {
  switch (value_kind_) {
    case ValueKind::kInt:
      return static_cast<double>(static_cast<int64_t>(x));
    case ValueKind::kDecimal:
      return static_cast<double>(static_cast<int64_t>(x)) / scale_;
    default:
      return std::bit_cast<double>(FloatBitsToOrdered(x));
  }
}

bool PackedIterator::Fail(const char* what) {
  status_ = Status::Corruption(std::string("packed chunk: ") + what);
  i_ = n_ + 1;
  return false;
}

bool PackedIterator::Finish() {
  ++i_;
  if (t_ != last_t_) return Fail("last timestamp does not match the header");
  const size_t rest = r_.BitsRemaining();
  uint64_t pad = 0;
  if (rest >= 8 || !r_.ReadBits(static_cast<int>(rest), &pad) || pad != 0) {
    return Fail("trailing data after the last sample");
  }
  return false;
}

bool PackedIterator::Next() {
  if (i_ == 0) {
    ++i_;
    return true;
  }
  if (i_ >= n_) {
    if (i_ == n_ && status_.ok()) return Finish();
    return false;
  }
  switch (ts_kind_) {
    case TsKind::kStep:
      t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + step_);
      break;
    case TsKind::kSequence: {
      if (!ts_.Next(r_)) return Fail("truncated timestamps");
      const int64_t t = static_cast<int64_t>(ts_.x);
      if (t <= t_) return Fail("timestamps not increasing");
      t_ = t;
      break;
    }
    case TsKind::kSingle:
      break;
  }
  switch (value_kind_) {
    case ValueKind::kConstRaw:
    case ValueKind::kConstInt:
      break;
    case ValueKind::kXor:
      if (!xor_.Next(r_)) return Fail("truncated values");
      v_ = std::bit_cast<double>(xor_.bits());
      break;
    case ValueKind::kInt:
      if (!vals_.Next(r_)) return Fail("truncated values");
      v_ = static_cast<double>(static_cast<int64_t>(vals_.x));
      break;
    case ValueKind::kDecimal:
      if (!vals_.Next(r_)) return Fail("truncated values");
      v_ = static_cast<double>(static_cast<int64_t>(vals_.x)) / scale_;
      break;
    case ValueKind::kFloatBits:
      if (!vals_.Next(r_)) return Fail("truncated values");
      v_ = std::bit_cast<double>(FloatBitsToOrdered(vals_.x));
      break;
  }
  ++i_;
  return true;
}

}  // namespace tidemark::tsdb::encoding
