#pragma once
// Helpers shared by the data and model-file tests: a fresh temporary folder, files in it, and the
// Error a call throws.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "io/crc32.hpp"

namespace bpnn_test {

// A new empty folder under the system temporary folder, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device device;
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
      path = base / ("bpnn-test-" + std::to_string(device()) + std::to_string(device()));
      if (std::filesystem::create_directory(path)) break;
    }
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(file(name), std::ios::binary) << bytes;
    return file(name);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path)) out.push_back(e.path().filename().string());
    return out;
  }
};

inline std::vector<unsigned char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void file_put(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file from a header (as JSON text) and a buffer, the way any writer lays it out.
// Copied into a buffer of the final size: growing a vector by insert() trips GCC 12's
// -Wstringop-overread false positive.
inline std::vector<unsigned char> safetensors_craft(const std::string& header,
                                                    const std::vector<unsigned char>& buffer) {
  std::vector<unsigned char> out(8 + header.size() + buffer.size());
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(buffer.begin(), buffer.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

// Recomputes a version 2 model file's checksum after a test edited it, straight from the
// documented rule (io/model_file.hpp): CRC-32 of the whole file with the eight hex digits after
// the one `"crc32":"` read as '0's. Returns false when the header has no such field.
inline bool model_bytes_seal(std::vector<unsigned char>& bytes) {
  static const std::string key = "\"crc32\":\"";
  std::uint64_t n = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(bytes.size()); ++i)
    n |= std::uint64_t{bytes[static_cast<std::size_t>(i)]} << (8 * i);
  const auto end = bytes.begin() + static_cast<std::ptrdiff_t>(8 + n);
  const auto it = std::search(bytes.begin() + 8, end, key.begin(), key.end());
  if (it == end) return false;
  const auto digits = it + static_cast<std::ptrdiff_t>(key.size());
  std::fill(digits, digits + 8, '0');
  const std::string hex = bpnn::crc32_hex(bpnn::crc32(bytes));
  std::copy(hex.begin(), hex.end(), digits);
  return true;
}

// The bpnn::Error that f throws; fails the test when it throws nothing.
template <class F>
bpnn::Error error_of(F&& f) {
  try {
    f();
  } catch (const bpnn::Error& e) {
    return e;
  }
  FAIL("expected a bpnn::Error, nothing was thrown");
  return bpnn::Error(bpnn::ErrorKind::internal, "unreachable");
}

// The Error(data) of parsing `text` as "t.csv".
inline bpnn::Error csv_error(const std::string& text, const bpnn::CsvOptions& options = {}) {
  auto e = error_of([&] { bpnn::parse_csv(text, "t.csv", options); });
  CHECK(e.kind() == bpnn::ErrorKind::data);
  return e;
}

}  // namespace bpnn_test
