// Every kernel of every kernel table this CPU runs (and the reference), on buffers placed flush
// against an inaccessible page: once ending where the page begins, once starting where it ends.
// A kernel that reads or writes even one element outside its operands faults (SIGSEGV) instead of
// silently reading a neighbour. This is the bounds check for the per-ISA kernel files, which the
// sanitizer builds leave uninstrumented (see CMakeLists.txt); masked vector loads and stores do
// not fault on the lanes they leave out, so the kernels' masked tails pass.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernel_tables.hpp"
#include "kernels/isa.hpp"
#include "kernels/kernels.hpp"

using bpnn::Activation;
using bpnn::kernels::DenseShape;
using bpnn::kernels::KernelTable;

namespace {

enum class Side { end, start };  // which end of the buffer touches the inaccessible page

// count elements of T in their own mapping, flush against a PROT_NONE page on `side`; the other
// side has a whole readable page of slack (that direction is the other variant's job).
template <class T>
class GuardedBuffer {
 public:
  GuardedBuffer(std::size_t count, Side side) : count_(count) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t data_pages = (count * sizeof(T) + page - 1) / page + 1;
    bytes_ = (data_pages + 1) * page;
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<char*>(p);
    if (side == Side::end) {  // [data pages][guard]
      char* guard = base_ + data_pages * page;
      REQUIRE(mprotect(guard, page, PROT_NONE) == 0);
      data_ = reinterpret_cast<T*>(guard - count * sizeof(T));
    } else {  // [guard][data pages]
      REQUIRE(mprotect(base_, page, PROT_NONE) == 0);
      data_ = reinterpret_cast<T*>(base_ + page);
    }
  }
  ~GuardedBuffer() { munmap(base_, bytes_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  T* data() { return data_; }
  std::size_t size() const { return count_; }
  void fill(const std::vector<T>& v) {
    REQUIRE(v.size() == count_);
    if (count_) std::memcpy(data_, v.data(), count_ * sizeof(T));
  }
  std::vector<T> values() const { return std::vector<T>(data_, data_ + count_); }

 private:
  std::size_t count_, bytes_ = 0;
  char* base_ = nullptr;
  T* data_ = nullptr;
};

template <class T>
std::vector<T> random_values(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<double> d(-1, 1);
  std::vector<T> v(n);
  for (auto& e : v) e = T(d(rng));
  return v;
}

constexpr Activation activations[] = {Activation::sigmoid, Activation::tanh, Activation::relu,
                                      Activation::linear};

// The shapes that reach every path of a table with vector width W and panel width NR: n = 1, 2, 3
// (matrix-vector forms), a tile's rows and more (GEMM forms), outputs and inputs in the few-lane
// scalar range, in (4, W], at W, NR and one past each, and a shape spanning several panels.
std::vector<DenseShape> guard_shapes(std::size_t W, std::size_t NR) {
  const std::set<std::size_t> outs = {1, 3, 4, 5, W - 1, W, W + 1, NR - 1, NR, NR + 1, 2 * NR + 3};
  const std::set<std::size_t> ins = {1, 3, 4, 5, W, W + 1, 2 * W + 3};
  std::vector<DenseShape> shapes;
  for (std::size_t n : {1, 2, 3, 7})
    for (std::size_t out : outs)
      for (std::size_t in : ins)
        if (out > 0 && in > 0) shapes.push_back({n, in, out});
  shapes.push_back({70, 300, 3 * NR + 5});  // several row tiles, K blocks and panels
  return shapes;
}

// Runs every dense kernel and the packing of `t` on shape s with each operand guarded on `side`,
// and checks the results are those of the same kernel on ordinary buffers.
template <class T>
void dense_kernels_on_guarded_buffers(const KernelTable<T>& t, const DenseShape& s,
                                      Activation act, Side side, std::mt19937& rng) {
  INFO(t.arch << " n=" << s.n << " in=" << s.in << " out=" << s.out << " act="
              << bpnn::to_string(act) << (side == Side::end ? " guard after" : " guard before"));
  const std::size_t packed_size = t.packed_size(s.out, s.in);
  const auto w = random_values<T>(s.out * s.in, rng);
  const auto x = random_values<T>(s.n * s.in, rng);
  const auto b = random_values<T>(s.out, rng);
  const auto dy = random_values<T>(s.n * s.out, rng);
  std::vector<T> packed(packed_size);
  t.pack(s.out, s.in, w.data(), packed.data());

  {  // pack, unpack
    GuardedBuffer<T> gw(w.size(), side), gp(packed_size, side);
    gw.fill(w);
    t.pack(s.out, s.in, gw.data(), gp.data());
    REQUIRE(gp.values() == packed);
    GuardedBuffer<T> gu(w.size(), side);
    t.unpack(s.out, s.in, gp.data(), gu.data());
    REQUIRE(gu.values() == w);
  }
  GuardedBuffer<T> gx(x.size(), side), gwp(packed_size, side), gb(b.size(), side),
      gdy(dy.size(), side);
  gx.fill(x);
  gwp.fill(packed);
  gb.fill(b);
  gdy.fill(dy);
  {  // y = act(x·wᵀ + b)
    std::vector<T> y(s.n * s.out);
    t.dense_forward(s, act, x.data(), packed.data(), b.data(), y.data());
    GuardedBuffer<T> gy(y.size(), side);
    t.dense_forward(s, act, gx.data(), gwp.data(), gb.data(), gy.data());
    REQUIRE(gy.values() == y);
  }
  {  // dx = (dy·w) ⊙ act'(x)
    std::vector<T> dx(s.n * s.in);
    t.dense_backward_data(s, act, dy.data(), packed.data(), x.data(), dx.data());
    GuardedBuffer<T> gdx(dx.size(), side);
    t.dense_backward_data(s, act, gdy.data(), gwp.data(), gx.data(), gdx.data());
    REQUIRE(gdx.values() == dx);
  }
  {  // dw += dyᵀ·x ; db += Σ dy
    std::vector<T> dw = packed, db = b;
    t.dense_backward_weights(s, dy.data(), x.data(), dw.data(), db.data());
    GuardedBuffer<T> gdw(packed_size, side), gdb(b.size(), side);
    gdw.fill(packed);
    gdb.fill(b);
    t.dense_backward_weights(s, gdy.data(), gx.data(), gdw.data(), gdb.data());
    REQUIRE(gdw.values() == dw);
    REQUIRE(gdb.values() == db);
  }
}

// The elementwise kernels of `t` on count elements guarded on `side`.
template <class T>
void elementwise_kernels_on_guarded_buffers(const KernelTable<T>& t, std::size_t count,
                                            Side side, std::mt19937& rng) {
  INFO(t.arch << " count=" << count << (side == Side::end ? " guard after" : " guard before"));
  const auto x = random_values<T>(count, rng), g = random_values<T>(count, rng),
             v = random_values<T>(count, rng);
  GuardedBuffer<T> gx(count, side), gy(count, side), gg(count, side), gv(count, side);
  gx.fill(x);
  for (Activation act : activations) {
    t.activation_forward(act, count, gx.data(), gy.data());
    t.activation_backward(act, count, gx.data(), gy.data());
    gy.fill(x);
    t.activation_forward(act, count, gy.data(), gy.data());  // in place
  }
  gg.fill(g);
  gv.fill(v);
  t.sgd_update(count, T(0.1), T(0), T(0.5), gg.data(), gv.data(), gx.data());
  t.sgd_update(count, T(0.1), T(0.9), T(0.5), gg.data(), gv.data(), gx.data());
  if (count) REQUIRE(gv.values() != v);  // the momentum step ran
}

template <class T>
void all_tables_on_guarded_buffers() {
  std::mt19937 rng(31337);
  struct Table {
    const KernelTable<T>* table;
    std::size_t lanes;
  };
  std::vector<Table> tables;
  for (const auto& t : bpnn::test::fast_tables<T>()) tables.push_back({t.table, t.lanes});
  const auto& ref = bpnn::kernels::kernels_reference<T>();
  tables.push_back({&ref, 1});
  for (const Table& t : tables) {
    const std::size_t W = t.lanes, NR = t.table->out_block ? t.table->out_block : 4;
    std::size_t k = 0;
    for (const DenseShape& s : guard_shapes(W, NR))
      for (Side side : {Side::end, Side::start})
        dense_kernels_on_guarded_buffers(*t.table, s, activations[k++ % 4], side, rng);
    for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{3}, W - 1, W, W + 1,
                              4 * W + 3, std::size_t{1000}})
      for (Side side : {Side::end, Side::start})
        elementwise_kernels_on_guarded_buffers(*t.table, count, side, rng);
  }
}

}  // namespace

TEST_CASE("every kernel stays inside its buffers (guard pages), f32", "[kernels][guard]") {
  all_tables_on_guarded_buffers<float>();
}

TEST_CASE("every kernel stays inside its buffers (guard pages), f64", "[kernels][guard]") {
  all_tables_on_guarded_buffers<double>();
}

TEST_CASE("the exp kernel of every elementwise table stays inside its buffers", "[kernels][guard]") {
  std::mt19937 rng(5);
  for (const auto* e : bpnn::test::elementwise_tables<float>())
    for (std::size_t count : {1, 7, 15, 16, 17, 100})
      for (Side side : {Side::end, Side::start}) {
        INFO(e->arch << " count=" << count);
        const auto x = random_values<float>(count, rng);
        GuardedBuffer<float> gx(count, side), gy(count, side);
        gx.fill(x);
        e->exp(count, gx.data(), gy.data());
        e->exp(count, gx.data(), gx.data());
        REQUIRE(gx.values() == gy.values());
      }
  for (const auto* e : bpnn::test::elementwise_tables<double>())
    for (std::size_t count : {1, 3, 7, 8, 9, 100})
      for (Side side : {Side::end, Side::start}) {
        INFO(e->arch << " count=" << count);
        const auto x = random_values<double>(count, rng);
        GuardedBuffer<double> gx(count, side), gy(count, side);
        gx.fill(x);
        e->exp(count, gx.data(), gy.data());
        e->exp(count, gx.data(), gx.data());
        REQUIRE(gx.values() == gy.values());
      }
}
