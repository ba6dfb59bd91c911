// Every dense kernel of every kernel table this CPU runs, against the scalar reference, over odd
// shapes and the edge shapes of each table's vector width and panel width; the packed layout; and
// the BPNN_ARCH override.
//
// Tolerances. Both the fast kernel and the reference add K products and one more term (the bias,
// or the gradient already there) in some order, with or without FMA. Each result is then within
// γ_{K+2}·Σ|terms| of the exact sum (Higham, Accuracy and Stability of Numerical Algorithms,
// §3.1; γ_m = m·u/(1 − m·u), u = ε/2 the unit roundoff, one rounding per addition and at most
// one per product), so the two differ by at most 2·γ_{K+2}·Σ|terms| ≤ (K + 2)·ε·Σ|terms|·(1 + 1e-3)
// for the K ≤ 1000 used here. Σ|terms| is the sum of the magnitudes of everything added into that
// output (computed in double, and kept in T only for the comparison).
// The activation scales that difference by |act'| ≤ 1 (sigmoid 1/4, tanh, relu and linear 1;
// backward_data multiplies by act'(x) and the magnitude is scaled by max(1, |act'(x)|)) and adds
// its own rounding: the vector exp/sigmoid/tanh are within 4 ULP (tests/test_vector_math.cpp)
// and the scalar std::exp/std::tanh forms within 3, of outputs bounded by 1, so 8·ε absolute.
// The bound is therefore (K + 2)·ε·Σ|terms|·1.001 + 8·ε, where K + 2 leaves one rounding to spare
// for the forward and the weight gradient; backward_data passes K = out + 1 (see there).
// A missing or doubled term is of order Σ|terms|/K, far above it; in f64 a relative error of
// 1e-6 is ~10^6 times above it (the test "the tolerance rejects ..." checks that it fails).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "bpnn/error.hpp"
#include "kernel_tables.hpp"
#include "kernels/activation_scalar.hpp"
#include "kernels/isa.hpp"
#include "kernels/kernels.hpp"

using bpnn::Activation;
using bpnn::kernels::DenseShape;
using bpnn::kernels::KernelTable;
using bpnn::test::ScopedArch;
using bpnn::test::TableUnderTest;

namespace {

bool cpu_runs(const std::string& name) {
  const auto info = bpnn::kernels::instruction_set_named(name);
  return info && bpnn::kernels::cpu_runs(info->set);
}

template <class T>
std::vector<T> random_vector(std::size_t n, T lo, T hi, std::mt19937& rng) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& e : v) e = T(d(rng));
  return v;
}

// A buffer with sentinel guards on both sides, to catch writes out of bounds.
template <class T>
struct Guarded {
  static constexpr std::size_t guard = 64;
  std::vector<T> buf;
  explicit Guarded(std::size_t n, T fill = T(0)) : buf(n + 2 * guard, T(-7777)) {
    std::fill(buf.begin() + guard, buf.end() - guard, fill);
  }
  T* data() { return buf.data() + guard; }
  bool guards_intact() const {
    for (std::size_t i = 0; i < guard; ++i)
      if (buf[i] != T(-7777) || buf[buf.size() - 1 - i] != T(-7777)) return false;
    return true;
  }
};

// The largest difference allowed between the fast kernel and the reference for an output that
// adds K products and one more term, whose magnitudes sum to `magnitude` (see the top of the file).
template <class T>
T tolerance(std::size_t k, double magnitude) {
  const double eps = std::numeric_limits<T>::epsilon();
  return T(double(k + 2) * eps * magnitude * 1.001 + 8 * eps);
}

// The outputs compared and those outside the tolerance, with the first of them described.
struct Mismatches {
  std::size_t checked = 0, count = 0;
  std::string first;
};

// where() names the output; it is called for the first mismatch only
template <class T, class Where>
void compare(Mismatches& m, T got, T want, T bound, const Where& where) {
  ++m.checked;
  if (std::abs(got - want) <= bound) return;  // false for NaN
  if (m.count++ == 0) {
    std::ostringstream s;
    s.precision(17);
    s << where() << ": got " << got << ", reference " << want << ", |difference| "
      << std::abs(got - want) << " > bound " << bound;
    m.first = s.str();
  }
}

std::string describe(const char* kernel, const char* arch, const DenseShape& s, Activation act) {
  std::ostringstream d;
  d << arch << " " << kernel << " n=" << s.n << " in=" << s.in << " out=" << s.out
    << " act=" << bpnn::to_string(act);
  return d.str();
}

// Activations' outputs for x of the backward pass: in the range act produces.
template <class T>
std::vector<T> activation_outputs(Activation act, std::size_t n, std::mt19937& rng) {
  switch (act) {
    case Activation::sigmoid: return random_vector<T>(n, T(0.01), T(0.99), rng);
    case Activation::tanh: return random_vector<T>(n, T(-0.99), T(0.99), rng);
    case Activation::relu: {
      auto v = random_vector<T>(n, T(-1), T(1), rng);
      for (auto& e : v) e = std::max(e, T(0));
      return v;
    }
    default: return random_vector<T>(n, T(-2), T(2), rng);
  }
}

// The fast kernels' outputs are multiplied by (1 + relative_error) before the comparison: 0 in
// the real tests, non-zero only to check that the tolerance catches such an error.
template <class T>
Mismatches check_forward(const KernelTable<T>& fast, DenseShape s, Activation act,
                         std::mt19937& rng, double relative_error = 0) {
  const auto& ref = bpnn::kernels::kernels_reference<T>();
  const auto x = random_vector<T>(s.n * s.in, T(-1), T(1), rng);
  const auto w = random_vector<T>(s.out * s.in, T(-1), T(1), rng);
  const auto b = random_vector<T>(s.out, T(-1), T(1), rng);
  std::vector<T> packed(fast.packed_size(s.out, s.in));
  fast.pack(s.out, s.in, w.data(), packed.data());
  std::vector<T> expect(s.n * s.out);
  ref.dense_forward(s, act, x.data(), w.data(), b.data(), expect.data());
  Guarded<T> y(s.n * s.out, T(std::nan("")));
  fast.dense_forward(s, act, x.data(), packed.data(), b.data(), y.data());
  REQUIRE(y.guards_intact());
  Mismatches m;
  const std::string what = describe("forward", fast.arch, s, act);
  for (std::size_t r = 0; r < s.n; ++r)
    for (std::size_t o = 0; o < s.out; ++o) {
      double mag = std::abs(double(b[o]));
      for (std::size_t i = 0; i < s.in; ++i)
        mag += std::abs(double(x[r * s.in + i]) * double(w[o * s.in + i]));
      const T got = T(y.data()[r * s.out + o] * (1 + relative_error));
      compare(m, got, expect[r * s.out + o], tolerance<T>(s.in, mag),
              [&] { return what + " at (" + std::to_string(r) + "," + std::to_string(o) + ")"; });
    }
  return m;
}

template <class T>
Mismatches check_backward_data(const KernelTable<T>& fast, DenseShape s, Activation act,
                               std::mt19937& rng, double relative_error = 0) {
  const auto& ref = bpnn::kernels::kernels_reference<T>();
  const auto dy = random_vector<T>(s.n * s.out, T(-1), T(1), rng);
  const auto w = random_vector<T>(s.out * s.in, T(-1), T(1), rng);
  const auto x = activation_outputs<T>(act, s.n * s.in, rng);
  std::vector<T> packed(fast.packed_size(s.out, s.in));
  fast.pack(s.out, s.in, w.data(), packed.data());
  std::vector<T> expect(s.n * s.in);
  ref.dense_backward_data(s, act, dy.data(), w.data(), x.data(), expect.data());
  Guarded<T> dx(s.n * s.in, T(std::nan("")));
  fast.dense_backward_data(s, act, dy.data(), packed.data(), x.data(), dx.data());
  REQUIRE(dx.guards_intact());
  Mismatches m;
  const std::string what = describe("backward_data", fast.arch, s, act);
  for (std::size_t r = 0; r < s.n; ++r)
    for (std::size_t i = 0; i < s.in; ++i) {
      double mag = 0;
      for (std::size_t o = 0; o < s.out; ++o)
        mag += std::abs(double(dy[r * s.out + o]) * double(w[o * s.in + i]));
      mag *= std::max(1.0, std::abs(double(
                               bpnn::kernels::activation_derivative_scalar(act, x[r * s.in + i]))));
      const T got = T(dx.data()[r * s.in + i] * (1 + relative_error));
      // out products, then ·act'(x): act' = x(1−x), 1−x² is off by at most 2u absolute (|x| ≤ 1)
      // and the product adds a rounding, so each side is within γ_{out+3}·mag: K = out + 1
      compare(m, got, expect[r * s.in + i], tolerance<T>(s.out + 1, mag),
              [&] { return what + " at (" + std::to_string(r) + "," + std::to_string(i) + ")"; });
    }
  return m;
}

template <class T>
Mismatches check_backward_weights(const KernelTable<T>& fast, DenseShape s, std::mt19937& rng,
                                  double relative_error = 0) {
  const auto& ref = bpnn::kernels::kernels_reference<T>();
  const auto dy = random_vector<T>(s.n * s.out, T(-1), T(1), rng);
  const auto x = random_vector<T>(s.n * s.in, T(-1), T(1), rng);
  const auto dw0 = random_vector<T>(s.out * s.in, T(-1), T(1), rng);
  const auto db0 = random_vector<T>(s.out, T(-1), T(1), rng);
  auto dw_ref = dw0, db_ref = db0;
  ref.dense_backward_weights(s, dy.data(), x.data(), dw_ref.data(), db_ref.data());

  const std::size_t size = fast.packed_size(s.out, s.in);
  Guarded<T> dw(size);
  fast.pack(s.out, s.in, dw0.data(), dw.data());
  Guarded<T> db(s.out);
  std::copy(db0.begin(), db0.end(), db.data());
  fast.dense_backward_weights(s, dy.data(), x.data(), dw.data(), db.data());
  REQUIRE(dw.guards_intact());
  REQUIRE(db.guards_intact());

  std::vector<T> got(s.out * s.in);
  fast.unpack(s.out, s.in, dw.data(), got.data());
  // the padding of the packed gradient is still zero: repacking reproduces it exactly
  std::vector<T> repacked(size);
  fast.pack(s.out, s.in, got.data(), repacked.data());
  INFO(describe("backward_weights", fast.arch, s, Activation::linear));
  REQUIRE(std::equal(repacked.begin(), repacked.end(), dw.data()));

  Mismatches m;
  const std::string what = describe("backward_weights", fast.arch, s, Activation::linear);
  for (std::size_t o = 0; o < s.out; ++o) {
    double mag = std::abs(double(db0[o]));
    for (std::size_t r = 0; r < s.n; ++r) mag += std::abs(double(dy[r * s.out + o]));
    // db adds n terms to db0: n − 1 + 1 additions, within the bound for K = n
    compare(m, T(db.data()[o] * (1 + relative_error)), db_ref[o], tolerance<T>(s.n, mag),
            [&] { return what + " db at " + std::to_string(o); });
    for (std::size_t i = 0; i < s.in; ++i) {
      double mi = std::abs(double(dw0[o * s.in + i]));
      for (std::size_t r = 0; r < s.n; ++r)
        mi += std::abs(double(dy[r * s.out + o]) * double(x[r * s.in + i]));
      compare(m, T(got[o * s.in + i] * (1 + relative_error)), dw_ref[o * s.in + i],
              tolerance<T>(s.n, mi),
              [&] { return what + " dw at (" + std::to_string(o) + "," + std::to_string(i) + ")"; });
    }
  }
  return m;
}

#define REQUIRE_NO_MISMATCH(call)  \
  do {                              \
    const Mismatches m_ = (call);   \
    INFO(m_.first);                 \
    REQUIRE(m_.count == 0);         \
  } while (false)

constexpr Activation all_activations[] = {Activation::sigmoid, Activation::tanh,
                                          Activation::relu, Activation::linear};

// Every (n, in, out) with each dimension in {1, 3, 17, 63, 64, 65, 257}, except those with
// more than one 257 (they add run time, not cases), plus shapes that span several cache blocks.
std::vector<DenseShape> test_shapes() {
  const std::size_t dims[] = {1, 3, 17, 63, 64, 65, 257};
  std::vector<DenseShape> shapes;
  for (auto n : dims)
    for (auto in : dims)
      for (auto out : dims)
        if ((n == 257) + (in == 257) + (out == 257) <= 1) shapes.push_back({n, in, out});
  shapes.push_back({70, 1000, 600});  // several K blocks and panel blocks in the forward
  shapes.push_back({130, 33, 200});   // several row blocks in the weight gradient
  shapes.push_back({2, 100, 40});     // the small-batch matrix-vector paths
  shapes.push_back({5, 7, 300});
  for (std::size_t n : {1, 2})  // the layers of the 64-32-10 and 4-8-3 nets, one and two rows
    for (DenseShape layer : {DenseShape{n, 64, 32}, {n, 32, 10}, {n, 4, 8}, {n, 8, 3}})
      shapes.push_back(layer);
  return shapes;
}

// The shapes where each table's paths switch, from its vector width W (lanes) and panel width NR
// (out_block): n = 1 (the matrix-vector forms) and 2, 3 (the per-row backward_data), with out in
// (4, W] and exactly W (the single masked vector of the 64-32-10 and 4-8-3 nets), around W and NR,
// and the few-lane scalar paths (out, in ≤ 4); in around W (backward_data reduces W inputs at once).
template <class T>
std::vector<DenseShape> edge_shapes(const TableUnderTest<T>& t) {
  const std::size_t W = t.lanes, NR = t.table->out_block;
  const std::set<std::size_t> outs = {1, 2, 3, 4, 5, W - 1, W, W + 1, 2 * W + 1, NR - 1, NR, NR + 1};
  const std::set<std::size_t> ins = {1, 2, 3, 4, 5, W - 1, W, W + 1, 2 * W + 3};
  std::vector<DenseShape> shapes;
  for (std::size_t n : {1, 2, 3})
    for (std::size_t out : outs)
      for (std::size_t in : ins)
        if (out > 0 && in > 0) shapes.push_back({n, in, out});
  return shapes;
}

template <class T>
void check_all_kernels() {
  std::mt19937 rng(12345);
  const auto shapes = test_shapes();
  for (const TableUnderTest<T>& t : bpnn::test::fast_tables<T>()) {
    std::size_t k = 0;
    std::vector<DenseShape> all = shapes;
    const auto edges = edge_shapes(t);
    all.insert(all.end(), edges.begin(), edges.end());
    for (const DenseShape& s : all) {
      // rotate the activations so each meets every kind of shape
      const Activation act = all_activations[k++ % 4];
      REQUIRE_NO_MISMATCH(check_forward(*t.table, s, act, rng));
      REQUIRE_NO_MISMATCH(check_backward_data(*t.table, s, all_activations[(k + 1) % 4], rng));
      REQUIRE_NO_MISMATCH(check_backward_weights(*t.table, s, rng));
    }
    // every activation on one shape with all edge cases at once
    for (Activation act : all_activations) {
      REQUIRE_NO_MISMATCH(check_forward(*t.table, {65, 63, 65}, act, rng));
      REQUIRE_NO_MISMATCH(check_backward_data(*t.table, {65, 63, 65}, act, rng));
      REQUIRE_NO_MISMATCH(check_forward(*t.table, {1, 17, 3}, act, rng));
      REQUIRE_NO_MISMATCH(check_backward_data(*t.table, {1, 17, 3}, act, rng));
    }
  }
}

template <class T>
void check_pack_round_trip() {
  std::mt19937 rng(7);
  const std::size_t dims[] = {1, 3, 17, 63, 64, 65, 257};
  for (const TableUnderTest<T>& tut : bpnn::test::fast_tables<T>())
    for (auto out : dims)
      for (auto in : dims) {
        const KernelTable<T>* t = tut.table;
        INFO(t->arch << " out=" << out << " in=" << in);
        const auto w = random_vector<T>(out * in, T(-1), T(1), rng);
        const std::size_t size = t->packed_size(out, in);
        REQUIRE(size >= out * in);
        Guarded<T> packed(size, T(std::nan("")));
        t->pack(out, in, w.data(), packed.data());
        REQUIRE(packed.guards_intact());
        // every padding element is zeroed: the packed buffer holds the weights and zeros only
        std::size_t nonzero_or_nan = 0;
        for (std::size_t k = 0; k < size; ++k) nonzero_or_nan += packed.data()[k] != T(0);
        REQUIRE(nonzero_or_nan == out * in);
        std::vector<T> back(out * in, T(99));
        t->unpack(out, in, packed.data(), back.data());
        REQUIRE(back == w);
        // out_block: any whole-block prefix of outputs is a packed layer of its own
        if (t->out_block && out > t->out_block) {
          const std::size_t o0 = t->out_block;
          std::vector<T> tail((out - o0) * in);
          t->unpack(out - o0, in, packed.data() + t->packed_size(o0, in), tail.data());
          REQUIRE(std::equal(tail.begin(), tail.end(), w.begin() + o0 * in));
        }
      }
}

}  // namespace

TEST_CASE("dense pack/unpack round trip is exact and zeroes the padding", "[kernels]") {
  check_pack_round_trip<float>();
  check_pack_round_trip<double>();
}

TEST_CASE("dense kernels match the reference on odd shapes, f32", "[kernels]") {
  check_all_kernels<float>();
}

TEST_CASE("dense kernels match the reference on odd shapes, f64", "[kernels]") {
  check_all_kernels<double>();
}

TEST_CASE("BPNN_ARCH forces the kernel table", "[kernels]") {
  {
    ScopedArch arch("reference");
    CHECK(std::string(bpnn::kernels::kernels_select<float>().arch) == "reference");
    CHECK(std::string(bpnn::kernels::kernels_select<double>().arch) == "reference");
  }
  for (const char* name : {"avx512", "avx2", "sse2"}) {
    ScopedArch arch(name);
    if (cpu_runs(name)) {
      CHECK(std::string(bpnn::kernels::kernels_select<float>().arch) == name);
    } else {
      CHECK_THROWS_AS(bpnn::kernels::kernels_select<float>(), bpnn::Error);
    }
  }
  {
    ScopedArch arch("avx9000");
    try {
      bpnn::kernels::kernels_select<float>();
      FAIL("an unknown BPNN_ARCH was accepted");
    } catch (const bpnn::Error& e) {
      CHECK(e.kind() == bpnn::ErrorKind::argument);
      CHECK(std::string(e.what()).find("avx9000") != std::string::npos);
    }
  }
  {
    ScopedArch arch(nullptr);  // unset: the widest this CPU runs
    const std::string chosen = bpnn::kernels::kernels_select<float>().arch;
    CHECK(chosen == (cpu_runs("avx512") ? "avx512" : cpu_runs("avx2") ? "avx2" : "sse2"));
  }
}

TEST_CASE("dense_forward gives a row the same bits alone or in a batch", "[kernels]") {
  std::mt19937 rng(99);
  for (const TableUnderTest<float>& tut : bpnn::test::fast_tables<float>())
    for (DenseShape s : {DenseShape{13, 700, 70}, DenseShape{7, 5, 3}, DenseShape{13, 5, 65}}) {
      const KernelTable<float>* t = tut.table;
      INFO(t->arch << " in=" << s.in << " out=" << s.out);
      const auto x = random_vector<float>(s.n * s.in, -1, 1, rng);
      const auto w = random_vector<float>(s.out * s.in, -1, 1, rng);
      const auto b = random_vector<float>(s.out, -1, 1, rng);
      std::vector<float> packed(t->packed_size(s.out, s.in)), batch(s.n * s.out), one(s.out);
      t->pack(s.out, s.in, w.data(), packed.data());
      t->dense_forward(s, Activation::tanh, x.data(), packed.data(), b.data(), batch.data());
      for (std::size_t r = 0; r < s.n; ++r) {
        t->dense_forward({1, s.in, s.out}, Activation::tanh, x.data() + r * s.in, packed.data(),
                         b.data(), one.data());
        REQUIRE(std::equal(one.begin(), one.end(), batch.begin() + r * s.out));
      }
    }
}

// Every weight's gradient is one chain of FMAs over the rows in order, onto the gradient already
// there, whatever the tiles: so a batch gives the bits of its rows added one call at a time (the
// n = 1 path), and a tile of whole panels of outputs (the trainer's phase-2 cut, δ copied into a
// contiguous block) the bits of the whole layer. The shapes have a last panel one vector wide
// (tiles of MR1 inputs, with a remainder: 300 = 37·8 + 4 and 130 = 16·8 + 2) beside wider ones, and
// 65 rows (two blocks of δ rows).
TEMPLATE_TEST_CASE("dense_backward_weights gives a weight the same bits row by row, in a batch "
                   "and on a tile of outputs", "[kernels]", float, double) {
  using T = TestType;
  std::mt19937 rng(77);
  for (const TableUnderTest<T>& tut : bpnn::test::fast_tables<T>())
    for (DenseShape s :
         {DenseShape{37, 300, 7}, DenseShape{13, 130, 70}, DenseShape{65, 63, 200}, DenseShape{13, 5, 65}}) {
      const KernelTable<T>& t = *tut.table;
      INFO(t.arch << " n=" << s.n << " in=" << s.in << " out=" << s.out);
      const auto dy = random_vector<T>(s.n * s.out, T(-1), T(1), rng);
      const auto x = random_vector<T>(s.n * s.in, T(-1), T(1), rng);
      const auto w0 = random_vector<T>(s.out * s.in, T(-1), T(1), rng);
      const auto db0 = random_vector<T>(s.out, T(-1), T(1), rng);
      std::vector<T> dw0(t.packed_size(s.out, s.in));
      t.pack(s.out, s.in, w0.data(), dw0.data());

      auto dw_batch = dw0, db_batch = db0;
      t.dense_backward_weights(s, dy.data(), x.data(), dw_batch.data(), db_batch.data());

      auto dw_rows = dw0, db_rows = db0;
      for (std::size_t r = 0; r < s.n; ++r)
        t.dense_backward_weights({1, s.in, s.out}, dy.data() + r * s.out, x.data() + r * s.in,
                                 dw_rows.data(), db_rows.data());
      CHECK(dw_rows == dw_batch);
      CHECK(db_rows == db_batch);

      const std::size_t block = t.out_block;
      REQUIRE(block > 0);
      auto dw_tiles = dw0, db_tiles = db0;
      for (std::size_t o0 = 0; o0 < s.out; o0 += block) {
        const std::size_t m = std::min(block, s.out - o0);
        std::vector<T> dy_tile(s.n * m);
        for (std::size_t r = 0; r < s.n; ++r)
          std::copy_n(dy.data() + r * s.out + o0, m, dy_tile.data() + r * m);
        t.dense_backward_weights({s.n, s.in, m}, dy_tile.data(), x.data(),
                                 dw_tiles.data() + t.packed_size(o0, s.in), db_tiles.data() + o0);
      }
      CHECK(dw_tiles == dw_batch);
      CHECK(db_tiles == db_batch);
    }
}

TEST_CASE("the kernel tolerance rejects a relative error of 1e-6 in f64", "[kernels]") {
  // The same comparisons as above with the fast kernels' outputs scaled by (1 + error): every
  // output of these shapes (n = 1 and the GEMM forms) must then be reported.
  std::mt19937 rng(2024);
  for (DenseShape s : {DenseShape{1, 64, 10}, DenseShape{2, 257, 17}, DenseShape{65, 63, 65}}) {
    for (const auto& t : bpnn::test::fast_tables<double>()) {
      for (double e : {1e-6, -1e-6}) {
        for (const Mismatches& m : {check_forward(*t.table, s, Activation::linear, rng, e),
                                    check_backward_data(*t.table, s, Activation::linear, rng, e),
                                    check_backward_weights(*t.table, s, rng, e)}) {
          INFO(t.table->arch << " n=" << s.n << " in=" << s.in << " out=" << s.out << " e=" << e);
          CHECK(m.checked > 0);
          CHECK(m.count == m.checked);
        }
      }
    }
  }
}

// A layer's random operands for table t and shape s, and what the whole-layer kernels give:
// x:(N,In) packed w:(Out,In) b:(Out) dy:(N,Out), a:(N,In) sigmoid outputs → y_whole = sigmoid
// forward, dx_whole = backward to the inputs.
template <class T>
struct LayerCase {
  std::vector<T> x, w, b, dy, a, packed, y_whole, dx_whole;
  LayerCase(const KernelTable<T>& t, const DenseShape& s, std::mt19937& rng)
      : x(random_vector<T>(s.n * s.in, T(-1), T(1), rng)),
        w(random_vector<T>(s.out * s.in, T(-1), T(1), rng)),
        b(random_vector<T>(s.out, T(-1), T(1), rng)),
        dy(random_vector<T>(s.n * s.out, T(-1), T(1), rng)),
        a(random_vector<T>(s.n * s.in, T(0.05), T(0.95), rng)),
        packed(t.packed_size(s.out, s.in)),
        y_whole(s.n * s.out),
        dx_whole(s.n * s.in) {
    t.pack(s.out, s.in, w.data(), packed.data());
    t.dense_forward(s, Activation::sigmoid, x.data(), packed.data(), b.data(), y_whole.data());
    t.dense_backward_data(s, Activation::sigmoid, dy.data(), packed.data(), a.data(), dx_whole.data());
  }
};

// Parts of a layer (the phase-1 cut of engine/train/batch_plan.hpp): outputs [o0, o1) of the
// forward pass and inputs [i0, i1) of the backward pass, cut at whole out_blocks, give every
// element the bits the whole-layer kernel gives it, and write nothing outside their range.
template <class T>
void check_layer_parts(const KernelTable<T>& t, const DenseShape& s, std::mt19937& rng) {
  INFO(t.arch << " n=" << s.n << " in=" << s.in << " out=" << s.out);
  const LayerCase<T> c(t, s, rng);
  const auto& [x, w, b, dy, a, packed, y_whole, dx_whole] = c;
  const std::size_t block = std::max<std::size_t>(t.out_block, 1);
  for (std::size_t per : {block, 2 * block, 3 * block}) {
    INFO("tile " << per);
    const T unset = T(-7777);
    Guarded<T> y(s.n * s.out, unset), dx(s.n * s.in, unset);
    for (std::size_t o0 = 0; o0 < s.out; o0 += per) {
      const std::size_t o1 = std::min(s.out, o0 + per);
      t.dense_forward_outputs(s, Activation::sigmoid, o0, o1, x.data(), packed.data(), b.data(),
                              y.data());
      for (std::size_t r = 0; r < s.n; ++r)  // nothing past this tile yet
        for (std::size_t o = o1; o < s.out; ++o) REQUIRE(y.data()[r * s.out + o] == unset);
    }
    for (std::size_t i0 = 0; i0 < s.in; i0 += per) {
      const std::size_t i1 = std::min(s.in, i0 + per);
      t.dense_backward_data_inputs(s, Activation::sigmoid, i0, i1, dy.data(), packed.data(),
                                   a.data(), dx.data());
      for (std::size_t r = 0; r < s.n; ++r)
        for (std::size_t i = i1; i < s.in; ++i) REQUIRE(dx.data()[r * s.in + i] == unset);
    }
    CHECK(y.guards_intact());
    CHECK(dx.guards_intact());
    CHECK(std::equal(y_whole.begin(), y_whole.end(), y.data()));
    CHECK(std::equal(dx_whole.begin(), dx_whole.end(), dx.data()));
  }
}

TEMPLATE_TEST_CASE("dense kernels on parts of a layer give the whole layer's bits", "[kernels]",
                   float, double) {
  std::mt19937 rng(31);
  std::vector<const KernelTable<TestType>*> tables{&bpnn::kernels::kernels_reference<TestType>()};
  for (const auto& tut : bpnn::test::fast_tables<TestType>()) tables.push_back(tut.table);
  for (const KernelTable<TestType>* t : tables)
    for (DenseShape s : {DenseShape{1, 200, 150}, DenseShape{3, 130, 70}, DenseShape{13, 300, 260},
                         DenseShape{6, 64, 64}})
      check_layer_parts(*t, s, rng);
}

// The tiles of the batch plan's cut for many threads (engine/train/batch_plan.hpp, tile_cut):
// a layer's forward pass on any range of rows × outputs [o0, o1), its backward pass on any range
// of at least 4 rows × inputs [i0, i1), and its weight gradient on a panel × any range of whole
// 16-input blocks (δ's columns and the inputs copied into contiguous blocks, as the trainer
// does) give every element the whole layer's bits — so the tiles may follow the thread count.
// Ranges of rows start anywhere (1 to 17 rows: tiles of MR rows and their remainders).
template <class T>
void check_row_ranges(const KernelTable<T>& t, const DenseShape& s, std::mt19937& rng) {
  INFO(t.arch << " n=" << s.n << " in=" << s.in << " out=" << s.out);
  const LayerCase<T> c(t, s, rng);
  const auto& [x, w, b, dy, a, packed, y_whole, dx_whole] = c;
  const std::size_t block = std::max<std::size_t>(t.out_block, 1);
  for (std::size_t rows : {1, 2, 3, 4, 5, 7, 16, 17}) {
    for (std::size_t per : {block, 2 * block}) {
      INFO(rows << " rows a tile, " << per << " outputs (inputs) a tile");
      std::vector<T> y(s.n * s.out, T(-7777)), dx(s.n * s.in, T(-7777));
      for (std::size_t r0 = 0; r0 < s.n; r0 += rows) {
        const std::size_t n = std::min(rows, s.n - r0);
        for (std::size_t o0 = 0; o0 < s.out; o0 += per)
          t.dense_forward_outputs({n, s.in, s.out}, Activation::sigmoid, o0, std::min(s.out, o0 + per),
                                  x.data() + r0 * s.in, packed.data(), b.data(), y.data() + r0 * s.out);
        if (n < 4) continue;  // the backward pass's contract starts at 4 rows
        for (std::size_t i0 = 0; i0 < s.in; i0 += per)
          t.dense_backward_data_inputs({n, s.in, s.out}, Activation::sigmoid, i0, std::min(s.in, i0 + per),
                                       dy.data() + r0 * s.out, packed.data(), a.data() + r0 * s.in,
                                       dx.data() + r0 * s.in);
      }
      CHECK(y == y_whole);
      if (rows >= 4 && (s.n % rows == 0 || s.n % rows >= 4)) CHECK(dx == dx_whole);
      if (rows >= 4 && s.n % rows != 0 && s.n % rows < 4) {  // all but the short last range
        const std::size_t covered = s.n / rows * rows * s.in;
        CHECK(std::equal(dx_whole.begin(), dx_whole.begin() + static_cast<std::ptrdiff_t>(covered), dx.begin()));
      }
    }
  }
  // the weight gradient of a panel × a range of inputs
  std::vector<T> dw_whole(packed.size(), T(0.5)), db_whole(s.out, T(0.25));
  t.dense_backward_weights(s, dy.data(), a.data(), dw_whole.data(), db_whole.data());
  for (std::size_t k_blocks : {1, 3, 4}) {
    INFO(k_blocks << " blocks of 16 inputs a range");
    std::vector<T> dw(packed.size(), T(0.5)), db(s.out, T(0.25));
    for (std::size_t o0 = 0; o0 < s.out; o0 += block) {
      const std::size_t m = std::min(block, s.out - o0);
      std::vector<T> delta(s.n * m);
      for (std::size_t r = 0; r < s.n; ++r) std::copy_n(dy.data() + r * s.out + o0, m, delta.data() + r * m);
      T* panel = dw.data() + t.packed_size(o0, s.in);
      for (std::size_t i0 = 0; i0 < s.in; i0 += 16 * k_blocks) {
        const std::size_t k = std::min(16 * k_blocks, s.in - i0);
        std::vector<T> inputs(s.n * k), bias(m, T(0));
        for (std::size_t r = 0; r < s.n; ++r) std::copy_n(a.data() + r * s.in + i0, k, inputs.data() + r * k);
        t.dense_backward_weights({s.n, k, m}, delta.data(), inputs.data(), panel + t.packed_size(m, i0),
                                 i0 == 0 ? db.data() + o0 : bias.data());
      }
    }
    CHECK(dw == dw_whole);
    CHECK(db == db_whole);
  }
}

TEMPLATE_TEST_CASE("dense kernels give a tile of any rows the whole layer's bits (the backward pass from 4 rows), "
                   "and the weight gradient a tile of any inputs", "[kernels]", float, double) {
  std::mt19937 rng(47);
  std::vector<const KernelTable<TestType>*> tables{&bpnn::kernels::kernels_reference<TestType>()};
  for (const auto& tut : bpnn::test::fast_tables<TestType>()) tables.push_back(tut.table);
  for (const KernelTable<TestType>* t : tables)
    for (DenseShape s : {DenseShape{37, 200, 150}, DenseShape{64, 130, 70}, DenseShape{23, 300, 8},
                         DenseShape{35, 8, 300}, DenseShape{70, 784, 64}})
      check_row_ranges(*t, s, rng);
}
