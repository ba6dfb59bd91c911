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

// For messages: a name in double quotes, and a shape as "[2, 3]".
std::string name_quote(const std::string& s);
std::string shape_format(const std::vector<std::size_t>& shape);

// The byte buffer for `tensors`, back to back in their order (F32 values rounded to float).
// Throws Error(argument) for an unwritable tensor: unknown dtype, values ≠ product(shape).
std::vector<unsigned char> safetensors_data_encode(const std::vector<SafetensorsTensor>& tensors);

// The whole file: length, header (padded with spaces to a multiple of 8 bytes), buffer.
// Throws Error(argument) as above, or for an empty, duplicate or reserved tensor name.
std::vector<unsigned char> safetensors_encode(const SafetensorsFile& file);

// Parses and validates a whole file held in memory; `source` names it in messages. Throws
// Error(format, "SOURCE: what is wrong"): too short, header length beyond the file, invalid JSON,
// a missing or ill-typed field, an unsupported dtype, a shape that disagrees with its offsets,
// offsets outside the buffer, overlapping tensors, buffer bytes that belong to no tensor.
SafetensorsFile safetensors_decode(std::span<const unsigned char> bytes, const std::string& source);

// safetensors_decode over a file; Error(io) when it cannot be read.
SafetensorsFile safetensors_read(const std::string& path);

// safetensors_encode, then written atomically (see file_write_atomic); Error(io) on failure.
void safetensors_write(const std::string& path, const SafetensorsFile& file);

}  // namespace bpnn
