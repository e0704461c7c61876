// The packed chunk: a sealed-chunk encoding denser than XOR for what node metrics look like
// (timestamps on a regular tick; integer, page-sized, decimal or slowly varying float values).
//
// Layout (after the ChunkEncoding byte; varints are Go's, zigzag for signed):
//   count   1 byte c: n = c + 1 when c < 255, else uvarint(n - 256) follows
//   layout  1 byte: bits 0-1 TsKind, bits 2-4 ValueKind, bits 5-7 step code (kStep only:
//           1..7 = 1000, 5000, 10000, 15000, 30000, 60000, 1 ms; 0 = explicit uvarint)
//   t0      varint
//   ts      kStep: [uvarint step (> 0)] | kSequence: uvarint (t_last - t0), SeqHeader | kSingle: -
//   values  kConstRaw: 8 bytes BE | kConstInt: varint | kInt, kDecimal: varint x0, SeqHeader |
//           kFloatBits: 8 bytes BE x0, SeqHeader | kXor: 8 bytes BE v0
//   bits    for each sample i >= 1: its timestamp code (kSequence), then its value code
//           (sequence kinds, or Gorilla XOR bits for kXor); zero padding to a byte.
//
// A sequence x_0..x_{n-1} of uint64 (mod 2^64) with x_0 stored apart is coded as residuals:
// deltas d_i = x_i - x_{i-1} divided by their GCD g, then order 0 (running sum), 1 (the deltas) or
// 2 (delta of deltas, first delta q1 in the header), each residual by one coder:
//   kTruncBinary: frame of reference r - lo in [0, range], truncated binary (w-1 or w bits),
//   kRice: zigzag(r - center) Rice-coded with parameter k, escape 32 zeros + 64 raw bits,
//   kVarint: zigzag(r - center) as a uvarint's bytes,
//   kGorillaDod: Prometheus' 0/14/17/20/64-bit dod buckets.
// Up to 8 deltas may be exceptions stored in the header instead (a counter reset, the delta that
// crosses a power of two in a float-bit image, the few steps of a rare counter); they do not
// count towards g and, for order 2, leave the running delta unchanged. Order 0 has none.
// SeqHeader: 1 byte (bits 0-1 order, 2-3 coder, 4-6 decimal exponent, 7 exceptions),
// [uvarint count-1, per exception: uvarint (index gap - 1), varint delta], uvarint g,
// [order 2: varint q1], kTruncBinary: varint lo, uvarint range | kRice: varint center, 1 byte k |
// kVarint: varint center.
//
// Values are integers when every value is an integer-valued double within ±2^53 (not -0.0),
// decimals m / 10^e (e <= 6) when that round-trips bit-exactly for every value, else the
// order-preserving integer image of their IEEE bits; the encoder also prices XOR and keeps the
// smallest. Every representation is lossless by construction.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "tsdb/encoding/bitstream.h"
#include "tsdb/encoding/xor_chunk.h"

namespace tidemark::tsdb::encoding {

enum class TsKind : uint8_t { kSingle = 0, kStep = 1, kSequence = 2 };
enum class ValueKind : uint8_t {
  kConstRaw = 0,
  kConstInt = 1,
  kInt = 2,
  kDecimal = 3,
  kFloatBits = 4,
  kXor = 5,
};
enum class SeqCoder : uint8_t { kTruncBinary = 0, kRice = 1, kVarint = 2, kGorillaDod = 3 };

// Encodes samples as packed data (no encoding byte). Requires 1 <= ts.size() == vs.size() and
// strictly increasing timestamps.
std::string EncodePacked(std::span<const int64_t> ts, std::span<const double> vs);

// What the header of packed data says, without decoding samples. O(1).
struct PackedSummary {
  size_t num_samples = 0;
  int64_t min_t = 0;  // ms
  int64_t max_t = 0;  // ms
  TsKind ts_kind = TsKind::kSingle;
  ValueKind value_kind = ValueKind::kConstRaw;
};
Result<PackedSummary> ReadPackedSummary(std::string_view data);

// Decodes one residual sequence (see the file comment). Internal to PackedIterator; public so it
// can live by value in the iterator.
struct SeqDecoder {
  uint64_t x = 0;      // Current value.
  uint64_t q = 0;      // Current delta / g (order 2).
  uint64_t x0 = 0;     // First value (order 0).
  uint64_t g = 1;      // GCD of the deltas.
  uint64_t base = 0;   // lo (kTruncBinary) or center (kRice, kVarint).
  uint64_t range = 0;  // kTruncBinary: residuals lie in [lo, lo + range].
  uint64_t u = 0;      // kTruncBinary: codes below u take w - 1 bits.
  int w = 0;           // kTruncBinary: bit width of range.
  int k = 0;           // kRice parameter.
  uint8_t order = 1;
  SeqCoder coder = SeqCoder::kTruncBinary;
  bool first_delta_pending = false;  // Order 2: the next step uses q1 without reading bits.
  uint32_t i = 0;                    // Sample index of x.
  uint32_t next_exc = 0;             // Sample index of the next exception; 0 = none.
  uint8_t exc_count = 0;
  uint8_t exc_pos = 0;
  uint32_t exc_index[8] = {};  // Samples whose delta is exc_delta instead of a residual.
  uint64_t exc_delta[8] = {};

  // Advances x by one sample; false on truncated input.
  bool Next(BitReader& r);
  bool ReadResidual(BitReader& r, uint64_t* out);
};

// Iterates packed data. Never reads outside the bytes it was given; malformed input ends
// iteration with a Corruption status. The bytes must outlive the iterator. Not thread-safe.
class PackedIterator {
 public:
  PackedIterator() = default;
  // Parses the header; Corruption if it is malformed.
  Status Init(std::string_view data);

  bool Next();
  int64_t t() const { return t_; }
  double v() const { return v_; }
  const Status& status() const { return status_; }
  size_t NumSamples() const { return n_; }

 private:
  bool Fail(const char* what);
  bool Finish();
  double ValueOf(uint64_t x) const;

  BitReader r_;
  SeqDecoder ts_;
  SeqDecoder vals_;
  XorValueDecoder xor_;
  Status status_;
  int64_t t_ = 0;
  double v_ = 0;
  int64_t last_t_ = 0;  // From the header, checked at the end.
  uint64_t step_ = 0;
  double scale_ = 1;  // 10^e for decimals.
  uint32_t n_ = 0;
  uint32_t i_ = 0;
  TsKind ts_kind_ = TsKind::kSingle;
  ValueKind value_kind_ = ValueKind::kConstRaw;
};

// The order-preserving integer image of a double's bits (an involution).
inline uint64_t FloatBitsToOrdered(uint64_t b) {
  return b ^ (static_cast<uint64_t>(static_cast<int64_t>(b) >> 63) >> 1);
}

}  // namespace tidemark::tsdb::encoding
