#pragma once
// IDX files built by hand for the tests: header, big-endian values, plain or gzip (zlib).
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bpnn_test {

// The bytes of an IDX file: 00 00 TYPE NDIMS, the sizes big-endian, then `body` as it is.
inline std::string idx_bytes(unsigned char type, const std::vector<std::uint32_t>& dims, const std::string& body) {
  std::string b{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b += static_cast<char>((d >> s) & 0xff);
  return b + body;
}

// An unsigned-byte IDX file of `dims` holding `values` (each 0–255).
inline std::string idx_ubyte(const std::vector<std::uint32_t>& dims, const std::vector<int>& values) {
  std::string body;
  for (int v : values) body += static_cast<char>(v);
  return idx_bytes(0x08, dims, body);
}

inline void file_write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// `bytes` gzip-compressed into `p` by zlib.
inline void gz_write(const std::filesystem::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

}  // namespace bpnn_test
