#pragma once
// Whole-file reads and crash-safe whole-file writes.
#include <span>
#include <string>
#include <vector>

namespace bpnn {

// The file's bytes. Throws Error(io, "PATH: cannot open: <strerror>") or "... cannot read: ...".
std::vector<unsigned char> file_read_all(const std::string& path);

// Writes `bytes` to PATH.tmp-XXXXXXXX beside `path` (created exclusively, mode 0666 & ~umask),
// fsyncs it, renames it over `path` and fsyncs the folder: a crash leaves the old file or the new
// one. On failure the temporary file is removed and Error(io, "PATH: cannot write: <strerror>")
// (or "cannot rename ...") is thrown.
void file_write_atomic(const std::string& path, std::span<const unsigned char> bytes);

}  // namespace bpnn
