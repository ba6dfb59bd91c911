// The safetensors reader/writer and the CRC-32: exact round trips, and a clear Error(format) for
// every kind of damage.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "io/crc32.hpp"
#include "io/safetensors.hpp"
#include "io_test_util.hpp"
#include "same_bits.hpp"

using bpnn::ErrorKind;
using bpnn::SafetensorsFile;
using bpnn::SafetensorsTensor;
using bpnn_test::error_of;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Bytes = std::vector<unsigned char>;

using bpnn_test::same_bits;
namespace {

// A file from a header (as JSON text) and a buffer, the way any writer would lay it out.
Bytes craft(const std::string& header, const Bytes& buffer) { return bpnn_test::safetensors_craft(header, buffer); }

void le_append(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

Bytes f32_bytes(std::initializer_list<float> values) {
  Bytes out;
  for (float v : values) le_append(out, std::bit_cast<std::uint32_t>(v), 4);
  return out;
}

// The Error(format) that decoding `bytes` as "m.st" throws.
bpnn::Error decode_error(const Bytes& bytes) {
  auto e = error_of([&] { bpnn::safetensors_decode(bytes, "m.st"); });
  CHECK(e.kind() == ErrorKind::format);
  return e;
}

SafetensorsFile sample(const std::string& dtype) {
  const double tiny = dtype == "F32" ? static_cast<double>(std::numeric_limits<float>::denorm_min())
                                     : std::numeric_limits<double>::denorm_min();
  const double big = dtype == "F32" ? static_cast<double>(std::numeric_limits<float>::max())
                                    : std::numeric_limits<double>::max();
  const double third = dtype == "F32" ? static_cast<double>(1.0f / 3.0f) : 1.0 / 3.0;
  SafetensorsFile f;
  f.tensors.push_back({"0.weight", dtype, {2, 3}, {third, -0.0, tiny, big, -big, 0.1f}});
  f.tensors.push_back({"0.bias", dtype, {2}, {1.5, -2.25}});
  f.tensors.push_back({"scalar", dtype, {}, {42}});
  f.tensors.push_back({"empty", dtype, {0, 4}, {}});
  f.metadata = {{"format", "test"}, {"note", "ünïcode, \"quotes\""}};
  return f;
}

}  // namespace

TEST_CASE("crc32: the CRC-32/ISO-HDLC check value", "[io][crc32]") {
  const std::string check = "123456789";
  const Bytes bytes(check.begin(), check.end());
  CHECK(bpnn::crc32(bytes) == 0xCBF43926u);
  CHECK(bpnn::crc32_hex(0xCBF43926u) == "cbf43926");
  CHECK(bpnn::crc32_hex(0x0000ABCDu) == "0000abcd");
  CHECK(bpnn::crc32({}) == 0u);
  // Incremental updates give the same CRC as one pass.
  const std::span<const unsigned char> all(bytes);
  CHECK(bpnn::crc32_update(bpnn::crc32(all.first(4)), all.subspan(4)) == 0xCBF43926u);
}

TEST_CASE("safetensors: F32 and F64 round trip bit for bit", "[io][safetensors]") {
  bpnn_test::TempDir dir;
  for (const std::string dtype : {"F32", "F64"}) {
    INFO(dtype);
    const SafetensorsFile f = sample(dtype);
    const auto path = dir.file(dtype + ".safetensors");
    bpnn::safetensors_write(path, f);
    const SafetensorsFile g = bpnn::safetensors_read(path);
    REQUIRE(g.tensors.size() == f.tensors.size());
    for (std::size_t i = 0; i < f.tensors.size(); ++i) {
      CHECK(g.tensors[i].name == f.tensors[i].name);
      CHECK(g.tensors[i].dtype == dtype);
      CHECK(g.tensors[i].shape == f.tensors[i].shape);
      CHECK(same_bits(g.tensors[i].values, f.tensors[i].values));
    }
    CHECK(std::signbit(g.tensors[0].values[1]));
    CHECK(g.metadata == f.metadata);
    CHECK(g.data_crc32 == bpnn::crc32(bpnn::safetensors_data_encode(f.tensors)));
  }
}

TEST_CASE("safetensors: the layout other readers expect", "[io][safetensors]") {
  SafetensorsFile f;
  f.tensors.push_back({"w", "F32", {2}, {1.0, -2.0}});
  f.tensors.push_back({"b", "F64", {1}, {0.5}});
  const Bytes bytes = bpnn::safetensors_encode(f);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{bytes[static_cast<std::size_t>(i)]} << (8 * i);
  CHECK(n % 8 == 0);  // the buffer starts aligned
  REQUIRE(bytes.size() == 8 + n + 16);
  auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  CHECK(header["w"]["dtype"] == "F32");
  CHECK(header["w"]["shape"] == nlohmann::json::array({2}));
  CHECK(header["w"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(header["b"]["data_offsets"] == nlohmann::json::array({8, 16}));
  CHECK_FALSE(header.contains("__metadata__"));  // none given, none written
  const Bytes data(bytes.end() - 16, bytes.end());
  Bytes expect = f32_bytes({1.0f, -2.0f});
  le_append(expect, std::bit_cast<std::uint64_t>(0.5), 8);
  CHECK(data == expect);
}

TEST_CASE("safetensors: F16 and BF16 are read and widened exactly", "[io][safetensors]") {
  Bytes buffer;
  for (std::uint16_t h : {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x8000, 0x7C00}) le_append(buffer, h, 2);
  for (std::uint16_t h : {0x3F80, 0xC040}) le_append(buffer, h, 2);
  const auto file = bpnn::safetensors_decode(
      craft(R"({"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},)"
            R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[14,18]}})",
            buffer),
      "m.st");
  REQUIRE(file.tensors.size() == 2);
  CHECK(file.tensors[0].name == "h");
  CHECK(file.tensors[0].values ==
        std::vector<double>{1.0, -2.0, 0.5, 65504.0, std::ldexp(1.0, -24), -0.0,
                            std::numeric_limits<double>::infinity()});
  CHECK(file.tensors[1].values == std::vector<double>{1.0, -3.0});
}

TEST_CASE("safetensors: tensors are returned in buffer order whatever the header order", "[io][safetensors]") {
  const auto file = bpnn::safetensors_decode(
      craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
            R"("z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
            f32_bytes({1.0f, 2.0f})),
      "m.st");
  REQUIRE(file.tensors.size() == 2);
  CHECK(file.tensors[0].name == "z");
  CHECK(file.tensors[0].values == std::vector<double>{1.0});
  CHECK(file.tensors[1].values == std::vector<double>{2.0});
  CHECK(file.metadata.empty());
}

TEST_CASE("safetensors: every kind of damage is a clear Error(format)", "[io][safetensors]") {
  const Bytes good_data = f32_bytes({1, 2, 3, 4, 5, 6});
  const std::string w = R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})";
  auto with = [&](const std::string& header, const Bytes& data) { return craft(header, data); };
  REQUIRE(bpnn::safetensors_decode(with("{" + w + "}", good_data), "m.st").tensors.size() == 1);

  struct Case {
    const char* what;
    Bytes bytes;
    std::string message;  // the whole message after "m.st: ", or its start
  };
  Bytes too_long = with("{" + w + "}", good_data);
  too_long[0] = 0xFF;
  too_long[3] = 0x01;
  const Case cases[] = {
      {"shorter than 8 bytes", Bytes{1, 2, 3, 4, 5},
       "file is 5 bytes, too short for the 8-byte header length"},
      {"header length beyond the file", too_long, "header length 16777471 is beyond the file"},
      {"invalid JSON", with("{\"w\": [1,", good_data), "header is not valid JSON: "},
      {"not an object", with("[1, 2]", good_data), "header is not a JSON object"},
      {"entry not an object", with(R"({"w": 3})", good_data), "tensor \"w\": entry is not a JSON object"},
      {"missing dtype", with(R"({"w":{"shape":[6],"data_offsets":[0,24]}})", good_data),
       "tensor \"w\": missing \"dtype\""},
      {"dtype not a string", with(R"({"w":{"dtype":7,"shape":[6],"data_offsets":[0,24]}})", good_data),
       "tensor \"w\": \"dtype\" is not a string"},
      {"unsupported dtype", with(R"({"w":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})", good_data),
       "tensor \"w\": unsupported dtype \"I64\""},
      {"missing shape", with(R"({"w":{"dtype":"F32","data_offsets":[0,24]}})", good_data),
       "tensor \"w\": missing \"shape\""},
      {"negative dimension", with(R"({"w":{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}})", good_data),
       "tensor \"w\": \"shape\" must hold non-negative integers, got -6"},
      {"offsets not a pair", with(R"({"w":{"dtype":"F32","shape":[6],"data_offsets":[0]}})", good_data),
       "tensor \"w\": \"data_offsets\" must be an array [begin, end], got [0]"},
      {"offsets backwards", with(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[24,0]}})", good_data),
       "tensor \"w\": data_offsets [24, 0] end before they begin"},
      {"shape disagrees with offsets", with(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]}})", good_data),
       "tensor \"w\": shape [2, 2] of F32 needs 4 × 4 bytes, but data_offsets [0, 24] span 24"},
      {"offsets past the buffer", with("{" + w + "}", f32_bytes({1, 2, 3})),
       "tensor \"w\": data_offsets [0, 24] run past the end of the 12-byte buffer"},
      {"overlap",
       with(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
            good_data),
       "tensor \"b\": data_offsets [8, 24] overlap tensor \"a\""},
      {"a gap", with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
                     good_data),
       "buffer bytes [8, 16) belong to no tensor"},
      {"trailing bytes", with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", good_data),
       "buffer bytes [8, 24) belong to no tensor (trailing data)"},
      {"metadata not strings", with("{" + w + R"(,"__metadata__":{"n":1}})", good_data),
       "\"__metadata__\" value of \"n\" is not a string: 1"},
      {"metadata not an object", with("{" + w + R"(,"__metadata__":[]})", good_data),
       "\"__metadata__\" is not a JSON object"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK_THAT(decode_error(c.bytes).what(), StartsWith("m.st: " + c.message));
  }
}

TEST_CASE("safetensors: a truncated file on disk names the file", "[io][safetensors]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("m.safetensors");
  bpnn::safetensors_write(path, sample("F32"));
  Bytes bytes = bpnn_test::file_bytes(path);
  bytes.resize(bytes.size() - 3);
  bpnn_test::file_put(path, bytes);
  auto e = error_of([&] { bpnn::safetensors_read(path); });
  CHECK(e.kind() == ErrorKind::format);
  CHECK_THAT(e.what(), StartsWith(path + ": tensor "));
  CHECK_THAT(e.what(), Contains("run past the end"));

  bytes.resize(4);
  bpnn_test::file_put(path, bytes);
  CHECK_THAT(error_of([&] { bpnn::safetensors_read(path); }).what(), StartsWith(path + ": file is 4 bytes"));

  auto missing = error_of([&] { bpnn::safetensors_read(dir.file("none")); });
  CHECK(missing.kind() == ErrorKind::io);
  CHECK(std::string(missing.what()) == dir.file("none") + ": cannot open: " + std::strerror(ENOENT));
}

TEST_CASE("safetensors: bad tensors are refused before anything is written", "[io][safetensors]") {
  SafetensorsFile f;
  f.tensors.push_back({"w", "F32", {2, 2}, {1, 2, 3}});
  CHECK(error_of([&] { bpnn::safetensors_encode(f); }).kind() == ErrorKind::argument);
  f.tensors[0] = {"w", "I8", {1}, {1}};
  CHECK_THAT(error_of([&] { bpnn::safetensors_encode(f); }).what(), Contains("not \"I8\""));
  f.tensors[0] = {"__metadata__", "F32", {1}, {1}};
  CHECK(error_of([&] { bpnn::safetensors_encode(f); }).kind() == ErrorKind::argument);
  f.tensors = {{"w", "F32", {1}, {1}}, {"w", "F64", {1}, {2}}};
  CHECK_THAT(error_of([&] { bpnn::safetensors_encode(f); }).what(), Contains("used twice"));
}

TEST_CASE("safetensors: writes are atomic and leave no temporary files", "[io][safetensors]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("m.safetensors");
  bpnn::safetensors_write(path, sample("F64"));
  bpnn::safetensors_write(path, sample("F32"));  // over an existing file
  CHECK(dir.entries() == std::vector<std::string>{"m.safetensors"});
  CHECK(bpnn::safetensors_read(path).tensors[0].dtype == "F32");

  SECTION("a folder that does not exist") {
    const auto bad = dir.file("no/such/folder/m.safetensors");
    auto e = error_of([&] { bpnn::safetensors_write(bad, sample("F32")); });
    CHECK(e.kind() == ErrorKind::io);
    CHECK(std::string(e.what()) == bad + ": cannot write: " + std::strerror(ENOENT));
  }
  SECTION("a folder where the file should go is refused before anything is written") {
    std::filesystem::create_directory(dir.file("taken"));
    auto e = error_of([&] { bpnn::safetensors_write(dir.file("taken"), sample("F32")); });
    CHECK(e.kind() == ErrorKind::io);
    CHECK(std::string(e.what()) == dir.file("taken") + ": cannot write: " + std::strerror(EISDIR));
    auto entries = dir.entries();
    std::sort(entries.begin(), entries.end());
    CHECK(entries == std::vector<std::string>{"m.safetensors", "taken"});
  }
  SECTION("a folder without write permission") {
    const auto locked = dir.file("locked");
    std::filesystem::create_directory(locked);
    ::chmod(locked.c_str(), 0555);
    // Root ignores permissions: check only where the folder really is read-only.
    if (::access(locked.c_str(), W_OK) != 0) {
      auto e = error_of([&] { bpnn::safetensors_write(locked + "/m.safetensors", sample("F32")); });
      CHECK(e.kind() == ErrorKind::io);
      CHECK_THAT(e.what(), Contains(std::strerror(EACCES)));
      CHECK(std::filesystem::is_empty(locked));
    } else {
      WARN("running as root: the read-only folder case is not checkable here");
    }
  }
}
