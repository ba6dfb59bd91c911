#include "io/crc32.hpp"

#include <array>

namespace bpnn {
namespace {

// table[b] = CRC of the single byte b: eight shift-and-conditional-xor steps of the reflected
// polynomial. Computed by the compiler; the table is a constant.
constexpr std::array<std::uint32_t, 256> crc32_table_make() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[b] = c;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> crc32_table = crc32_table_make();
static_assert(crc32_table[1] == 0x77073096u && crc32_table[255] == 0x2D02EF8Du);

}  // namespace

// crc ← table[(crc ⊕ byte) & 0xFF] ⊕ (crc >> 8) per byte, between the initial and final inversion.
std::uint32_t crc32_update(std::uint32_t crc, std::span<const unsigned char> bytes) {
  crc = ~crc;
  for (unsigned char b : bytes) crc = crc32_table[(crc ^ b) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

std::string crc32_hex(std::uint32_t crc) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i, crc >>= 4) out[static_cast<std::size_t>(i)] = digits[crc & 0xFu];
  return out;
}

}  // namespace bpnn
