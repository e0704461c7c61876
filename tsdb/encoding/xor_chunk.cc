#include "tsdb/encoding/xor_chunk.h"

#include <utility>

namespace tidemark::tsdb::encoding {
namespace {

// Prometheus' bitRange: -(2^(n-1)-1) <= x <= 2^(n-1).
bool BitRange(int64_t x, int n) {
  return -((int64_t{1} << (n - 1)) - 1) <= x && x <= (int64_t{1} << (n - 1));
}

void WriteUvarintBytes(BitWriter& w, uint64_t v) {
  while (v >= 0x80) {
    w.WriteByte(static_cast<uint8_t>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  w.WriteByte(static_cast<uint8_t>(v));
}

}  // namespace

int XorValueEncoder::Append(uint64_t bits, BitWriter* w) {
  const uint64_t delta = bits ^ prev_;
  prev_ = bits;
  if (delta == 0) {
    if (w != nullptr) w->WriteBit(false);
    return 1;
  }
  int lead = std::countl_zero(delta);
  const int trail = std::countr_zero(delta);
  if (lead >= 32) lead = 31;
  if (leading_ != 0xff && lead >= leading_ && trail >= trailing_) {
    const int sig = 64 - leading_ - trailing_;
    if (w != nullptr) {
      w->WriteBits(0b10, 2);
      w->WriteBits(delta >> trailing_, sig);
    }
    return 2 + sig;
  }
  leading_ = static_cast<uint8_t>(lead);
  trailing_ = static_cast<uint8_t>(trail);
  const int sig = 64 - lead - trail;
  if (w != nullptr) {
    w->WriteBits(0b11, 2);
    w->WriteBits(static_cast<uint64_t>(lead), 5);
    w->WriteBits(static_cast<uint64_t>(sig & 63), 6);  // 64 is written as 0.
    w->WriteBits(delta >> trail, sig);
  }
  return 2 + 5 + 6 + sig;
}

int XorValueDecoder::SlowControl(BitReader& r) {
  bool b;
  if (!r.ReadBit(&b)) return -1;
  if (!b) return 0;
  if (!r.ReadBit(&b)) return -1;
  if (!b) return 1;
  uint64_t lead, sig;
  if (!r.ReadBits(5, &lead) || !r.ReadBits(6, &sig)) return -1;
  if (sig == 0) sig = 64;
  if (lead + sig > 64) return -1;
  leading_ = static_cast<uint8_t>(lead);
  trailing_ = static_cast<uint8_t>(64 - lead - sig);
  has_window_ = true;
  return 1;
}

XorAppender::XorAppender() : w_(std::string(2, '\0'), 16) {}

Result<XorAppender> XorAppender::FromBytes(std::string_view bytes) {
  XorIterator it(bytes);
  while (it.Next()) {
  }
  if (!it.status().ok()) return it.status();
  XorAppender a;
  const size_t bits = 16 + it.data_bits_;  // 16: the sample count.
  a.w_ = BitWriter(std::string(bytes), bits);
  a.n_ = it.n_;
  if (a.n_ > 0) {
    a.t0_ = it.first_t_;
    a.t_ = it.t_;
    a.t_delta_ = it.t_delta_;
    const bool window = it.values_.has_window();
    a.values_.Restore(it.values_.bits(), window ? it.values_.leading() : 0xff,
                      window ? it.values_.trailing() : 0);
  }
  return a;
}

Status XorAppender::Append(int64_t t, double v) {
  if (n_ >= kMaxXorSamples) return Status::InvalidArgument("xor chunk full");
  if (n_ > 0 && t <= t_) return Status::InvalidArgument("xor chunk: timestamp not increasing");
  const uint64_t vb = std::bit_cast<uint64_t>(v);
  const uint64_t delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
  if (n_ == 0) {
    WriteUvarintBytes(w_, ZigZag(t));
    w_.WriteBits(vb, 64);
    values_.Restore(vb, 0xff, 0);
    t0_ = t;
  } else if (n_ == 1) {
    WriteUvarintBytes(w_, delta);
    values_.Append(vb, &w_);
  } else {
    const int64_t dod = static_cast<int64_t>(delta - t_delta_);
    const uint64_t u = static_cast<uint64_t>(dod);
    if (dod == 0) {
      w_.WriteBit(false);
    } else if (BitRange(dod, 14)) {
      w_.WriteBits(0b10, 2);
      w_.WriteBits(u, 14);
    } else if (BitRange(dod, 17)) {
      w_.WriteBits(0b110, 3);
      w_.WriteBits(u, 17);
    } else if (BitRange(dod, 20)) {
      w_.WriteBits(0b1110, 4);
      w_.WriteBits(u, 20);
    } else {
      w_.WriteBits(0b1111, 4);
      w_.WriteBits(u, 64);
    }
    values_.Append(vb, &w_);
  }
  t_ = t;
  t_delta_ = delta;
  ++n_;
  char* b = w_.data();
  b[0] = static_cast<char>(n_ >> 8);
  b[1] = static_cast<char>(n_ & 0xff);
  return Status::Ok();
}

XorIterator::XorIterator(std::string_view data) {
  if (data.size() < 2) {
    status_ = Status::Corruption("xor chunk: missing header");
    return;
  }
  n_ = (static_cast<uint32_t>(static_cast<uint8_t>(data[0])) << 8) | static_cast<uint8_t>(data[1]);
  r_ = BitReader(data.substr(2));
  total_bits_ = r_.BitsRemaining();
}

bool XorIterator::Fail(const char* what) {
  status_ = Status::Corruption(std::string("xor chunk: ") + what);
  i_ = n_ + 1;
  return false;
}

bool XorIterator::Next() {
  if (i_ >= n_) {
    if (i_ == n_ && status_.ok()) {
      ++i_;
      // Only zero padding may follow the last sample.
      const size_t rest = r_.BitsRemaining();
      data_bits_ = total_bits_ - rest;
      uint64_t pad = 0;
      if (rest >= 8 || !r_.ReadBits(static_cast<int>(rest), &pad) || pad != 0) {
        return Fail("trailing data after the last sample");
      }
    }
    return false;
  }
  if (i_ == 0) {
    int64_t t0;
    uint64_t vb;
    if (!r_.ReadVarint(&t0) || !r_.ReadBits(64, &vb)) return Fail("truncated first sample");
    t_ = t0;
    first_t_ = t0;
    values_ = XorValueDecoder(vb);
    ++i_;
    return true;
  }
  uint64_t delta;
  if (i_ == 1) {
    if (!r_.ReadUvarint(&delta)) return Fail("truncated second timestamp");
  } else {
    r_.Refill();
    int sz = 0;
    uint64_t dod = 0;
    if (r_.available() >= 4) {
      const uint64_t p = r_.Peek(4);
      if (p < 0b1000) {
        r_.Consume(1);
      } else if (p < 0b1100) {
        r_.Consume(2);
        sz = 14;
      } else if (p < 0b1110) {
        r_.Consume(3);
        sz = 17;
      } else if (p == 0b1110) {
        r_.Consume(4);
        sz = 20;
      } else {
        r_.Consume(4);
        sz = 64;
      }
    } else {
      int ones = 0;
      for (; ones < 4; ++ones) {
        bool b;
        if (!r_.ReadBit(&b)) return Fail("truncated timestamp");
        if (!b) break;
      }
      static constexpr int kSizes[5] = {0, 14, 17, 20, 64};
      sz = kSizes[ones];
    }
    if (sz == 64) {
      if (!r_.ReadBits(64, &dod)) return Fail("truncated timestamp");
    } else if (sz != 0) {
      if (!r_.ReadBits(sz, &dod)) return Fail("truncated timestamp");
      if (dod > (uint64_t{1} << (sz - 1))) dod -= uint64_t{1} << sz;
    }
    delta = t_delta_ + dod;
  }
  const int64_t t = static_cast<int64_t>(static_cast<uint64_t>(t_) + delta);
  if (t <= t_) return Fail("timestamps not increasing");
  if (!values_.Next(r_)) return Fail("truncated value");
  t_ = t;
  t_delta_ = delta;
  ++i_;
  return true;
}

}  // namespace tidemark::tsdb::encoding
