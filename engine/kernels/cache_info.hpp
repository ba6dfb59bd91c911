#pragma once
// Data cache sizes of the CPU, read once, from which the dense kernels derive their block sizes.
#include <cstddef>

namespace bpnn::kernels {

struct CacheSizes {
  std::size_t l1d;  // bytes of level-1 data cache per core
  std::size_t l2;   // bytes of level-2 cache per core
  std::size_t l3;   // bytes of level-3 cache (shared)
};

// Read on first use (sysconf, with 32 KiB / 1 MiB / 8 MiB where the system does not say) and
// immutable afterwards; safe to call from many threads.
const CacheSizes& cache_sizes();

}  // namespace bpnn::kernels
