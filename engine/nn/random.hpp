#pragma once
// The one random generator of a network or trainer: mt19937_64 with draws defined here, bit for
// bit the same on every platform (std:: distributions are implementation-defined).
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace bpnn {

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  // uniform in [0, 1), 53 random bits
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // uniform in [0, bound), unbiased (rejection of the short last interval); bound > 0
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t draw;
    do draw = engine_();
    while (draw >= limit);
    return draw % bound;
  }

  // Fisher–Yates shuffle of [first, first + count)
  template <class It>
  void shuffle(It first, std::uint64_t count) {
    for (std::uint64_t i = count; i > 1; --i) std::swap(first[i - 1], first[below(i)]);
  }

  // The generator's whole state as text (the standard's decimal form) and back, for checkpoints;
  // set_state returns false, changing nothing, for text that is not such a state.
  std::string state() const {
    std::ostringstream out;
    out << engine_;
    return out.str();
  }
  bool set_state(const std::string& text) {
    std::istringstream in(text);
    std::mt19937_64 engine;
    in >> engine;
    if (in.fail()) return false;
    in >> std::ws;
    if (!in.eof()) return false;
    engine_ = engine;
    return true;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace bpnn
