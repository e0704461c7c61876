#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tsdb/encoding/bitstream.h"

namespace tidemark::tsdb::encoding {
namespace {

TEST(BitStreamTest, WritesMsbFirstAndPadsWithZeros) {
  BitWriter w;
  w.WriteBit(true);
  w.WriteBits(0b01, 2);
  w.WriteBits(0x3ff, 10);
  EXPECT_EQ(w.bit_size(), 13u);
  ASSERT_EQ(w.bytes().size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(w.bytes()[0]), 0b10111111);
  EXPECT_EQ(static_cast<uint8_t>(w.bytes()[1]), 0b11111000);
}

TEST(BitStreamTest, RoundTripsRandomWidths) {
  std::mt19937_64 rng(7);
  std::vector<std::pair<uint64_t, int>> items;
  BitWriter w;
  for (int i = 0; i < 5000; ++i) {
    const int n = static_cast<int>(rng() % 65);
    const uint64_t v = n == 64 ? rng() : rng() & ((uint64_t{1} << n) - 1);
    items.emplace_back(v, n);
    w.WriteBits(v, n);
  }
  BitReader r(w.bytes());
  for (auto [v, n] : items) {
    uint64_t got;
    ASSERT_TRUE(r.ReadBits(n, &got));
    ASSERT_EQ(got, v) << n;
  }
  EXPECT_LT(r.BitsRemaining(), 8u);
}

TEST(BitStreamTest, CapacityStaysCloseToTheData) {
  // Open chunks hold their writer for minutes: the buffer must not run far ahead of the data.
  BitWriter w;
  for (int i = 0; i < 5000; ++i) {
    w.WriteBits(static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15u, 13);
    const size_t used = w.bytes().size();
    ASSERT_GE(w.capacity(), used);
    ASSERT_LE(w.capacity(), used + used / 4 + 64) << "after " << used << " bytes";
  }
  BitReader r(w.bytes());
  for (int i = 0; i < 5000; ++i) {
    uint64_t got;
    ASSERT_TRUE(r.ReadBits(13, &got));
    ASSERT_EQ(got, (static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15u) & 0x1fff);
  }
}

TEST(BitStreamTest, ReadingPastTheEndFails) {
  const std::string data = "\xab\xcd\xef";
  for (int first = 0; first <= 24; ++first) {
    BitReader r(data);
    uint64_t v;
    ASSERT_TRUE(r.ReadBits(first, &v));
    EXPECT_FALSE(r.ReadBits(24 - first + 1, &v));
  }
  BitReader empty{std::string_view()};
  uint64_t v;
  EXPECT_TRUE(empty.ReadBits(0, &v));
  EXPECT_FALSE(empty.ReadBits(1, &v));
  EXPECT_FALSE(empty.ReadUvarint(&v));
}

TEST(BitStreamTest, ContinuesAfterPartialByte) {
  BitWriter a;
  a.WriteBits(0b101, 3);
  a.WriteBits(0xff, 5);                             // Low 5 bits.
  BitWriter b(std::string(a.bytes()) + "\xff", 5);  // Drops the padding and the extra byte.
  b.WriteBits(0b000, 3);
  EXPECT_EQ(b.bit_size(), 8u);
  EXPECT_EQ(static_cast<uint8_t>(b.bytes()[0]), 0b10111000);
}

TEST(BitStreamTest, VarintsMatchGo) {
  std::string s;
  PutUvarint(&s, 300);
  EXPECT_EQ(s, "\xac\x02");
  s.clear();
  PutVarint(&s, -1);
  EXPECT_EQ(s, "\x01");
  ByteReader br("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02");  // Overflows 64 bits.
  uint64_t v;
  EXPECT_FALSE(br.GetUvarint(&v));
  for (int64_t x : {int64_t{0}, int64_t{-1}, INT64_MIN, INT64_MAX, int64_t{1} << 40}) {
    std::string e;
    PutVarint(&e, x);
    ByteReader r(e);
    int64_t got;
    ASSERT_TRUE(r.GetVarint(&got));
    EXPECT_EQ(got, x);
    BitReader bits(e);
    ASSERT_TRUE(bits.ReadVarint(&got));
    EXPECT_EQ(got, x);
  }
}

}  // namespace
}  // namespace tidemark::tsdb::encoding
