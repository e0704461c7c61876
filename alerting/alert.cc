#include "alerting/alert.h"

namespace tidemark::alerting {

uint64_t LabelsFingerprint(const Labels& labels) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis, as prometheus/common.
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const Label& l : labels) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

uint64_t Alert::Fingerprint() const { return LabelsFingerprint(labels); }

}  // namespace tidemark::alerting
