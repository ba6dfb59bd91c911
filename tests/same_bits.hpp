#pragma once
// "The same bits": two vectors of doubles equal byte for byte (so -0 ≠ 0 and NaNs compare by
// payload), the comparison behind every "identical" claim in the tests.
#include <cstring>
#include <vector>

namespace bpnn_test {

inline bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  // memcmp takes no null pointer, not even for 0 bytes (UBSan): empty vectors compare by size.
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

}  // namespace bpnn_test
