// UTF-8 well-formedness by Unicode Table 3-7; see utf8.hpp.
#include "data/utf8.hpp"

namespace bpnn {
namespace {

bool in(unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; }

}  // namespace

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t left = s.size() - i;
  const unsigned char c = at(0);
  if (c < 0x80) return 1;
  // The allowed range of the second byte for each lead byte; later bytes are always 80..BF.
  unsigned char lo = 0x80, hi = 0xBF;
  std::size_t length;
  if (in(c, 0xC2, 0xDF)) length = 2;
  else if (c == 0xE0) length = 3, lo = 0xA0;
  else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) length = 3;
  else if (c == 0xED) length = 3, hi = 0x9F;  // D800..DFFF are surrogates
  else if (c == 0xF0) length = 4, lo = 0x90;
  else if (in(c, 0xF1, 0xF3)) length = 4;
  else if (c == 0xF4) length = 4, hi = 0x8F;  // nothing above U+10FFFF
  else return 0;                                // 80..C1 (continuations, overlong), F5..FF
  if (left < length || !in(at(1), lo, hi)) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (!in(at(k), 0x80, 0xBF)) return 0;
  return length;
}

std::size_t utf8_invalid_offset(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(s, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

char32_t utf8_decode(std::string_view s, std::size_t i, std::size_t length) {
  const auto at = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k])); };
  switch (length) {
    case 1: return at(0);
    case 2: return (at(0) & 0x1F) << 6 | (at(1) & 0x3F);
    case 3: return (at(0) & 0x0F) << 12 | (at(1) & 0x3F) << 6 | (at(2) & 0x3F);
    default: return (at(0) & 0x07) << 18 | (at(1) & 0x3F) << 12 | (at(2) & 0x3F) << 6 | (at(3) & 0x3F);
  }
}

}  // namespace bpnn
