// Checked size arithmetic and the machine's memory; see size_check.hpp.
#include "nn/size_check.hpp"

#include <unistd.h>

#include <cstdio>
#include <limits>

#include "bpnn/error.hpp"

namespace bpnn {

std::size_t checked_mul(std::size_t a, std::size_t b, const std::string& what) {
  std::size_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw Error(ErrorKind::argument, what + ": " + std::to_string(a) + " × " + std::to_string(b) +
                                         " does not fit in 64 bits");
  return r;
}

std::size_t checked_add(std::size_t a, std::size_t b, const std::string& what) {
  std::size_t r;
  if (__builtin_add_overflow(a, b, &r))
    throw Error(ErrorKind::argument, what + ": " + std::to_string(a) + " + " + std::to_string(b) +
                                         " does not fit in 64 bits");
  return r;
}

std::size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::numeric_limits<std::size_t>::max();
  std::size_t r;
  if (__builtin_mul_overflow(static_cast<std::size_t>(pages), static_cast<std::size_t>(page), &r))
    return std::numeric_limits<std::size_t>::max();
  return r;
}

std::string format_bytes(std::size_t bytes) {
  char text[64];
  const double b = static_cast<double>(bytes);
  if (bytes >= (std::size_t{1} << 30))
    std::snprintf(text, sizeof text, "%.1f GiB", b / (1 << 30));
  else if (bytes >= (std::size_t{1} << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", b / (1 << 20));
  else
    std::snprintf(text, sizeof text, "%zu bytes", bytes);
  return text;
}

std::size_t arena_bytes_bound(const std::vector<std::size_t>& sizes, std::size_t element_bytes) {
  const std::string what = "network sizes";
  std::size_t total = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const std::size_t out = checked_add(sizes[l + 1], 64, what);
    const std::size_t layer =
        checked_add(checked_mul(out, sizes[l], what), checked_add(out, 64, what), what);
    total = checked_add(total, layer, what);
  }
  return checked_mul(total, element_bytes, what);
}

void check_fits_in_memory(std::size_t bytes, const std::string& what) {
  const std::size_t have = physical_memory_bytes();
  if (bytes > have)
    throw Error(ErrorKind::argument, what + " would take " + std::to_string(bytes) + " bytes (" +
                                         format_bytes(bytes) + "), more than this machine's " +
                                         std::to_string(have) + " bytes (" + format_bytes(have) +
                                         ") of memory");
}

}  // namespace bpnn
