// Prometheus' XOR ("Gorilla") chunk, byte-compatible with prometheus/prometheus@v2.42.0
// tsdb/chunkenc/xor.go: uint16 BE sample count | varint t0 | 64-bit v0 | uvarint t1-t0 | xor(v1) |
// per further sample dod(t) in 0/14/17/20/64-bit buckets and xor(v) | zero padding to a byte.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "tsdb/encoding/bitstream.h"

namespace tidemark::tsdb::encoding {

// Most samples one XOR chunk can hold (the uint16 header).
inline constexpr size_t kMaxXorSamples = 65535;

// Gorilla value compression with Prometheus' window rule (reuse the previous leading/trailing
// window whenever the new XOR fits in it). One instance per value stream.
class XorValueEncoder {
 public:
  // Starts a stream whose first value (stored raw by the caller) has these bits.
  explicit XorValueEncoder(uint64_t first_bits = 0) : prev_(first_bits) {}
  // Appends the next value; with w == nullptr only advances the state. Returns the bits written.
  int Append(uint64_t bits, BitWriter* w);
  uint64_t prev() const { return prev_; }
  uint8_t leading() const { return leading_; }
  uint8_t trailing() const { return trailing_; }
  void Restore(uint64_t prev, uint8_t leading, uint8_t trailing) {
    prev_ = prev;
    leading_ = leading;
    trailing_ = trailing;
  }

 private:
  uint64_t prev_;
  uint8_t leading_ = 0xff;  // Sentinel: no window yet.
  uint8_t trailing_ = 0;
};

// Reads values written by XorValueEncoder. Bounds-checked through the BitReader.
class XorValueDecoder {
 public:
  explicit XorValueDecoder(uint64_t first_bits = 0) : bits_(first_bits) {}
  // Decodes the next value into bits(); false on truncated or inconsistent input.
  bool Next(BitReader& r) {
    r.Refill();
    if (r.available() >= 2 + 5 + 6) {
      const uint64_t head = r.Peek(2);
      if (head < 2) {  // '0': unchanged.
        r.Consume(1);
        return true;
      }
      if (head == 2) {  // '10': reuse the window.
        r.Consume(2);
      } else {
        const uint64_t lw = r.Peek(13);
        r.Consume(13);
        leading_ = static_cast<uint8_t>((lw >> 6) & 31);
        int sig = static_cast<int>(lw & 63);
        if (sig == 0) sig = 64;
        if (leading_ + sig > 64) return false;
        trailing_ = static_cast<uint8_t>(64 - leading_ - sig);
        has_window_ = true;
      }
    } else {
      const int c = SlowControl(r);
      if (c <= 0) return c == 0;
    }
    const int sig = 64 - leading_ - trailing_;
    uint64_t v;
    if (!r.ReadBits(sig, &v)) return false;
    bits_ ^= v << trailing_;
    return true;
  }
  uint64_t bits() const { return bits_; }
  uint8_t leading() const { return leading_; }
  uint8_t trailing() const { return trailing_; }
  // Whether a '11' (new window) control has been read yet.
  bool has_window() const { return has_window_; }

 private:
  // Control bits bit by bit near the end of the data: -1 on truncation, 0 if the value is
  // unchanged, 1 if a window (leading_/trailing_) of bits follows.
  int SlowControl(BitReader& r);

  uint64_t bits_;
  uint8_t leading_ = 0;  // Prometheus' reader starts from a 0/0 window.
  uint8_t trailing_ = 0;
  bool has_window_ = false;
};

// Appends samples to an XOR chunk one at a time in O(1); this is the head's open chunk.
// Memory: the encoded bytes plus ~40 bytes of state. Not thread-safe.
class XorAppender {
 public:
  XorAppender();
  // Re-opens a chunk from its bytes (e.g. after a restart) to continue appending; decodes every
  // sample once. Corruption if the bytes are not a valid XOR chunk.
  static Result<XorAppender> FromBytes(std::string_view bytes);

  // InvalidArgument if t is not greater than the last timestamp, or the chunk is full
  // (kMaxXorSamples).
  [[nodiscard]] Status Append(int64_t t, double v);

  // The chunk as Prometheus lays it out (no encoding byte); valid until the next Append.
  std::string_view bytes() const { return w_.bytes(); }
  size_t NumSamples() const { return n_; }
  // First and last timestamp in ms; meaningless when NumSamples() == 0.
  int64_t first_t() const { return t0_; }
  int64_t last_t() const { return t_; }
  // Heap bytes held (the buffer's capacity).
  size_t MemoryUsage() const { return w_.capacity(); }

 private:
  BitWriter w_;
  XorValueEncoder values_;
  int64_t t0_ = 0;
  int64_t t_ = 0;
  uint64_t t_delta_ = 0;
  uint32_t n_ = 0;
};

// Iterates an XOR chunk's bytes (as XorAppender::bytes() or Prometheus' chunk data). Never reads
// outside the given bytes; malformed input ends iteration with a Corruption status, including
// timestamps that do not strictly increase. The bytes must outlive the iterator.
class XorIterator {
 public:
  XorIterator() = default;
  explicit XorIterator(std::string_view data);

  // Advances to the next sample; false at the end or on corruption (see status()).
  bool Next();
  int64_t t() const { return t_; }
  double v() const { return std::bit_cast<double>(values_.bits()); }
  const Status& status() const { return status_; }
  // Sample count from the header (0 when the header itself is missing).
  size_t NumSamples() const { return n_; }

 private:
  friend class XorAppender;
  bool Fail(const char* what);

  BitReader r_;
  XorValueDecoder values_;
  Status status_;
  int64_t t_ = 0;
  int64_t first_t_ = 0;
  uint64_t t_delta_ = 0;
  uint32_t n_ = 0;
  uint32_t i_ = 0;
  size_t total_bits_ = 0;
  size_t data_bits_ = 0;  // Bits before the padding; set once the end is reached.
};

}  // namespace tidemark::tsdb::encoding
