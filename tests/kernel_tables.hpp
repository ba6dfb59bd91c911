#pragma once
// The kernel tables of every instruction set this CPU runs, for the tests that walk them all
// (test_dense_kernels.cpp, test_kernel_guard_pages.cpp, test_vector_math.cpp, test_sweep.cpp),
// and ScopedArch, which forces BPNN_ARCH for a scope. Availability comes
// from the dispatcher's own answer (kernels/isa.hpp), so tests and dispatch cannot disagree.
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kernels/arch/elementwise.hpp"
#include "kernels/isa.hpp"
#include "kernels/kernels.hpp"

namespace bpnn::test {

// Sets BPNN_ARCH for the lifetime of the object, then restores what was there.
class ScopedArch {
 public:
  explicit ScopedArch(const char* value) {
    if (const char* old = std::getenv("BPNN_ARCH")) old_ = old;
    if (value)
      setenv("BPNN_ARCH", value, 1);
    else
      unsetenv("BPNN_ARCH");
  }
  ~ScopedArch() {
    if (old_)
      setenv("BPNN_ARCH", old_->c_str(), 1);
    else
      unsetenv("BPNN_ARCH");
  }
  ScopedArch(const ScopedArch&) = delete;
  ScopedArch& operator=(const ScopedArch&) = delete;

 private:
  std::optional<std::string> old_;
};

template <class T>
struct TableUnderTest {
  const kernels::KernelTable<T>* table;
  std::size_t lanes;  // elements of T in one vector register of the table's instruction set
};

// The fast tables this CPU runs, widest first. The lanes come from the instruction set's vector
// width and are checked against the packed layout, which pads one output to a whole vector.
template <class T>
std::vector<TableUnderTest<T>> fast_tables() {
  std::vector<TableUnderTest<T>> tables;
  for (const kernels::InstructionSetInfo& info : kernels::instruction_sets) {
    if (!kernels::cpu_runs(info.set)) continue;
    const kernels::KernelTable<T>& t = kernels::kernels_of<T>(info.set);
    REQUIRE(std::string(t.arch) == info.name);
    const std::size_t lanes = info.vector_bytes / sizeof(T);
    REQUIRE(t.packed_size(1, 1) == lanes);
    REQUIRE(t.out_block % lanes == 0);
    tables.push_back({&t, lanes});
  }
  REQUIRE(!tables.empty());
  return tables;
}

// The elementwise table of one instruction set; call it only when cpu_runs(set).
template <class T>
const kernels::ElementwiseKernels<T>& elementwise_of(kernels::InstructionSet set) {
  switch (set) {
    case kernels::InstructionSet::avx512: return kernels::elementwise_avx512<T>();
    case kernels::InstructionSet::avx2: return kernels::elementwise_avx2<T>();
    case kernels::InstructionSet::sse2: break;
  }
  return kernels::elementwise_sse2<T>();
}

// The elementwise tables this CPU runs, widest first.
template <class T>
std::vector<const kernels::ElementwiseKernels<T>*> elementwise_tables() {
  std::vector<const kernels::ElementwiseKernels<T>*> tables;
  for (const kernels::InstructionSetInfo& info : kernels::instruction_sets)
    if (kernels::cpu_runs(info.set)) tables.push_back(&elementwise_of<T>(info.set));
  REQUIRE(!tables.empty());
  return tables;
}

}  // namespace bpnn::test
