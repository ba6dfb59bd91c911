// Cache sizes from sysconf (glibc reads them with CPUID); compiled for the baseline.
#include "kernels/cache_info.hpp"

#include <unistd.h>

namespace bpnn::kernels {
namespace {

std::size_t sysconf_or(int name, std::size_t fallback) {
  const long v = sysconf(name);
  return v > 0 ? static_cast<std::size_t>(v) : fallback;
}

CacheSizes read_cache_sizes() {
  return {sysconf_or(_SC_LEVEL1_DCACHE_SIZE, 32u << 10), sysconf_or(_SC_LEVEL2_CACHE_SIZE, 1u << 20),
          sysconf_or(_SC_LEVEL3_CACHE_SIZE, 8u << 20)};
}

}  // namespace

const CacheSizes& cache_sizes() {
  static const CacheSizes sizes = read_cache_sizes();
  return sizes;
}

}  // namespace bpnn::kernels
