#pragma once
// The model file in memory: save_model and load_model (bpnn/model_io.hpp) are these plus the
// file. The fuzz targets and the tests call them on bytes directly.
//
// Format version 2 (what model_encode writes) — a valid safetensors file:
//   u64 little-endian N | N bytes of JSON header, padded with spaces to a multiple of 8 | buffer
//   tensors "{i}.weight" [out, in] and "{i}.bias" [out], F32 or F64 (the network's precision),
//   in layer order, back to back in the buffer;
//   __metadata__: format = "bpnn", format_version = "2", sizes (counts form), hidden_act,
//   output_act, loss, crc32, and the network's own metadata (io/model_metadata.hpp).
//   crc32 is the CRC-32 (io/crc32.hpp) of every byte of the file — the length, the whole header
//   with its padding, the buffer — computed with the eight hex digits of the crc32 value itself
//   read as eight '0' characters, written as eight lowercase hex digits. The writer emits the
//   header compactly, so the bytes `"crc32":"` occur exactly once in it (a quote inside any JSON
//   string is escaped); the reader refuses a version 2 header where they do not occur exactly
//   once followed by eight lowercase hex digits and a quote.
// Version 1 (read only): the same, with format_version = "1" and crc32 over the buffer alone.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpnn/network.hpp"
#include "io/safetensors.hpp"

namespace bpnn {

// The bytes of `net`'s model file (version 2). Error(argument) for a network metadata key that
// the format reserves, or a key or value that is not UTF-8 or holds a NUL.
std::vector<unsigned char> model_encode(const Network& net);

// The pieces, for files that hold a model and more (train/checkpoint.cpp):
// the model's tensors and metadata, without the checksum (Error(argument) as model_encode);
SafetensorsFile model_file_make(const Network& net);
// any such file encoded with the version 2 whole-file crc32 filled in;
std::vector<unsigned char> checksummed_encode(SafetensorsFile file);
// the inverse: Error(format) unless metadata "format" is `format` and the checksum holds;
SafetensorsFile checksummed_decode(std::span<const unsigned char> bytes, const std::string& source,
                                   std::string_view format);
// the network of a decoded model file (only the model's tensors; metadata "format" not read).
Network model_from_file(const SafetensorsFile& file, const std::string& source);

// A network from a model file's bytes (version 1 or 2); `source` names it in messages.
// Error(format) for anything malformed or corrupt: see load_model.
Network model_decode(std::span<const unsigned char> bytes, const std::string& source);

}  // namespace bpnn
