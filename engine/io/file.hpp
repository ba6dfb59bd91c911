#pragma once
// Crash-safe whole-file writes (reads: data/file_read.hpp).
#include <span>
#include <string>
#include <vector>

namespace bpnn {

// Writes `bytes` to PATH.tmp-XXXXXXXX beside `path` (created exclusively, mode 0666 & ~umask),
// fsyncs it, renames it over `path` and fsyncs the folder: a crash leaves the old file or the new
// one. On failure the temporary file is removed and Error(io, "PATH: cannot write: <strerror>")
// (or "cannot rename ...") is thrown.
void file_write_atomic(const std::string& path, std::span<const unsigned char> bytes);

}  // namespace bpnn
