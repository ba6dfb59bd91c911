#pragma once
// Model files: safetensors with tensors "{i}.weight" [out, in] row-major and "{i}.bias" [out] for
// layers i = 0, 1, ..., dtype F32 or F64 (the network's precision). __metadata__ holds
// format = "bpnn", format_version = "2", sizes, activations, loss, a CRC-32 that covers every byte
// of the file, and the network's own metadata. README "Model files" documents the format.
#include <string>

#include "bpnn/export.hpp"
#include "bpnn/network.hpp"

namespace bpnn {

// Writes the model by bpnn's output rule: a regular file or new path goes to a temporary file
// beside it, fsynced and renamed over `path` (a crash leaves the old file or the new one, never
// half of one; a symlink's target is replaced); a character device or FIFO is written directly.
// Throws Error(io) when it cannot write (or `path` is a folder, socket or block device), and
// Error(argument) for metadata the format cannot hold: a reserved key, a NUL, non-UTF-8 text,
// input_names/output_names JSON arrays that do not fit the network (see load_model).
BPNN_API void save_model(const Network& net, const std::string& path);

// Reads a model written by save_model (format version 2, or version 1 of earlier bpnn). Checks
// the header (bounds, nesting), the checksum, that the tensors' shapes are the declared sizes
// (before building anything), finite weights, and input/output names that fit the network;
// throws Error(io) when the file cannot be read, Error(format) naming the file otherwise.
BPNN_API Network load_model(const std::string& path);

// Sets `net`'s parameters from any safetensors file holding "{i}.weight" [out, in] and
// "{i}.bias" [out] (F32 or F64) for every layer, e.g. one saved from PyTorch. Shapes must match
// the network and values be finite (else Error(format)); metadata is not required, but a bpnn
// model file's checksum is checked.
BPNN_API void load_weights(Network& net, const std::string& path);

}  // namespace bpnn
