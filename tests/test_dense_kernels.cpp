// Every dense kernel of every kernel table this CPU runs, against the scalar reference, over odd
// shapes; the packed layout; and the BPNN_ARCH override.
//
// Tolerances: a sum of K products computed in any order differs from the exact one by at most
// about K·ε·Σ|terms| (ε = machine epsilon), so each output is compared with
//   (K + 2)·ε·Σ|terms| + 64·ε
// where Σ|terms| is the sum of the magnitudes of everything added into that output (including
// the bias or the initial gradient) and 64·ε absolute covers the vector exp/tanh, whose outputs
// are bounded by 1. A missing or doubled term is of order Σ|terms|/K, far above the bound.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "bpnn/error.hpp"
#include "kernels/activation_scalar.hpp"
#include "kernels/kernels.hpp"

using bpnn::Activation;
using bpnn::kernels::DenseShape;
using bpnn::kernels::KernelTable;

namespace {

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

bool cpu_claims(const std::string& name) {
  if (name == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512cd");
  if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return true;  // sse2 is the x86-64 baseline
}

// The fast tables this CPU runs, reached through BPNN_ARCH.
template <class T>
std::vector<const KernelTable<T>*> fast_tables() {
  std::vector<const KernelTable<T>*> tables;
  for (const char* name : {"avx512", "avx2", "sse2"}) {
    if (!cpu_claims(name)) continue;
    ScopedArch arch(name);
    const KernelTable<T>& t = bpnn::kernels::kernels_select<T>();
    REQUIRE(std::string(t.arch) == name);
    tables.push_back(&t);
  }
  REQUIRE(!tables.empty());
  return tables;
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

template <class T>
T tolerance(std::size_t k, T magnitude) {
  const T eps = std::numeric_limits<T>::epsilon();
  return T(k + 2) * eps * magnitude + 64 * eps;
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

template <class T>
void check_forward(const KernelTable<T>& fast, DenseShape s, Activation act, std::mt19937& rng) {
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
  for (std::size_t r = 0; r < s.n; ++r)
    for (std::size_t o = 0; o < s.out; ++o) {
      T mag = std::abs(b[o]);
      for (std::size_t i = 0; i < s.in; ++i) mag += std::abs(x[r * s.in + i] * w[o * s.in + i]);
      const T got = y.data()[r * s.out + o], want = expect[r * s.out + o];
      if (!(std::abs(got - want) <= tolerance<T>(s.in, mag))) {
        INFO(fast.arch << " forward n=" << s.n << " in=" << s.in << " out=" << s.out
                       << " act=" << bpnn::to_string(act) << " at (" << r << "," << o << ")");
        REQUIRE(got == Approx(want));
      }
    }
}

template <class T>
void check_backward_data(const KernelTable<T>& fast, DenseShape s, Activation act,
                         std::mt19937& rng) {
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
  for (std::size_t r = 0; r < s.n; ++r)
    for (std::size_t i = 0; i < s.in; ++i) {
      T mag = 0;
      for (std::size_t o = 0; o < s.out; ++o) mag += std::abs(dy[r * s.out + o] * w[o * s.in + i]);
      mag *= std::max(T(1), std::abs(bpnn::kernels::activation_derivative_scalar(act, x[r * s.in + i])));
      const T got = dx.data()[r * s.in + i], want = expect[r * s.in + i];
      if (!(std::abs(got - want) <= tolerance<T>(s.out, mag))) {
        INFO(fast.arch << " backward_data n=" << s.n << " in=" << s.in << " out=" << s.out
                       << " act=" << bpnn::to_string(act) << " at (" << r << "," << i << ")");
        REQUIRE(got == Approx(want));
      }
    }
}

template <class T>
void check_backward_weights(const KernelTable<T>& fast, DenseShape s, std::mt19937& rng) {
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
  REQUIRE(std::equal(repacked.begin(), repacked.end(), dw.data()));

  INFO(fast.arch << " backward_weights n=" << s.n << " in=" << s.in << " out=" << s.out);
  for (std::size_t o = 0; o < s.out; ++o) {
    T mag = std::abs(db0[o]);
    for (std::size_t r = 0; r < s.n; ++r) mag += std::abs(dy[r * s.out + o]);
    REQUIRE(std::abs(db.data()[o] - db_ref[o]) <= tolerance<T>(s.n, mag));
    for (std::size_t i = 0; i < s.in; ++i) {
      T m = std::abs(dw0[o * s.in + i]);
      for (std::size_t r = 0; r < s.n; ++r) m += std::abs(dy[r * s.out + o] * x[r * s.in + i]);
      if (!(std::abs(got[o * s.in + i] - dw_ref[o * s.in + i]) <= tolerance<T>(s.n, m))) {
        INFO("at (" << o << "," << i << ")");
        REQUIRE(got[o * s.in + i] == Approx(dw_ref[o * s.in + i]));
      }
    }
  }
}

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
  return shapes;
}

template <class T>
void check_all_kernels() {
  std::mt19937 rng(12345);
  const auto shapes = test_shapes();
  for (const KernelTable<T>* t : fast_tables<T>()) {
    std::size_t k = 0;
    for (const DenseShape& s : shapes) {
      // rotate the activations so each meets every kind of shape
      const Activation act = all_activations[k++ % 4];
      check_forward(*t, s, act, rng);
      check_backward_data(*t, s, all_activations[(k + 1) % 4], rng);
      check_backward_weights(*t, s, rng);
    }
    // every activation on one shape with all edge cases at once
    for (Activation act : all_activations) {
      check_forward(*t, {65, 63, 65}, act, rng);
      check_backward_data(*t, {65, 63, 65}, act, rng);
      check_forward(*t, {1, 17, 3}, act, rng);
      check_backward_data(*t, {1, 17, 3}, act, rng);
    }
  }
}

template <class T>
void check_pack_round_trip() {
  std::mt19937 rng(7);
  const std::size_t dims[] = {1, 3, 17, 63, 64, 65, 257};
  for (const KernelTable<T>* t : fast_tables<T>())
    for (auto out : dims)
      for (auto in : dims) {
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
    if (cpu_claims(name)) {
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
    CHECK(chosen == (cpu_claims("avx512") ? "avx512" : cpu_claims("avx2") ? "avx2" : "sse2"));
  }
}

TEST_CASE("dense_forward gives a row the same bits alone or in a batch", "[kernels]") {
  std::mt19937 rng(99);
  for (const KernelTable<float>* t : fast_tables<float>())
    for (DenseShape s : {DenseShape{13, 700, 70}, DenseShape{7, 5, 3}}) {
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
