#include "tsdb/encoding/bitstream.h"

#include <algorithm>
#include <utility>

namespace tidemark::tsdb::encoding {

BitWriter::BitWriter(std::string bytes, size_t bit_size) : buf_(std::move(bytes)) {
  buf_.resize((bit_size + 7) / 8);
  len_ = buf_.size();
  free_ = static_cast<int>(len_ * 8 - bit_size);
  if (free_ > 0) {
    buf_.back() = static_cast<char>(static_cast<uint8_t>(buf_.back()) & (0xff << free_));
  }
}

void BitWriter::WriteBits(uint64_t v, int n) {
  if (n <= 0) return;
  if (n < 64) v &= (uint64_t{1} << n) - 1;
  if (len_ + 9 > buf_.size()) Grow(len_ + 9);
  uint8_t* b = reinterpret_cast<uint8_t*>(buf_.data());
  if (free_ > 0) {  // Fill the unused low bits of the last byte first.
    const int take = std::min(n, free_);
    const uint64_t top = v >> (n - take);
    b[len_ - 1] = static_cast<uint8_t>(b[len_ - 1] | (top << (free_ - take)));
    free_ -= take;
    n -= take;
    if (n == 0) return;
    v &= (uint64_t{1} << n) - 1;  // n < 64 here.
  }
  // Byte-aligned now: store the remaining n bits as whole bytes, left-aligned. Bytes past len_
  // are zero, so the last byte's unused low bits stay clear.
  const int nbytes = (n + 7) / 8;
  const int pad = nbytes * 8 - n;
  const uint64_t x = v << pad;
  for (int i = 0; i < nbytes; ++i) b[len_ + i] = static_cast<uint8_t>(x >> (8 * (nbytes - 1 - i)));
  len_ += static_cast<size_t>(nbytes);
  free_ = pad;
}

void BitWriter::Grow(size_t need) {
  // A quarter more (at least 32 bytes), rounded so that capacity + NUL + malloc's 8-byte header
  // fill a 16-byte size class. std::string::resize/reserve would at least double the capacity on
  // every step (libstdc++), which left a growing open chunk at 2-4x its data.
  size_t cap = std::max(need, buf_.size() + std::max<size_t>(32, buf_.size() / 4));
  cap = (cap + 9 + 15) / 16 * 16 - 9;
  std::string next;
  next.reserve(cap);  // From an empty string: exactly cap once cap >= 30.
  next.append(buf_.data(), len_);
  next.resize(cap);  // Zero-filled past len_, as WriteBits expects.
  buf_.swap(next);
}

bool BitReader::ReadUvarint(uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    uint64_t b;
    if (!ReadBits(8, &b)) return false;
    if (shift == 63 && b > 1) return false;  // Overflows 64 bits.
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool BitReader::ReadVarint(int64_t* out) {
  uint64_t u;
  if (!ReadUvarint(&u)) return false;
  *out = UnZigZag(u);
  return true;
}

void PutUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutFixed64BE(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

bool ByteReader::GetU8(uint8_t* out) {
  if (pos_ >= data_.size()) return false;
  *out = static_cast<uint8_t>(data_[pos_++]);
  return true;
}

bool ByteReader::GetUvarint(uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos_ >= data_.size()) return false;
    const uint64_t b = static_cast<uint8_t>(data_[pos_++]);
    if (shift == 63 && b > 1) return false;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool ByteReader::GetVarint(int64_t* out) {
  uint64_t u;
  if (!GetUvarint(&u)) return false;
  *out = UnZigZag(u);
  return true;
}

bool ByteReader::GetFixed64BE(uint64_t* out) {
  if (data_.size() - pos_ < 8) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 8;
  *out = v;
  return true;
}

}  // namespace tidemark::tsdb::encoding
