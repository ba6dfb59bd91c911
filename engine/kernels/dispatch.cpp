// Chooses the kernel table once per network: the widest instruction set this CPU runs, unless
// BPNN_ARCH names another. Compiled for the baseline instruction set.
#include <cstdlib>
#include <string>
#include <string_view>

#include "bpnn/error.hpp"
#include "kernels/kernels.hpp"

namespace bpnn::kernels {

template <class T>
const KernelTable<T>& kernels_select() {
  const char* forced = std::getenv("BPNN_ARCH");
  if (forced && *forced) {
    const std::string_view name(forced);
    if (name == "reference") return kernels_reference<T>();
    throw Error(ErrorKind::argument,
                "BPNN_ARCH=" + std::string(name) + ": unknown or unsupported instruction set");
  }
  return kernels_reference<T>();
}

template const KernelTable<float>& kernels_select<float>();
template const KernelTable<double>& kernels_select<double>();

}  // namespace bpnn::kernels
