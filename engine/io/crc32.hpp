#pragma once
// CRC-32/ISO-HDLC (the zlib, PNG and gzip CRC): reflected polynomial 0xEDB88320, initial value and
// final xor 0xFFFFFFFF. crc32("123456789") = 0xCBF43926.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace bpnn {

// Continues `crc` (the value returned for the bytes before) over `bytes`; start from 0.
std::uint32_t crc32_update(std::uint32_t crc, std::span<const unsigned char> bytes);

inline std::uint32_t crc32(std::span<const unsigned char> bytes) { return crc32_update(0, bytes); }

// Eight lowercase hex digits, e.g. "cbf43926".
std::string crc32_hex(std::uint32_t crc);

}  // namespace bpnn
