// Byte-level helpers shared by the store's key and record formats: big-endian keys that sort
// like the numbers they hold, varints, and the series label encoding.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/labels.h"

namespace tidemark::tsdb::internal {

inline void PutBe64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  out->append(b, 8);
}
inline uint64_t GetBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
// Signed values as big-endian keys that sort numerically (sign bit flipped).
inline void PutOrderedI64(std::string* out, int64_t v) {
  PutBe64(out, static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}
inline int64_t GetOrderedI64(const char* p) {
  return static_cast<int64_t>(GetBe64(p) ^ (uint64_t{1} << 63));
}

inline void PutUvarint(std::string* out, uint64_t v) {
  char b[10];
  int n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  out->append(b, static_cast<size_t>(n));
}
inline void PutVarint(std::string* out, int64_t v) {
  PutUvarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
// Reads a uvarint from [*p, end); false on truncation or overflow.
inline bool GetUvarint(const char** p, const char* end, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = static_cast<uint8_t>(*(*p)++);
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}
inline bool GetVarint(const char** p, const char* end, int64_t* v) {
  uint64_t u;
  if (!GetUvarint(p, end, &u)) return false;
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}
inline void PutDouble(std::string* out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  PutBe64(out, bits);
}
inline bool GetDouble(const char** p, const char* end, double* v) {
  if (end - *p < 8) return false;
  uint64_t bits = GetBe64(*p);
  std::memcpy(v, &bits, 8);
  *p += 8;
  return true;
}

// Replaces *out with the encoding of `labels` (reusing its buffer).
inline void EncodeLabelsTo(const Labels& labels, std::string* out) {
  out->clear();
  PutUvarint(out, labels.size());
  for (const Label& l : labels) {
    PutUvarint(out, l.name.size());
    *out += l.name;
    PutUvarint(out, l.value.size());
    *out += l.value;
  }
}
inline std::string EncodeLabels(const Labels& labels) {
  std::string out;
  EncodeLabelsTo(labels, &out);
  return out;
}
inline bool DecodeLabels(std::string_view in, Labels* out) {
  const char* p = in.data();
  const char* end = p + in.size();
  uint64_t n;
  if (!GetUvarint(&p, end, &n) || n > in.size()) return false;
  out->clear();
  out->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len;
    Label l;
    if (!GetUvarint(&p, end, &len) || static_cast<uint64_t>(end - p) < len) return false;
    l.name.assign(p, len);
    p += len;
    if (!GetUvarint(&p, end, &len) || static_cast<uint64_t>(end - p) < len) return false;
    l.value.assign(p, len);
    p += len;
    out->push_back(std::move(l));
  }
  return p == end;
}

// 64-bit FNV-1a over "name\xffvalue\xff..." — the head's lookup hash for label sets.
inline uint64_t HashLabels(const Labels& labels) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<uint8_t>(c);
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (const Label& l : labels) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

}  // namespace tidemark::tsdb::internal
