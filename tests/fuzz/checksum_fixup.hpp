#pragma once
// Mutated model files almost never carry a matching "crc32", so the loader would refuse nearly all
// of them at the checksum and the fuzzer would not reach what lies behind it. The model targets
// therefore also load each input with its checksum rewritten to match, in both ways the format
// defines (README "Model files"):
//   version 1: CRC-32 of the tensor buffer (the bytes after the 8-byte length and the header);
//   version 2: CRC-32 of the whole file with the eight digits counted as eight '0' characters.
// The digits are the eight bytes after the first `"crc32":"`; inputs without it are left alone.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bpnn::fuzz {

// zlib's CRC-32 (reflected, polynomial 0xEDB88320), continued from `crc`.
inline std::uint32_t crc32_continue(std::uint32_t crc, std::string_view bytes) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

inline void hex8_write(std::string& s, std::size_t at, std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 7; i >= 0; --i, v >>= 4) s[at + static_cast<std::size_t>(i)] = digits[v & 0xfu];
}

enum class ChecksumVersion { v1, v2 };

// `file` with its checksum digits rewritten for `version`, or nothing when it has no digits to
// rewrite (or, for version 1, no buffer inside the file).
inline std::optional<std::string> checksum_fixed(std::string_view file, ChecksumVersion version) {
  constexpr std::string_view key = "\"crc32\":\"";
  const std::size_t found = file.find(key);
  if (found == std::string_view::npos || found + key.size() + 8 > file.size()) return std::nullopt;
  const std::size_t at = found + key.size();
  std::string out(file);
  if (version == ChecksumVersion::v2) {
    out.replace(at, 8, "00000000");
    hex8_write(out, at, crc32_continue(0, out));
    return out;
  }
  if (file.size() < 8) return std::nullopt;
  std::uint64_t header = 0;
  for (int i = 0; i < 8; ++i) header |= std::uint64_t(static_cast<unsigned char>(file[static_cast<std::size_t>(i)])) << (8 * i);
  if (header > file.size() - 8) return std::nullopt;
  hex8_write(out, at, crc32_continue(0, file.substr(8 + header)));
  return out;
}

}  // namespace bpnn::fuzz
