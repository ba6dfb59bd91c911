#pragma once
// safetensors files, independent of networks.
//
// Layout: u64 little-endian N | N bytes of JSON header | byte buffer. The header maps each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the buffer) and may hold
// "__metadata__": {string: string}. Tensors are row-major and little-endian.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bpnn {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;               // "F32" or "F64"; reading also takes "F16" and "BF16"
  std::vector<std::size_t> shape;  // [] is a scalar
  std::vector<double> values;      // product(shape) values, row-major; exact for every dtype read
};

struct SafetensorsFile {
  std::vector<SafetensorsTensor> tensors;       // in buffer order
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::uint32_t data_crc32 = 0;                 // set when read: CRC-32 of the buffer as stored
};

// How many bytes of a value a message quotes.
inline constexpr std::size_t excerpt_bytes = 60;

// For messages: at most `limit` bytes of s (cut at a UTF-8 boundary, "…" appended when cut),
// with control bytes escaped (\n, \r, \t, \xHH), so a message stays one short line.
std::string text_excerpt(std::string_view s, std::size_t limit = excerpt_bytes);

// For messages: text_excerpt(s) in double quotes, and a shape as "[2, 3]".
std::string name_quote(const std::string& s);
std::string shape_format(const std::vector<std::size_t>& shape);

// The byte buffer for `tensors`, back to back in their order (F32 values rounded to float).
// Throws Error(argument) for an unwritable tensor: unknown dtype, values ≠ product(shape).
std::vector<unsigned char> safetensors_data_encode(const std::vector<SafetensorsTensor>& tensors);

// The whole file: length, header (padded with spaces to a multiple of 8 bytes), buffer.
// Throws Error(argument) as above, or for an empty, duplicate or reserved tensor name.
std::vector<unsigned char> safetensors_encode(const SafetensorsFile& file);

// Parses and validates a whole file held in memory; `source` names it in messages. Throws
// Error(format, "SOURCE: what is wrong"): too short, header length beyond the file, objects and
// arrays nested more than 3 deep (checked before parsing, so no nesting can exhaust the stack),
// invalid JSON, a NUL character in a tensor name or a metadata key or value,
// a missing or ill-typed field, an unsupported dtype, a shape that disagrees with its offsets,
// offsets outside the buffer, overlapping tensors, buffer bytes that belong to no tensor.
SafetensorsFile safetensors_decode(std::span<const unsigned char> bytes, const std::string& source);

// safetensors_decode over a file; Error(io) when it cannot be read.
SafetensorsFile safetensors_read(const std::string& path);

// safetensors_encode, then written by output_file_write (io/output_file.hpp); Error(io) on failure.
void safetensors_write(const std::string& path, const SafetensorsFile& file);

}  // namespace bpnn
