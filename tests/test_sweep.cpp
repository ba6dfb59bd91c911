// train_many (include/bpnn/sweep.hpp): every member equals bpnn::train with its settings bit for
// bit, on every instruction set this CPU runs, through the lane kernel and through the
// single-network trainer; a member that diverges stops alone; the lane kernel is close to its
// scalar reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/sweep.hpp"
#include "bpnn/train.hpp"
#include "kernel_tables.hpp"
#include "kernels/isa.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference/sweep_reference.hpp"
#include "nn/aligned.hpp"
#include "same_bits.hpp"

using bpnn::Activation;
using bpnn::SweepMember;
using bpnn::test::ScopedArch;

namespace {

// The instruction sets this CPU runs, and the reference.
std::vector<std::string> arch_names() {
  std::vector<std::string> names;
  for (const auto& info : bpnn::kernels::instruction_sets)
    if (bpnn::kernels::cpu_runs(info.set)) names.emplace_back(info.name);
  names.emplace_back("reference");
  return names;
}

// n seeded samples: inputs in [-1, 1]; targets one-hot classes (outputs > 1), a 0/1 column, or
// values in (0, 1)
bpnn::Dataset data_make(std::size_t n, std::size_t inputs, std::size_t outputs, bool classes,
                        unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  bpnn::Dataset d;
  d.n = n;
  d.inputs = inputs;
  d.outputs = outputs;
  for (std::size_t r = 0; r < n; ++r) {
    double s = 0;
    for (std::size_t i = 0; i < inputs; ++i) {
      d.x.push_back(u(gen));
      s += d.x.back() * static_cast<double>(i % 3 + 1);
    }
    for (std::size_t j = 0; j < outputs; ++j) {
      if (!classes)
        d.y.push_back(0.5 + 0.4 * std::sin(s + static_cast<double>(j)));
      else if (outputs == 1)
        d.y.push_back(s > 0 ? 1.0 : 0.0);
      else
        d.y.push_back(static_cast<std::size_t>(std::fabs(s) * 7) % outputs == j ? 1.0 : 0.0);
    }
  }
  return d;
}

struct Shape {
  std::vector<std::size_t> sizes;
  Activation hidden, output;
  bool classes;
};

// Shapes that reach every branch of the single path's order: the tiny step (2-4-1, 2-2-1), the
// few-lanes back-propagation, one vector of outputs (haddp's tree), several vectors.
const std::vector<Shape> shapes = {
    {{2, 4, 1}, Activation::sigmoid, Activation::sigmoid, true},  // the seed network
    {{2, 2, 1}, Activation::tanh, Activation::sigmoid, true},
    {{3, 5, 2}, Activation::relu, Activation::linear, false},
    {{5, 12, 6}, Activation::sigmoid, Activation::sigmoid, true},
    {{20, 24, 10}, Activation::sigmoid, Activation::sigmoid, true},
    {{6, 20, 18, 3}, Activation::tanh, Activation::sigmoid, false},
};

std::vector<SweepMember> members_of(const Shape& shape, bpnn::Precision precision, std::size_t count,
                                    double val_split) {
  std::vector<SweepMember> members;
  for (std::size_t m = 0; m < count; ++m) {
    SweepMember member;
    member.network.sizes = shape.sizes;
    member.network.hidden_act = shape.hidden;
    member.network.output_act = shape.output;
    member.network.precision = precision;
    member.network.seed = 11 + m;
    member.train.learning_rate = 0.05 + 0.1 * static_cast<double>(m % 5);
    member.train.seed = 101 + 3 * m;
    member.train.epochs = 3;
    member.train.val_split = val_split;
    member.train.threads = 1;
    members.push_back(member);
  }
  return members;
}

// Every layer's weights and biases, as doubles (exact for f32).
std::vector<double> parameters(const bpnn::Network& net) {
  std::vector<double> all;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    const auto w = net.weights(l), b = net.bias(l);
    all.insert(all.end(), w.begin(), w.end());
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

// The member trained alone by bpnn::train.
bpnn::Network alone(const SweepMember& member, const bpnn::Dataset& data) {
  bpnn::Network net(member.network);
  bpnn::train(net, member.train, data);
  return net;
}

void check_equal_alone(const std::vector<SweepMember>& members, const bpnn::Dataset& data,
                       int threads, bpnn::LaneGroups groups = bpnn::LaneGroups::automatic) {
  bpnn::SweepOptions options;
  options.threads = threads;
  options.lane_groups = groups;
  const auto results = bpnn::train_many(members, data, options);
  REQUIRE(results.size() == members.size());
  for (std::size_t m = 0; m < members.size(); ++m) {
    INFO("member " << m << ", lane path " << results[m].lane_path);
    CHECK(results[m].diverged.empty());
    CHECK(results[m].report.epochs_run == members[m].train.epochs);
    CHECK(bpnn_test::same_bits(parameters(results[m].network), parameters(alone(members[m], data))));
  }
}

}  // namespace

TEST_CASE("train_many: every lane-path member equals bpnn::train bit for bit", "[sweep]") {
  for (const std::string& arch : arch_names()) {
    ScopedArch scoped(arch.c_str());
    for (const auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
      for (const Shape& shape : shapes) {
        INFO(arch << (precision == bpnn::Precision::f32 ? " f32 " : " f64 ") << shape.sizes.size()
                  << " sizes, first hidden " << shape.sizes[1]);
        const bpnn::Dataset data =
            data_make(29, shape.sizes.front(), shape.sizes.back(), shape.classes, 7);
        // 19 members: a full group of 16 f32 (or two of 8 f64) and a padded one; in narrow
        // groups (AVX-512 f32: 4 members per vector, one per 128-bit lane) four full groups and
        // a padded one
        const auto members = members_of(shape, precision, 19, 0);
        for (const auto& m : members) REQUIRE(bpnn::sweep_lane_path(m));
        for (const auto groups : {bpnn::LaneGroups::full, bpnn::LaneGroups::narrow}) {
          INFO((groups == bpnn::LaneGroups::full ? "full" : "narrow") << " groups");
          check_equal_alone(members, data, 1, groups);
        }
      }
    }
  }
}

TEST_CASE("train_many: held-out splits, classes and thread counts keep the equality", "[sweep]") {
  const Shape& shape = shapes[4];
  const bpnn::Dataset data = data_make(60, 20, 10, true, 3);
  auto members = members_of(shape, bpnn::Precision::f32, 17, 0.25);
  const auto one = bpnn::train_many(members, data, {1, bpnn::Backend::tbb});
  const auto two = bpnn::train_many(members, data, {2, bpnn::Backend::tbb});
  for (std::size_t m = 0; m < members.size(); ++m) {
    INFO("member " << m);
    REQUIRE(one[m].lane_path);
    CHECK(bpnn_test::same_bits(parameters(one[m].network), parameters(two[m].network)));
    CHECK(bpnn_test::same_bits(parameters(one[m].network), parameters(alone(members[m], data))));
    CHECK(std::isfinite(one[m].val_loss));
    CHECK(one[m].val_accuracy >= 0.0);
    CHECK(one[m].train_accuracy >= 0.0);
  }
}

// Short chains (the seed network) train in groups of 2 to 4 vectors per value, as many as a
// thread's share of the members fills, and a last group of as few vectors as hold it: 52 members
// are one group of 4 vectors (f32 AVX-512) on one thread, two of 2 vectors on two threads (f64:
// groups of 4 vectors and 3).
TEST_CASE("train_many: short-chain groups of several vectors keep the equality for any member count",
          "[sweep]") {
  const Shape& shape = shapes[0];
  const bpnn::Dataset data = data_make(29, 2, 1, true, 6);
  for (const auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
    const auto members = members_of(shape, precision, 52, 0);
    const auto one = bpnn::train_many(members, data, {1, bpnn::Backend::tbb});
    const auto two = bpnn::train_many(members, data, {2, bpnn::Backend::tbb});
    for (std::size_t m = 0; m < members.size(); ++m) {
      INFO("member " << m);
      REQUIRE(one[m].lane_path);
      CHECK(bpnn_test::same_bits(parameters(one[m].network), parameters(two[m].network)));
      CHECK(one[m].report.final_loss == two[m].report.final_loss);
      if (m % 6 == 0 || m + 1 == members.size())
        CHECK(bpnn_test::same_bits(parameters(one[m].network), parameters(alone(members[m], data))));
    }
  }
}

TEST_CASE("train_many: other optimizers and mini-batches go through the single trainer, equal",
          "[sweep]") {
  const Shape& shape = shapes[3];
  const bpnn::Dataset data = data_make(40, 5, 6, true, 5);
  auto members = members_of(shape, bpnn::Precision::f64, 6, 0);
  members[0].train.momentum = 0.9;
  members[1].train.l2 = 1e-3;
  members[2].train.optimizer = bpnn::Optimizer::adam;
  members[2].train.learning_rate = 1e-2;
  members[3].train.batch = 8;
  members[4].train.optimizer = bpnn::Optimizer::nesterov;
  members[5].network.precision = bpnn::Precision::f32;
  members[5].train.batch = 5;
  for (const auto& m : members) REQUIRE(!bpnn::sweep_lane_path(m));
  check_equal_alone(members, data, 2);
}

TEST_CASE("train_many: a member that diverges stops alone, with its weights from before", "[sweep]") {
  // the general lane kernel and the short-chain (tiny) shape
  const Shape shape = GENERATE(Shape{{3, 5, 2}, Activation::relu, Activation::linear, false},
                               Shape{{3, 3, 2}, Activation::tanh, Activation::linear, false});
  bpnn::Dataset data = data_make(23, 3, 2, false, 9);
  for (double& v : data.y) v *= 1e18;  // huge targets: a large rate overflows within an epoch
  auto members = members_of(shape, bpnn::Precision::f32, 5, 0);
  for (auto& m : members) m.train.learning_rate = 1e-40;  // tiny: stays finite
  members[2].train.learning_rate = 1e3;
  const auto groups = GENERATE(bpnn::LaneGroups::full, bpnn::LaneGroups::narrow);
  const auto results = bpnn::train_many(members, data, {0, bpnn::Backend::tbb, groups});
  for (std::size_t m = 0; m < members.size(); ++m) {
    INFO("member " << m << (groups == bpnn::LaneGroups::full ? ", full" : ", narrow") << " groups");
    CHECK(results[m].lane_path);
    bpnn::Network single(members[m].network);
    if (m == 2) {
      CHECK_THROWS_AS(bpnn::train(single, members[m].train, data), bpnn::Error);
      CHECK(results[m].diverged.find("diverged") != std::string::npos);
      CHECK(results[m].report.epochs_run < members[m].train.epochs);
    } else {
      bpnn::train(single, members[m].train, data);
      CHECK(results[m].diverged.empty());
    }
    CHECK(bpnn_test::same_bits(parameters(results[m].network), parameters(single)));
  }
}

TEST_CASE("train_many: a member whose weights overflow while its loss stays finite diverges as bpnn::train does",
          "[sweep]") {
  // one row, one epoch: the only step's loss is finite and its update overflows f32 (|lr·δ| >
  // 3.4e38), and no later step computes a loss that would show it
  const Shape shape = GENERATE(Shape{{3, 5, 2}, Activation::relu, Activation::linear, false},
                               Shape{{3, 3, 2}, Activation::tanh, Activation::linear, false});
  bpnn::Dataset data = data_make(1, 3, 2, false, 4);
  data.y = {50.0, -50.0};
  auto members = members_of(shape, bpnn::Precision::f32, 5, 0);
  for (auto& m : members) {
    m.train.learning_rate = 0.01;
    m.train.epochs = 1;
  }
  members[3].train.learning_rate = 1e38;
  const auto groups = GENERATE(bpnn::LaneGroups::full, bpnn::LaneGroups::narrow);
  const auto results = bpnn::train_many(members, data, {0, bpnn::Backend::tbb, groups});
  for (std::size_t m = 0; m < members.size(); ++m) {
    INFO("member " << m << (groups == bpnn::LaneGroups::full ? ", full" : ", narrow") << " groups");
    CHECK(results[m].lane_path);
    bpnn::Network single(members[m].network);
    if (m == 3) {
      std::string why;
      try {
        bpnn::train(single, members[m].train, data);
      } catch (const bpnn::Error& e) {
        CHECK(e.kind() == bpnn::ErrorKind::nonfinite);
        why = e.what();
      }
      CHECK(why.find("a weight became NaN or infinite in epoch 1") != std::string::npos);
      CHECK(results[m].diverged == why);
      CHECK(results[m].report.epochs_run == 0);
    } else {
      bpnn::train(single, members[m].train, data);
      CHECK(results[m].diverged.empty());
      CHECK(bpnn_test::same_bits(parameters(results[m].network), parameters(single)));
    }
  }
}

TEST_CASE("train_many: arguments are checked before any training", "[sweep]") {
  const bpnn::Dataset data = data_make(10, 2, 1, true, 1);
  CHECK_THROWS_AS(bpnn::train_many({}, data), bpnn::Error);
  auto members = members_of(shapes[0], bpnn::Precision::f32, 3, 0);
  members[1].network.sizes = {3, 4, 1};
  auto no_epochs = members_of(shapes[0], bpnn::Precision::f32, 2, 0);
  no_epochs[1].train.epochs = 0;  // bpnn::train refuses it; so must the lane path
  CHECK_THROWS_AS(bpnn::train_many(no_epochs, data), bpnn::Error);
  try {
    bpnn::train_many(members, data);
    FAIL("no error");
  } catch (const bpnn::Error& e) {
    CHECK(e.kind() == bpnn::ErrorKind::argument);
    CHECK(std::string(e.what()).find("member 1") != std::string::npos);
  }
}

TEMPLATE_TEST_CASE("the lane kernel is close to its scalar reference", "[sweep][kernels]", float,
                   double) {
  using T = TestType;
  const auto& table = bpnn::kernels::kernels_select<T>();
  if (!table.sweep_sample_sgd) return;  // BPNN_ARCH=reference
  const std::size_t W = table.sweep_lanes;
  std::mt19937 gen(4);
  std::uniform_real_distribution<T> u(-1, 1);
  const std::size_t E = GENERATE_COPY(values<std::size_t>({1, table.sweep_narrow_elements}));
  INFO(E << " elements per network");
  for (const Shape& shape : shapes) {
    const bpnn::kernels::SweepLayout layout =
        bpnn::kernels::sweep_layout(shape.sizes, shape.hidden, shape.output, W, E);
    const bpnn::kernels::SweepNet net = layout.net();
    const std::size_t params = layout.params_size, work = layout.work_size;
    const std::size_t in0 = shape.sizes.front(), stride = in0 + shape.sizes.back();
    // 3W rows of inputs then targets; lane m trains on rows 3m, 3m + 1, 3m + 2, ... in turn
    const std::size_t n = 3 * W;
    bpnn::AlignedVector<T> p(params), q, w1(work), w2(work), rows(n * stride), lr(W), l1(W), l2(W);
    bpnn::AlignedVector<double> s1(W), s2(W);
    for (auto& v : p) v = u(gen) / 2;
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < stride; ++c)
        rows[r * stride + c] = c < in0 ? u(gen) : (u(gen) + 1) / 2;
    for (std::size_t lane = 0; lane < W; ++lane) lr[lane] = T(0.1) + T(0.05) * static_cast<T>(lane / E);
    std::vector<std::int64_t> offset(W);
    q = p;
    for (std::size_t step = 0; step < 5; ++step) {
      for (std::size_t lane = 0; lane < W; ++lane)  // network lane / E
        offset[lane] = static_cast<std::int64_t>(((3 * (lane / E) + step) % n) * stride);
      REQUIRE(table.sweep_sample_sgd(net, 1, rows.data(), offset.data(), lr.data(), nullptr, p.data(),
                                     w1.data(), l1.data(), s1.data()) == 1);
      REQUIRE(bpnn::kernels::sweep_sample_sgd_reference<T>(net, 1, rows.data(), offset.data(), lr.data(),
                                                           nullptr, q.data(), w2.data(), l2.data(),
                                                           s2.data()) == 1);
      for (std::size_t m = 0; m < W; ++m) CHECK(l1[m] == Approx(l2[m]).epsilon(1e-4).margin(1e-6));
    }
    bpnn::kernels::sweep_pending_apply(net, p.data(), w1.data());  // the last step's update
    for (std::size_t i = 0; i < params; ++i) CHECK(p[i] == Approx(q[i]).epsilon(1e-4).margin(1e-5));
    for (std::size_t m = 0; m < W; ++m) CHECK(s1[m] == Approx(s2[m]).epsilon(1e-4).margin(1e-6));
    // a masked network keeps its parameters
    bpnn::AlignedVector<T> keep(W, T(1)), before = p;
    for (std::size_t lane = E; lane < 2 * E; ++lane) keep[lane] = 0;  // network 1
    REQUIRE(table.sweep_sample_sgd(net, 1, rows.data(), offset.data(), lr.data(), keep.data(), p.data(),
                                   w1.data(), l1.data(), s1.data()) == 1);
    bpnn::kernels::sweep_pending_apply(net, p.data(), w1.data());
    for (std::size_t i = 0; i < params; ++i)
      if (i % W / E == 1) CHECK(p[i] == before[i]);
  }
}

// Narrow and full groups leave each step's weight update pending and make it in the next step's
// forward pass (kernels.hpp, SweepNet), each in its own layout and order of vectors. Both are the
// single path, so every network must end bit for bit the same through either, step by step
// through the driver's protocol: unmasked steps, a step that returns false on a non-finite loss
// (no update of its own, the previous one made) and its masked rerun, masked steps after it, and
// the pending update made by sweep_pending_apply at the end.
TEST_CASE("narrow groups with the pending update equal full groups bit for bit", "[sweep][kernels]") {
  using T = float;
  const auto& table = bpnn::kernels::kernels_select<T>();
  if (!table.sweep_sample_sgd || table.sweep_narrow_elements == 1) return;  // no narrow groups
  const std::size_t W = table.sweep_lanes, E = table.sweep_narrow_elements, G = W / E;
  for (const Shape& shape : shapes) {
    INFO(shape.sizes.size() << " sizes, first hidden " << shape.sizes[1]);
    const auto full = bpnn::kernels::sweep_layout(shape.sizes, shape.hidden, shape.output, W, 1);
    const auto narrow = bpnn::kernels::sweep_layout(shape.sizes, shape.hidden, shape.output, W, E);
    const std::size_t in0 = shape.sizes.front(), k = shape.sizes.back(), stride = in0 + k;
    const std::size_t n = 3 * W, L = shape.sizes.size() - 1;
    std::mt19937 gen(8);
    std::uniform_real_distribution<T> u(-1, 1);
    bpnn::AlignedVector<T> rows(n * stride);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < stride; ++c) rows[r * stride + c] = c < in0 ? u(gen) : (u(gen) + 1) / 2;
    const std::size_t huge_row = 7 * 2 + 4;  // network 2 reads it at step 4, no other one: E = ∞
    rows[huge_row * stride + in0] = T(1e30);
    // network m's parameters in both layouts; full lanes G … W − 1 repeat networks m mod G
    bpnn::AlignedVector<T> pf(full.params_size), pn(narrow.params_size);
    for (std::size_t l = 0; l < L; ++l)
      for (std::size_t m = 0; m < G; ++m)
        for (std::size_t o = 0; o < shape.sizes[l + 1]; ++o) {
          const T b = u(gen) / 2;
          pn[narrow.bias_index(l, o, m)] = b;
          for (std::size_t c = m; c < W; c += G) pf[full.bias_index(l, o, c)] = b;
          for (std::size_t i = 0; i < shape.sizes[l]; ++i) {
            const T w = u(gen) / 2;
            pn[narrow.weight_index(l, o, i, m)] = w;
            for (std::size_t c = m; c < W; c += G) pf[full.weight_index(l, o, i, c)] = w;
          }
        }
    bpnn::AlignedVector<T> wf(full.work_size), wn(narrow.work_size), lf(W), ln(W);
    bpnn::AlignedVector<double> sf(W), sn(W);
    bpnn::AlignedVector<T> lr_f(W), lr_n(W), keep_f(W, T(1)), keep_n(W, T(1));
    for (std::size_t c = 0; c < W; ++c) {
      lr_f[c] = T(0.1) + T(0.2) * static_cast<T>(c % G);
      lr_n[c] = T(0.1) + T(0.2) * static_cast<T>(c / E);
    }
    const T* kf = nullptr;
    const T* kn = nullptr;
    std::vector<std::int64_t> off_f(W), off_n(W);
    for (std::size_t step = 0; step < 7; ++step) {
      INFO("step " << step);
      if (step == 6) {  // network 1 stops: a masked step that changes it not
        for (std::size_t c = 1; c < W; c += G) keep_f[c] = 0;
        for (std::size_t e = 0; e < E; ++e) keep_n[E + e] = 0;
      }
      for (std::size_t c = 0; c < W; ++c) {
        off_f[c] = static_cast<std::int64_t>(((7 * (c % G) + step) % n) * stride);
        off_n[c] = static_cast<std::int64_t>(((7 * (c / E) + step) % n) * stride);
      }
      const bool stepped_f = table.sweep_sample_sgd(full.net(), 1, rows.data(), off_f.data(), lr_f.data(),
                                                    kf, pf.data(), wf.data(), lf.data(), sf.data()) == 1;
      const bool stepped_n = table.sweep_sample_sgd(narrow.net(), 1, rows.data(), off_n.data(), lr_n.data(),
                                                    kn, pn.data(), wn.data(), ln.data(), sn.data()) == 1;
      REQUIRE(stepped_f == stepped_n);
      CHECK(stepped_f == (step != 4));
      if (!stepped_f) {  // the driver masks the network whose loss is not finite and steps again
        for (std::size_t m = 0; m < G; ++m)
          if (!std::isfinite(ln[m * E])) {
            for (std::size_t c = m; c < W; c += G) keep_f[c] = 0;
            for (std::size_t e = 0; e < E; ++e) keep_n[m * E + e] = 0;
          }
        kf = keep_f.data();
        kn = keep_n.data();
        REQUIRE(table.sweep_sample_sgd(full.net(), 1, rows.data(), off_f.data(), lr_f.data(), kf,
                                       pf.data(), wf.data(), lf.data(), sf.data()) == 1);
        REQUIRE(table.sweep_sample_sgd(narrow.net(), 1, rows.data(), off_n.data(), lr_n.data(), kn,
                                       pn.data(), wn.data(), ln.data(), sn.data()) == 1);
      }
      for (std::size_t m = 0; m < G; ++m) {
        CHECK(bpnn_test::same_bits({lf[m]}, {ln[m * E]}));
        CHECK(bpnn_test::same_bits({sf[m]}, {sn[m * E]}));
        for (std::size_t j = 0; j < k; ++j)
          CHECK(bpnn_test::same_bits({wf[full.output_index(j, m)]}, {wn[narrow.output_index(j, m)]}));
      }
    }
    CHECK(keep_n[2 * E] == 0);  // network 2 diverged at step 4
    bpnn::kernels::sweep_pending_apply(full.net(), pf.data(), wf.data());
    bpnn::kernels::sweep_pending_apply(narrow.net(), pn.data(), wn.data());
    for (std::size_t m = 0; m < G; ++m) {
      INFO("network " << m);
      std::vector<double> a, b;
      for (std::size_t l = 0; l < L; ++l)
        for (std::size_t o = 0; o < shape.sizes[l + 1]; ++o) {
          a.push_back(pf[full.bias_index(l, o, m)]);
          b.push_back(pn[narrow.bias_index(l, o, m)]);
          for (std::size_t i = 0; i < shape.sizes[l]; ++i) {
            a.push_back(pf[full.weight_index(l, o, i, m)]);
            b.push_back(pn[narrow.weight_index(l, o, i, m)]);
          }
        }
      CHECK(bpnn_test::same_bits(a, b));
    }
  }
}

namespace {

// A group trained by the driver's protocol (engine/train/sweep.cpp), `per_call` steps per kernel
// call: a call that stops early on a non-finite loss masks those networks and goes on from there.
template <class T>
struct ProtocolRun {
  bpnn::AlignedVector<T> params, work, loss, keep;
  bpnn::AlignedVector<double> loss_sum;
  std::vector<std::size_t> masked_at;  // step of each masking, in order
};

template <class T, class Kernel>
ProtocolRun<T> protocol_run(Kernel kernel, const bpnn::kernels::SweepLayout& layout, std::size_t steps,
                            std::size_t per_call, const bpnn::AlignedVector<T>& params,
                            const bpnn::AlignedVector<T>& rows, const std::vector<std::int64_t>& offset,
                            const bpnn::AlignedVector<T>& lr) {
  const std::size_t W = layout.lanes, E = layout.elements;
  ProtocolRun<T> r{params, bpnn::AlignedVector<T>(layout.work_size), bpnn::AlignedVector<T>(W),
                   bpnn::AlignedVector<T>(W, T(1)), bpnn::AlignedVector<double>(W), {}};
  const T* keep = nullptr;
  const auto mask_failing = [&](std::size_t step) {
    for (std::size_t m = 0; m < W / E; ++m)
      if (r.keep[m * E] != 0 && !std::isfinite(r.loss[m * E])) {
        for (std::size_t e = 0; e < E; ++e) r.keep[m * E + e] = 0;
        r.masked_at.push_back(step);
        keep = r.keep.data();
      }
  };
  for (std::size_t s = 0; s < steps;) {
    const std::size_t count = std::min(per_call, steps - s);
    const std::size_t made = kernel(layout.net(), count, rows.data(), offset.data() + s * W, lr.data(), keep,
                                    r.params.data(), r.work.data(), r.loss.data(), r.loss_sum.data());
    REQUIRE(made <= count);
    REQUIRE((made > 0 || !keep));
    s += made;
    if (made < count && !keep) {
      mask_failing(s);
      REQUIRE(keep);
      continue;
    }
    if (keep) mask_failing(s - 1);
  }
  bpnn::kernels::sweep_pending_apply(layout.net(), r.params.data(), r.work.data());
  return r;
}

}  // namespace

// The kernel's step loop (KernelTable::sweep_sample_sgd with steps > 1) makes the steps one call
// per step makes, sums the losses the same way, and stops where a loss turns non-finite: at an
// unmasked step (not made) and at a masked one (made for the others).
TEMPLATE_TEST_CASE("many steps per kernel call equal one step per call, bit for bit",
                   "[sweep][kernels]", float, double) {
  using T = TestType;
  const Shape shape = GENERATE(Shape{{2, 4, 1}, Activation::sigmoid, Activation::sigmoid, true},
                               Shape{{20, 24, 10}, Activation::sigmoid, Activation::sigmoid, true});
  for (const std::string& arch : arch_names()) {
    ScopedArch scoped(arch.c_str());
    const auto& table = bpnn::kernels::kernels_select<T>();
    const auto kernel = table.sweep_sample_sgd ? table.sweep_sample_sgd : bpnn::kernels::sweep_sample_sgd_reference<T>;
    // (lanes, elements): full groups, narrow groups, and the short chain's groups of two vectors
    // per value (sweep_sample_sgd_short; the seed network is one)
    std::vector<std::pair<std::size_t, std::size_t>> groups;
    if (table.sweep_sample_sgd) {
      groups = {{table.sweep_lanes, 1}, {table.sweep_lanes, table.sweep_narrow_elements}};
      if (table.sweep_short_chain_lanes > 0 && shape.sizes[1] <= table.sweep_short_chain_width)
        groups.emplace_back(table.sweep_short_chain_lanes, 1);
    } else {
      groups = {{8, 1}, {8, 2}};
    }
    for (const auto& [W, E] : groups) {
      INFO(arch << ", " << shape.sizes[0] << " inputs, " << W << " lanes, " << E << " elements per network");
      const auto layout = bpnn::kernels::sweep_layout(shape.sizes, shape.hidden, shape.output, W, E);
      const std::size_t G = W / E, steps = 12, in0 = shape.sizes.front();
      const std::size_t stride = in0 + shape.sizes.back(), n = steps * std::max<std::size_t>(16, G);
      std::mt19937 gen(12);
      std::uniform_real_distribution<T> u(-1, 1);
      bpnn::AlignedVector<T> params(layout.params_size), rows(n * stride), lr(W);
      for (auto& v : params) v = u(gen) / 2;
      for (auto& v : rows) v = (u(gen) + 1) / 2;
      const T huge = static_cast<T>(std::is_same_v<T, float> ? 1e30 : 1e300);  // E = ½(ŷ − huge)² = ∞
      rows[(steps * 1 + 3) * stride + in0] = huge;
      rows[(steps * 3 + 9) * stride + in0] = huge;
      std::vector<std::int64_t> offset(steps * W);  // network m at step s: row 12m + s
      for (std::size_t s = 0; s < steps; ++s)
        for (std::size_t c = 0; c < W; ++c)
          offset[s * W + c] = static_cast<std::int64_t>((steps * (c / E) + s) * stride);
      for (std::size_t c = 0; c < W; ++c) lr[c] = T(0.5) + T(0.25) * static_cast<T>(c / E % 3);
      const auto one = protocol_run<T>(kernel, layout, steps, 1, params, rows, offset, lr);
      for (const std::size_t per_call : {std::size_t{5}, steps}) {
        INFO(per_call << " steps per call");
        const auto many = protocol_run<T>(kernel, layout, steps, per_call, params, rows, offset, lr);
        // network 1 at an unmasked step, network 3 (where the group has one) at a masked one
        CHECK(one.masked_at == (G > 3 ? std::vector<std::size_t>{3, 9} : std::vector<std::size_t>{3}));
        CHECK(many.masked_at == one.masked_at);
        CHECK(many.keep == one.keep);
        CHECK(bpnn_test::same_bits(std::vector<double>(many.params.begin(), many.params.end()),
                                   std::vector<double>(one.params.begin(), one.params.end())));
        CHECK(bpnn_test::same_bits(std::vector<double>(many.loss_sum.begin(), many.loss_sum.end()),
                                   std::vector<double>(one.loss_sum.begin(), one.loss_sum.end())));
      }
      // a network's non-finite loss is not summed
      CHECK(std::isfinite(one.loss_sum[1 * E]));
      CHECK(one.loss_sum[1 * E] > 0);
    }
  }
}

// Short-chain groups of several vectors with members that diverge mid-epoch (the masked P-vector
// kernel): members 0, 21 and 38 of 40 sit in vectors 0, 1 and 2 of a group, and member 0 is the
// one the padding lanes copy. Every member, diverged or not, equals bpnn::train alone (which
// throws for the diverged ones, after the same steps), on every instruction set, 1 and 2
// threads. (From a review: the masked path with more than one vector was compared with
// bpnn::train nowhere.)
TEST_CASE("train_many: short-chain groups with members diverging mid-epoch keep the equality", "[sweep]") {
  const Shape shape{{3, 3, 2}, Activation::tanh, Activation::linear, false};
  for (const std::string& arch : arch_names()) {
    ScopedArch scoped(arch.c_str());
    for (const auto precision : {bpnn::Precision::f32, bpnn::Precision::f64}) {
      bpnn::Dataset data = data_make(23, 3, 2, false, 9);
      for (double& v : data.y) v *= 1e18;
      auto members = members_of(shape, precision, 40, 0);
      for (auto& member : members) {
        member.train.learning_rate = 1e-40;
        member.train.epochs = 2;
      }
      for (const std::size_t m : {0, 21, 38}) members[m].train.learning_rate = 1e3;
      for (const int threads : {1, 2}) {
        const auto results = bpnn::train_many(members, data, {threads, bpnn::Backend::tbb});
        std::size_t diverged = 0;
        for (std::size_t m = 0; m < members.size(); ++m) {
          INFO(arch << (precision == bpnn::Precision::f32 ? " f32" : " f64") << ", " << threads << " threads, member "
                    << m);
          REQUIRE(results[m].lane_path);
          bpnn::Network single(members[m].network);
          bool threw = false;
          try {
            bpnn::train(single, members[m].train, data);
          } catch (const bpnn::Error&) {
            threw = true;
          }
          CHECK(threw == !results[m].diverged.empty());
          diverged += threw ? 1 : 0;
          CHECK(bpnn_test::same_bits(parameters(results[m].network), parameters(single)));
        }
        CHECK(diverged == 3);
      }
    }
  }
}

// Members whose targets are classes count their correct ones from the ŷ log of each call of up to
// 64 steps (SweepNet::yhat_log_steps), not one kernel call per step: 150 rows make three calls per
// epoch, the last a partial one. Each member's training accuracy and loss equal bpnn::train's
// last epoch, in full groups and narrow groups, for one-hot and 0/1 targets, and with a
// member that diverges mid-call (whose steps before it still count for the others).
TEST_CASE("train_many: class counts from the ŷ log equal bpnn::train's accuracy", "[sweep]") {
  for (const auto& [shape, rate] : {std::pair{Shape{{20, 24, 10}, Activation::sigmoid, Activation::sigmoid, true}, 0.0},
                                    std::pair{Shape{{5, 12, 1}, Activation::tanh, Activation::sigmoid, true}, 0.0},
                                    std::pair{Shape{{5, 12, 1}, Activation::relu, Activation::linear, true}, 1e30}}) {
    const bpnn::Dataset data = data_make(150, shape.sizes.front(), shape.sizes.back(), true, 17);
    auto members = members_of(shape, bpnn::Precision::f32, 6, 0);
    if (rate > 0) members[2].train.learning_rate = rate;  // overflows within the first epoch
    for (const auto groups : {bpnn::LaneGroups::full, bpnn::LaneGroups::narrow}) {
      const auto results = bpnn::train_many(members, data, {1, bpnn::Backend::tbb, groups});
      CHECK(results[2].diverged.empty() == (rate == 0));
      for (std::size_t m = 0; m < members.size(); ++m) {
        INFO(shape.sizes.back() << " outputs, " << (groups == bpnn::LaneGroups::full ? "full" : "narrow") << " groups, member " << m);
        REQUIRE(results[m].lane_path);
        bpnn::Network single(members[m].network);
        bpnn::EpochStats last;
        try {
          bpnn::train(single, members[m].train, data, [&](const bpnn::EpochStats& e) {
            last = e;
            return bpnn::EpochAction::go_on;
          });
        } catch (const bpnn::Error&) {
          CHECK(m == 2);
          CHECK(!results[m].diverged.empty());
          continue;
        }
        CHECK(last.accuracy > 0);
        CHECK(results[m].train_accuracy == last.accuracy);
        CHECK(results[m].report.final_loss == last.loss);
        CHECK(bpnn_test::same_bits(parameters(results[m].network), parameters(single)));
      }
    }
  }
}
