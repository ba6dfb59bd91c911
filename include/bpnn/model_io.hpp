#pragma once
// Model files: safetensors with tensors "{i}.weight" [out, in] row-major and "{i}.bias" [out] for
// layers i = 0, 1, ..., dtype F32 or F64 (the network's precision). __metadata__ holds
// format = "bpnn", format_version, sizes, activations, loss, a CRC32 of the tensor bytes, and the
// network's own metadata.
#include <string>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"

namespace bpnn {

// Writes a temporary file beside `path`, fsyncs it and renames it over `path`: a crash leaves
// either the old file or the new one, never half of one. Throws Error(io).
BPNN_API void save_model(const Network& net, const std::string& path);

// Reads a model written by save_model. Checks the header's bounds, the tensors' shapes, dtypes
// and offsets, and the CRC; throws Error(io) when the file cannot be read, Error(format) with
// what is wrong otherwise.
BPNN_API Network load_model(const std::string& path);

// Sets `net`'s parameters from any safetensors file holding "{i}.weight" [out, in] and
// "{i}.bias" [out] (F32 or F64) for every layer, e.g. one saved from PyTorch. Shapes must match
// the network; metadata is not required.
BPNN_API void load_weights(Network& net, const std::string& path);

}  // namespace bpnn
