#pragma once
// Checked size arithmetic and the machine's memory: no width, count or byte total from a file, an
// argument or a config is used before these say it fits.
#include <cstddef>
#include <string>
#include <vector>

namespace bpnn {

// The widest layer bpnn builds: 2³¹ − 1 units. Keeps every packed-size formula (which rounds a
// width up to whole panels) far from overflow.
inline constexpr std::size_t max_layer_width = (std::size_t{1} << 31) - 1;

// a·b and a + b, or Error(argument) "<what>: ... does not fit in 64 bits".
std::size_t checked_mul(std::size_t a, std::size_t b, const std::string& what);
std::size_t checked_add(std::size_t a, std::size_t b, const std::string& what);

// Physical memory of this machine in bytes (sysconf); SIZE_MAX when it cannot be read.
std::size_t physical_memory_bytes();

// Error(argument) "<what> would take N bytes (X GiB), more than this machine's M bytes of memory"
// when bytes > physical_memory_bytes().
void check_fits_in_memory(std::size_t bytes, const std::string& what);

// An upper bound of the parameter arena's bytes for layer widths `sizes` (inputs first): every
// layer's packed weights with its outputs rounded up to a whole 64-wide panel, its biases, and
// 64-byte alignment. Error(argument) when it overflows.
std::size_t arena_bytes_bound(const std::vector<std::size_t>& sizes, std::size_t element_bytes);

// "1.5 GiB", "12 MiB", "300 bytes": a byte count for messages.
std::string format_bytes(std::size_t bytes);

}  // namespace bpnn
