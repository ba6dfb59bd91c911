#pragma once
// Whole-file reads.
#include <string>

namespace bpnn {

// The file's bytes. Throws Error(io, "PATH: cannot open: <strerror>") or "... cannot read: ...".
std::string file_read_all(const std::string& path);

}  // namespace bpnn
