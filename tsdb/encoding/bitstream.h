// Bit-level and byte-level primitives for the chunk codecs: an MSB-first bit writer (the layout of
// Prometheus' bstream), a bounds-checked bit reader, and (zigzag) varints.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tidemark::tsdb::encoding {

// Appends bits to a byte string, most significant bit first; the last byte is zero-padded.
// Not thread-safe.
class BitWriter {
 public:
  BitWriter() = default;
  // Continues `bytes` whose first `bit_size` bits are data; bits after them are cleared.
  // Requires bit_size <= 8 * bytes.size().
  BitWriter(std::string bytes, size_t bit_size);

  // Appends the low `n` bits of `v`, most significant first. n in [0, 64].
  void WriteBits(uint64_t v, int n);
  void WriteBit(bool bit) { WriteBits(bit ? 1 : 0, 1); }
  // Appends one byte at the current bit position (not necessarily byte-aligned).
  void WriteByte(uint8_t b) { WriteBits(b, 8); }

  std::string_view bytes() const { return std::string_view(buf_.data(), len_); }
  // Number of data bits written so far.
  size_t bit_size() const { return len_ * 8 - free_; }
  // The written bytes, for patching a header in place (bytes().size() of them are valid).
  char* data() { return buf_.data(); }
  // Heap bytes reserved by the buffer.
  size_t capacity() const { return buf_.capacity(); }
  std::string Release() && {
    buf_.resize(len_);
    return std::move(buf_);
  }

 private:
  // Reallocates buf_ to hold at least `need` bytes, zero-filled past len_.
  void Grow(size_t need);

  // buf_ is grown ahead by a quarter (Grow) and zero-filled; only its first len_ bytes are data,
  // so a write is a few stores instead of a std::string::append per call.
  std::string buf_;
  size_t len_ = 0;
  int free_ = 0;  // Unused low bits of the last byte of buf_.
};

// Reads bits MSB-first from a byte range it does not own. Every read is bounds-checked: reading
// past the end returns false and never touches memory outside the range. Not thread-safe.
class BitReader {
 public:
  BitReader() = default;
  explicit BitReader(std::string_view data)
      : next_(reinterpret_cast<const uint8_t*>(data.data())), end_(next_ + data.size()) {}

  // Bits not yet consumed.
  size_t BitsRemaining() const { return static_cast<size_t>(end_ - next_) * 8 + avail_; }

  // Buffers as many bits as possible (at least 57 unless the data ends first).
  void Refill() {
    if (end_ - next_ >= 8) {
      uint64_t w;
      std::memcpy(&w, next_, 8);
      if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
      buf_ |= w >> avail_;
      const int bytes = (63 - avail_) >> 3;
      next_ += bytes;
      avail_ += bytes * 8;
    } else {
      while (avail_ <= 56 && next_ < end_) {
        buf_ |= static_cast<uint64_t>(*next_++) << (56 - avail_);
        avail_ += 8;
      }
    }
  }
  // Bits currently buffered; Peek/Consume may use at most this many.
  int available() const { return avail_; }
  // The next n bits (n in [0, 57]) without consuming them; bits past the end read as zero.
  uint64_t Peek(int n) const { return buf_ >> (63 - n) >> 1; }
  // The whole 64-bit window; only the first available() bits are meaningful (the rest are
  // zero at the end of the data).
  uint64_t Window() const { return buf_; }
  // Drops n buffered bits; requires n <= available().
  void Consume(int n) {
    buf_ = (buf_ << (n & 63)) & (n == 64 ? 0 : ~uint64_t{0});
    avail_ -= n;
  }

  // Reads n bits (n in [0, 64]) into *out. False if fewer than n bits remain.
  bool ReadBits(int n, uint64_t* out) {
    if (n > 56) {
      uint64_t hi = 0, lo = 0;
      if (!ReadBits(n - 32, &hi) || !ReadBits(32, &lo)) return false;
      *out = (hi << 32) | lo;
      return true;
    }
    if (avail_ < n) {
      Refill();
      if (avail_ < n) return false;
    }
    *out = Peek(n);
    buf_ <<= n;
    avail_ -= n;
    return true;
  }
  bool ReadBit(bool* out) {
    uint64_t b;
    if (!ReadBits(1, &b)) return false;
    *out = b != 0;
    return true;
  }
  // A uvarint stored as whole bytes in the bit stream (Prometheus writes varints with writeByte).
  bool ReadUvarint(uint64_t* out);
  bool ReadVarint(int64_t* out);

 private:
  const uint8_t* next_ = nullptr;  // First byte not yet in buf_.
  const uint8_t* end_ = nullptr;
  uint64_t buf_ = 0;  // Buffered bits, MSB-aligned.
  int avail_ = 0;     // Valid bits at the top of buf_.
};

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

// Number of bytes PutUvarint writes for v.
inline int UvarintSize(uint64_t v) { return v == 0 ? 1 : (std::bit_width(v) + 6) / 7; }
// Appends v as a base-128 varint (Go's binary.PutUvarint).
void PutUvarint(std::string* out, uint64_t v);
// Appends v zigzag-encoded (Go's binary.PutVarint).
inline void PutVarint(std::string* out, int64_t v) { PutUvarint(out, ZigZag(v)); }
void PutFixed64BE(std::string* out, uint64_t v);

// A bounds-checked cursor over bytes it does not own. Every getter returns false at the end or on
// a malformed varint.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  bool GetU8(uint8_t* out);
  bool GetUvarint(uint64_t* out);
  bool GetVarint(int64_t* out);
  bool GetFixed64BE(uint64_t* out);
  size_t pos() const { return pos_; }
  std::string_view rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace tidemark::tsdb::encoding
