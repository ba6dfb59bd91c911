#pragma once
// Whole-file reads.
#include <string>

namespace bpnn {

// The file's bytes. Throws Error(io, "PATH: cannot open: <strerror>") or "... cannot read: ...",
// also when the file holds more bytes than this machine has memory (checked before allocating).
std::string file_read_all(const std::string& path);

}  // namespace bpnn
