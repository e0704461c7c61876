#include "tsdb/encoding/chunk.h"

#include <cassert>
#include <vector>

namespace tidemark::tsdb::encoding {

std::string EncodeChunk(std::span<const int64_t> ts, std::span<const double> vs) {
  assert(ts.size() == vs.size());
  const size_t n = std::min(ts.size(), vs.size());
  std::string best;
  if (n > 0) {
    best.push_back(static_cast<char>(ChunkEncoding::kPacked));
    best += EncodePacked(ts.first(n), vs.first(n));
  }
  if (n <= kMaxXorSamples) {
    XorAppender app;
    for (size_t i = 0; i < n; ++i) app.Append(ts[i], vs[i]).PermitUncheckedError();
    if (best.empty() || app.bytes().size() + 1 < best.size()) {
      best.assign(1, static_cast<char>(ChunkEncoding::kXor));
      best += app.bytes();
    }
  }
  return best;
}

Result<std::string> SealXor(std::string_view xor_bytes) {
  XorIterator it(xor_bytes);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  ts.reserve(it.NumSamples());
  vs.reserve(it.NumSamples());
  while (it.Next()) {
    ts.push_back(it.t());
    vs.push_back(it.v());
  }
  if (!it.status().ok()) return it.status();
  return EncodeChunk(ts, vs);
}

size_t NumSamples(std::string_view encoded) {
  if (encoded.empty()) return 0;
  switch (static_cast<ChunkEncoding>(encoded[0])) {
    case ChunkEncoding::kXor:
      if (encoded.size() < 3) return 0;
      return (static_cast<size_t>(static_cast<uint8_t>(encoded[1])) << 8) |
             static_cast<uint8_t>(encoded[2]);
    case ChunkEncoding::kPacked: {
      auto s = ReadPackedSummary(encoded.substr(1));
      return s.ok() ? s->num_samples : 0;
    }
  }
  return 0;
}

Result<ChunkMeta> ReadChunkMeta(std::string_view encoded) {
  if (encoded.empty()) return Status::Corruption("chunk: empty");
  ChunkMeta m;
  switch (static_cast<ChunkEncoding>(encoded[0])) {
    case ChunkEncoding::kXor: {
      m.encoding = ChunkEncoding::kXor;
      XorIterator it(encoded.substr(1));
      bool first = true;
      while (it.Next()) {
        if (first) m.min_t = it.t();
        first = false;
        m.max_t = it.t();
      }
      if (!it.status().ok()) return it.status();
      m.num_samples = it.NumSamples();
      return m;
    }
    case ChunkEncoding::kPacked: {
      auto s = ReadPackedSummary(encoded.substr(1));
      if (!s.ok()) return s.status();
      m.encoding = ChunkEncoding::kPacked;
      m.num_samples = s->num_samples;
      m.min_t = s->min_t;
      m.max_t = s->max_t;
      return m;
    }
  }
  return Status::Corruption("chunk: unknown encoding " +
                            std::to_string(static_cast<uint8_t>(encoded[0])));
}

Result<ChunkIterator> ChunkIterator::Open(std::string_view encoded) {
  if (encoded.empty()) return Status::Corruption("chunk: empty");
  switch (static_cast<ChunkEncoding>(encoded[0])) {
    case ChunkEncoding::kXor:
      return OpenXor(encoded.substr(1));
    case ChunkEncoding::kPacked: {
      ChunkIterator it;
      it.packed_ = true;
      TIDEMARK_RETURN_IF_ERROR(it.packed_it_.Init(encoded.substr(1)));
      return it;
    }
  }
  return Status::Corruption("chunk: unknown encoding " +
                            std::to_string(static_cast<uint8_t>(encoded[0])));
}

Result<ChunkIterator> ChunkIterator::OpenXor(std::string_view xor_bytes) {
  ChunkIterator it;
  it.xor_it_ = XorIterator(xor_bytes);
  if (!it.xor_it_.status().ok()) return it.xor_it_.status();
  return it;
}

bool ChunkIterator::Seek(int64_t t) {
  if (valid_ && t_ >= t) return true;
  while (Next()) {
    if (t_ >= t) return true;
  }
  return false;
}

}  // namespace tidemark::tsdb::encoding
