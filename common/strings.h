// Small string helpers shared by the HTTP and text-format code.
#pragma once

#include <cctype>
#include <string_view>

namespace tidemark {

// ASCII case-insensitive equality (HTTP header names, "NaN"/"Inf" spellings).
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace tidemark
