// The public face of the chunk codecs: one encoding byte, then the encoding's data. This is the
// value the store writes per sealed chunk and the unit the head seals open XOR chunks into.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "tsdb/encoding/packed_chunk.h"
#include "tsdb/encoding/xor_chunk.h"

namespace tidemark::tsdb::encoding {

// First byte of an encoded chunk. kXor matches Prometheus' chunk encoding number for XOR.
enum class ChunkEncoding : uint8_t { kXor = 1, kPacked = 3 };

// Encodes samples (ts in ms, strictly increasing; vs of the same length) as the smaller of the
// packed and XOR encodings. Lossless: every double round-trips bit-exactly (NaN payloads,
// ±Inf, -0.0). Empty input gives an empty XOR chunk. Violated preconditions are programming
// errors (asserted in debug builds); more than kMaxXorSamples samples always encode packed.
std::string EncodeChunk(std::span<const int64_t> ts, std::span<const double> vs);

// Decodes an XorAppender's bytes and re-encodes them with EncodeChunk (the head's seal path).
// Corruption if the bytes are not a valid XOR chunk.
Result<std::string> SealXor(std::string_view xor_bytes);

// Sample count from an encoded chunk's header in O(1); 0 if the header is malformed.
size_t NumSamples(std::string_view encoded);

struct ChunkMeta {
  ChunkEncoding encoding = ChunkEncoding::kXor;
  size_t num_samples = 0;
  int64_t min_t = 0;  // ms; meaningless when num_samples == 0
  int64_t max_t = 0;  // ms
};
// Header facts of an encoded chunk: O(1) for packed chunks, a full decode for XOR chunks.
// Corruption on malformed input.
Result<ChunkMeta> ReadChunkMeta(std::string_view encoded);

// Forward iterator over the samples of one chunk. It does not own the bytes, which must outlive
// it. Malformed input never crashes or reads out of bounds: iteration stops and status() is
// Corruption. Not thread-safe; cheap to move.
class ChunkIterator {
 public:
  // An encoded chunk (encoding byte first). Corruption on an unknown encoding or a bad header.
  static Result<ChunkIterator> Open(std::string_view encoded);
  // Raw XOR bytes without an encoding byte, as XorAppender::bytes() or Prometheus' chunk data.
  static Result<ChunkIterator> OpenXor(std::string_view xor_bytes);

  // Moves to the next sample; false at the end or on corruption.
  bool Next() {
    if (packed_) {
      valid_ = packed_it_.Next();
      t_ = packed_it_.t();
      v_ = packed_it_.v();
    } else {
      valid_ = xor_it_.Next();
      t_ = xor_it_.t();
      v_ = xor_it_.v();
    }
    return valid_;
  }
  // Moves forward to the first sample with timestamp >= t; no-op if the current sample already
  // qualifies. False if there is none (or on corruption).
  bool Seek(int64_t t);
  // The current sample; valid after Next() or Seek() returned true.
  int64_t t() const { return t_; }
  double v() const { return v_; }
  const Status& status() const { return packed_ ? packed_it_.status() : xor_it_.status(); }
  size_t NumSamples() const { return packed_ ? packed_it_.NumSamples() : xor_it_.NumSamples(); }

 private:
  ChunkIterator() = default;

  PackedIterator packed_it_;
  XorIterator xor_it_;
  int64_t t_ = 0;
  double v_ = 0;
  bool packed_ = false;
  bool valid_ = false;  // The last Next() produced a sample.
};

}  // namespace tidemark::tsdb::encoding
