// The optimizers: every one against a plain reference implementation step by step (f64, 1e-12),
// with weight decay (biases excluded), Nesterov and gradient clipping; iRPROP−'s rules on single
// weights; the same bits for every thread count and both backends; the config's defaults and
// checks; the memory bound.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "nn/network_impl.hpp"
#include "train/batch_plan.hpp"
#include "train/optimizer.hpp"
#include "same_bits.hpp"
#include "train_test_util.hpp"
#include "train/trainer_core.hpp"

namespace {

using bpnn::Optimizer;

using Data = bpnn_test::TrainData;
using bpnn_test::all_parameters;

Data make_data(std::size_t n, std::size_t in, std::size_t out, std::uint64_t seed) {
  return bpnn_test::random_train_data(n, in, out, seed);
}


// The hyper-parameters the reference uses, written out (not taken from train_config_resolve, so
// the engine's defaults are checked too).
struct Rule {
  Optimizer optimizer = Optimizer::sgd;
  double lr = 0.1, momentum = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, l2 = 0, clip = 0;
};

// A textbook network in f64 with tanh hidden units, sigmoid outputs and E = ½Σ(ŷ − y)², and the
// optimizers written out one parameter at a time, as PyTorch documents them.
class Reference {
 public:
  Reference(const bpnn::Network& net, Rule rule) : rule_(rule) {
    sizes_ = net.config().sizes;
    for (std::size_t l = 0; l < net.n_layers(); ++l) {
      const auto w = net.weights(l), b = net.bias(l);
      params_.insert(params_.end(), w.begin(), w.end());
      decays_.insert(decays_.end(), w.size(), true);
      params_.insert(params_.end(), b.begin(), b.end());
      decays_.insert(decays_.end(), b.size(), false);
    }
    const std::size_t p = params_.size();
    velocity_.assign(p, 0);
    m_.assign(p, 0);
    v_.assign(p, 0);
    step_size_.assign(p, 0.1);
    previous_.assign(p, 0);
    changed_.assign(p, false);
  }

  const std::vector<double>& parameters() const { return params_; }
  std::size_t clipped_steps = 0, sign_changes = 0, zero_products_after_change = 0;

  // One step on rows [first, first + rows).
  void step(const Data& d, std::size_t first, std::size_t rows) {
    std::vector<double> g(params_.size(), 0.0);
    for (std::size_t r = first; r < first + rows; ++r) add_gradient(d, r, g);
    for (double& v : g) v /= static_cast<double>(rows);
    if (rule_.clip > 0) {  // clip_grad_norm_
      double sq = 0;
      for (double v : g) sq += v * v;
      const double coefficient = rule_.clip / (std::sqrt(sq) + 1e-6);
      if (coefficient < 1) {
        ++clipped_steps;
        for (double& v : g) v *= coefficient;
      }
    }
    ++t_;
    for (std::size_t i = 0; i < params_.size(); ++i) update(i, g[i]);
  }

  void epoch(const Data& d, std::size_t batch) {
    for (std::size_t first = 0; first < d.n; first += batch) step(d, first, std::min(batch, d.n - first));
  }

 private:
  void update(std::size_t i, double g) {
    double& w = params_[i];
    const double lambda = decays_[i] ? rule_.l2 : 0.0;
    switch (rule_.optimizer) {
      case Optimizer::sgd:
      case Optimizer::momentum:
      case Optimizer::nesterov: {
        g += lambda * w;
        if (rule_.momentum != 0) {
          velocity_[i] = t_ == 1 ? g : rule_.momentum * velocity_[i] + g;
          g = rule_.optimizer == Optimizer::nesterov ? g + rule_.momentum * velocity_[i] : velocity_[i];
        }
        w -= rule_.lr * g;
        return;
      }
      case Optimizer::adam:
      case Optimizer::adamw: {
        if (rule_.optimizer == Optimizer::adamw)
          w -= rule_.lr * lambda * w;
        else
          g += lambda * w;
        m_[i] = rule_.beta1 * m_[i] + (1 - rule_.beta1) * g;
        v_[i] = rule_.beta2 * v_[i] + (1 - rule_.beta2) * g * g;
        const double m_hat = m_[i] / (1 - std::pow(rule_.beta1, static_cast<double>(t_)));
        const double v_hat = v_[i] / (1 - std::pow(rule_.beta2, static_cast<double>(t_)));
        w -= rule_.lr * m_hat / (std::sqrt(v_hat) + rule_.eps);
        return;
      }
      case Optimizer::irprop: {
        g += lambda * w;
        const double product = previous_[i] * g;
        if (product > 0) {
          step_size_[i] = std::min(step_size_[i] * 1.2, 50.0);
        } else if (product < 0) {
          step_size_[i] = std::max(step_size_[i] * 0.5, 0.0);
          g = 0;
          ++sign_changes;
        } else if (changed_[i]) {
          ++zero_products_after_change;
        }
        changed_[i] = product < 0;
        w -= (g > 0 ? 1.0 : g < 0 ? -1.0 : 0.0) * step_size_[i];
        previous_[i] = g;
        return;
      }
    }
  }

  // g += ∂E/∂θ of sample r, by back-propagation
  void add_gradient(const Data& d, std::size_t r, std::vector<double>& g) const {
    const std::size_t layers = sizes_.size() - 1;
    std::vector<std::vector<double>> a(layers + 1);
    a[0].assign(d.x.begin() + static_cast<std::ptrdiff_t>(r * sizes_[0]),
                d.x.begin() + static_cast<std::ptrdiff_t>((r + 1) * sizes_[0]));
    std::vector<std::size_t> offset(layers);
    for (std::size_t l = 0, o = 0; l < layers; ++l) {
      offset[l] = o;
      o += sizes_[l + 1] * (sizes_[l] + 1);
    }
    for (std::size_t l = 0; l < layers; ++l) {
      const std::size_t in = sizes_[l], out = sizes_[l + 1];
      const double* w = params_.data() + offset[l];
      const double* b = w + in * out;
      for (std::size_t o = 0; o < out; ++o) {
        double z = b[o];
        for (std::size_t i = 0; i < in; ++i) z += w[o * in + i] * a[l][i];
        a[l + 1].push_back(l + 1 == layers ? 1 / (1 + std::exp(-z)) : std::tanh(z));
      }
    }
    const std::size_t k = sizes_.back();
    std::vector<double> delta(k);
    for (std::size_t j = 0; j < k; ++j) {
      const double yhat = a[layers][j];
      delta[j] = (yhat - d.y[r * k + j]) * yhat * (1 - yhat);
    }
    for (std::size_t l = layers; l-- > 0;) {
      const std::size_t in = sizes_[l], out = sizes_[l + 1];
      const double* w = params_.data() + offset[l];
      double* gw = g.data() + offset[l];
      double* gb = gw + in * out;
      std::vector<double> below(in, 0.0);
      for (std::size_t o = 0; o < out; ++o) {
        gb[o] += delta[o];
        for (std::size_t i = 0; i < in; ++i) {
          gw[o * in + i] += delta[o] * a[l][i];
          below[i] += delta[o] * w[o * in + i];
        }
      }
      if (l > 0)
        for (std::size_t i = 0; i < in; ++i) below[i] *= 1 - a[l][i] * a[l][i];
      delta = below;
    }
  }

  Rule rule_;
  std::vector<std::size_t> sizes_;
  std::vector<double> params_;
  std::vector<bool> decays_, changed_;
  std::vector<double> velocity_, m_, v_, step_size_, previous_;
  std::size_t t_ = 0;
};

bpnn::NetworkConfig tiny_config(std::uint64_t seed) {
  bpnn::NetworkConfig c;
  c.sizes = {3, 5, 2};
  c.hidden_act = bpnn::Activation::tanh;
  c.output_act = bpnn::Activation::sigmoid;
  c.precision = bpnn::Precision::f64;
  c.init = bpnn::Init::uniform;
  c.init_scale = 1.0;
  c.seed = seed;
  return c;
}

struct Case {
  std::string name;
  bpnn::TrainConfig config;  // optimizer settings only; the test fills in the rest
  Rule rule;                 // what the reference does
  std::size_t batch;         // what the reference steps over
};

std::vector<Case> reference_cases(std::size_t n) {
  std::vector<Case> cases;
  const auto add = [&](std::string name, Optimizer o, std::size_t batch, Rule rule,
                       auto&& setup) {
    bpnn::TrainConfig c;
    c.optimizer = o;
    c.batch = batch;
    setup(c);
    rule.optimizer = o;
    cases.push_back({std::move(name), c, rule, o == Optimizer::irprop ? n : batch});
  };
  const auto none = [](bpnn::TrainConfig&) {};
  add("sgd per sample (fused)", Optimizer::sgd, 1, Rule{}, none);
  add("sgd mini-batch in place", Optimizer::sgd, 3, Rule{}, none);
  add("sgd with l2", Optimizer::sgd, 3, Rule{.l2 = 0.05}, [](auto& c) { c.l2 = 0.05; });
  add("sgd with momentum, per sample", Optimizer::sgd, 1, Rule{.lr = 0.2, .momentum = 0.5},
      [](auto& c) { c.learning_rate = 0.2; c.momentum = 0.5; });
  add("momentum, its defaults", Optimizer::momentum, 3, Rule{.momentum = 0.9}, none);
  add("momentum with l2", Optimizer::momentum, 4, Rule{.momentum = 0.7, .l2 = 0.02},
      [](auto& c) { c.momentum = 0.7; c.l2 = 0.02; });
  add("nesterov, its defaults", Optimizer::nesterov, 3, Rule{.momentum = 0.9}, none);
  add("nesterov with l2, per sample", Optimizer::nesterov, 1,
      Rule{.lr = 0.05, .momentum = 0.8, .l2 = 0.01},
      [](auto& c) { c.learning_rate = 0.05; c.momentum = 0.8; c.l2 = 0.01; });
  add("adam, its defaults", Optimizer::adam, 3, Rule{.lr = 1e-3}, none);
  add("adam with l2 and its own betas", Optimizer::adam, 4,
      Rule{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .l2 = 0.03},
      [](auto& c) { c.learning_rate = 0.01; c.beta1 = 0.8; c.beta2 = 0.99; c.eps = 1e-6; c.l2 = 0.03; });
  add("adamw, its defaults", Optimizer::adamw, 3, Rule{.lr = 1e-3, .l2 = 0.01}, none);
  add("adamw with a strong decay, per sample", Optimizer::adamw, 1, Rule{.lr = 0.02, .l2 = 0.5},
      [](auto& c) { c.learning_rate = 0.02; c.l2 = 0.5; });
  add("irprop", Optimizer::irprop, 1, Rule{}, none);
  add("irprop with l2", Optimizer::irprop, 1, Rule{.l2 = 0.001}, [](auto& c) { c.l2 = 0.001; });
  add("sgd clipped", Optimizer::sgd, 3, Rule{.clip = 0.02}, [](auto& c) { c.clip = 0.02; });
  add("sgd clipped per sample", Optimizer::sgd, 1, Rule{.clip = 0.02}, [](auto& c) { c.clip = 0.02; });
  add("nesterov clipped with l2", Optimizer::nesterov, 4,
      Rule{.momentum = 0.9, .l2 = 0.05, .clip = 0.01}, [](auto& c) { c.l2 = 0.05; c.clip = 0.01; });
  add("adam clipped", Optimizer::adam, 7, Rule{.lr = 0.01, .clip = 0.005},
      [](auto& c) { c.learning_rate = 0.01; c.clip = 0.005; });
  add("adamw clipped", Optimizer::adamw, 2, Rule{.lr = 0.01, .l2 = 0.01, .clip = 0.005},
      [](auto& c) { c.learning_rate = 0.01; c.clip = 0.005; });
  return cases;
}

}  // namespace

TEST_CASE("every optimizer matches its reference step by step to 1e-12", "[optimizer]") {
  const Data data = make_data(7, 3, 2, 11);  // 7 rows: batches 2, 3 and 4 leave a partial one
  for (const Case& c : reference_cases(data.n)) {
    INFO(c.name);
    bpnn::Network net(tiny_config(21));
    Reference reference(net, c.rule);
    bpnn::TrainConfig t = c.config;
    t.shuffle = false;
    t.epochs = 25;
    t.threads = 1;
    bpnn::Trainer trainer(net, t, data.x.data(), data.y.data(), data.n);
    double worst = 0;
    for (std::size_t e = 0; e < t.epochs; ++e) {
      trainer.run_epoch();
      reference.epoch(data, c.batch);
      const auto got = all_parameters(net);
      const auto& want = reference.parameters();
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - want[i]) / std::max(std::abs(want[i]), 1e-3));
    }
    CHECK(worst <= 1e-12);
    // the parameters moved, and clipping (where asked for) was in force
    CHECK_FALSE(bpnn_test::same_bits(all_parameters(net), all_parameters(bpnn::Network(tiny_config(21)))));
    if (c.rule.clip > 0) CHECK(reference.clipped_steps > 0);
    if (c.rule.optimizer == Optimizer::irprop) {
      CHECK(reference.sign_changes > 0);
      CHECK(reference.zero_products_after_change > 0);
    }
  }
}

TEST_CASE("irprop: a zero slope product keeps the step size and sign(0) moves nothing",
          "[optimizer]") {
  bpnn::TrainConfig t;
  t.optimizer = Optimizer::irprop;
  bpnn::OptimizerCore<double> optimizer(bpnn::train_config_resolve(t), 3,
                                        bpnn::kernels::kernels_reference<double>());
  const bpnn::ParamTile all{0, 3, 0, 0};  // three weights, no biases
  std::vector<double> w(3, 0.0);
  const auto step = [&](double g0, double g1, double g2) {
    optimizer.gradient()[0] = g0, optimizer.gradient()[1] = g1, optimizer.gradient()[2] = g2;
    optimizer.step_begin();
    optimizer.update(all, 1.0, w.data());
  };
  step(1, 0, -1);  // no previous slope: Δ = 0.1 kept; sign(0) = 0
  CHECK(w == std::vector<double>{-0.1, 0, 0.1});
  step(1, 1, 1);  // same sign: Δ = 0.12; zero product: Δ = 0.1; sign change: Δ = 0.05, no step
  CHECK(w[0] == Approx(-0.22).epsilon(1e-15));
  CHECK(w[1] == Approx(-0.1).epsilon(1e-15));
  CHECK(w[2] == Approx(0.1).epsilon(1e-15));
  step(-1, 0, 1);  // change: Δ = 0.06, no step; zero: no step; after a change g' = 0: Δ 0.05 kept
  CHECK(w[0] == Approx(-0.22).epsilon(1e-15));
  CHECK(w[1] == Approx(-0.1).epsilon(1e-15));
  CHECK(w[2] == Approx(0.05).epsilon(1e-15));
  step(-1, 1, 1);  // after a change g' = 0: Δ 0.06 kept; Δ 0.1 kept; same sign: Δ = 0.06
  CHECK(w[0] == Approx(-0.16).epsilon(1e-15));
  CHECK(w[1] == Approx(-0.2).epsilon(1e-15));
  CHECK(w[2] == Approx(-0.01).epsilon(1e-15));
  // Δ grows by 1.2 up to 50 and stays there
  for (int i = 0; i < 60; ++i) step(0, 1, 0);
  const double before = w[1];
  step(0, 1, 0);
  CHECK(before - w[1] == Approx(50.0).epsilon(1e-12));
}

TEST_CASE("every optimizer gives the same bits for 1, 2 and 3 threads and both backends",
          "[optimizer][parallel]") {
  bpnn::NetworkConfig c;
  // Wide enough that phase 1 has several chunks and phase 2 several tiles, run in parallel.
  c.sizes = {128, 160, 10};
  const Data data = make_data(480, 128, 10, 3);
  struct Setting {
    const char* name;
    Optimizer optimizer;
    double l2, clip;
  };
  const Setting settings[] = {
      {"sgd", Optimizer::sgd, 0, 0},           {"sgd l2", Optimizer::sgd, 1e-3, 0},
      {"sgd clip", Optimizer::sgd, 0, 0.05},   {"momentum", Optimizer::momentum, 0, 0},
      {"nesterov l2 clip", Optimizer::nesterov, 1e-3, 0.05},
      {"adam", Optimizer::adam, 0, 0},         {"adamw clip", Optimizer::adamw, 0.01, 0.05},
      {"irprop", Optimizer::irprop, 0, 0},
  };
  {
    c.precision = bpnn::Precision::f32;
    bpnn::Network probe(c);
    const auto& mlp = std::get<bpnn::Mlp<float>>(bpnn::NetworkAccess::impl(probe).mlp);
    const bpnn::BatchPlan plan = bpnn::batch_plan_make(mlp, 192);
    REQUIRE(plan.chunks(192) > 1);
    REQUIRE(plan.weight_tasks > plan.layers.size());
    REQUIRE(plan.weights_in_parallel);
  }
  for (auto precision : {bpnn::Precision::f32, bpnn::Precision::f64})
    for (const Setting& s : settings)
      for (std::size_t batch : {std::size_t{192}, std::size_t{240}}) {  // 480 % 192 = 96
        if (s.optimizer == Optimizer::irprop && batch != 240) continue;
        c.precision = precision;
        std::vector<double> first;
        for (auto backend : {bpnn::Backend::tbb, bpnn::Backend::omp})
          for (int threads : {1, 2, 3}) {
            if (backend == bpnn::Backend::omp && threads == 1) continue;  // the same serial path
            bpnn::Network net(c);
            bpnn::TrainConfig t;
            t.optimizer = s.optimizer;
            t.l2 = s.l2 > 0 ? s.l2 : bpnn::optimizer_default;
            t.clip = s.clip;
            t.batch = s.optimizer == Optimizer::irprop ? 1 : batch;
            t.epochs = 2;
            t.threads = threads;
            t.backend = backend;
            bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
            const auto params = all_parameters(net);
            if (first.empty()) first = params;
            INFO(s.name << " " << bpnn::to_string(precision) << " batch " << batch << " threads "
                        << threads << (backend == bpnn::Backend::tbb ? " tbb" : " omp"));
            CHECK(bpnn_test::same_bits(params, first));
          }
      }
}

TEST_CASE("the clipped norm is summed over every tile of a wide network", "[optimizer]") {
  // Many tiles and chunks: the clipped Adam step against the reference, in f64.
  bpnn::NetworkConfig c;
  c.sizes = {64, 256, 2};
  c.hidden_act = bpnn::Activation::tanh;
  c.output_act = bpnn::Activation::sigmoid;
  c.precision = bpnn::Precision::f64;
  c.init = bpnn::Init::uniform;
  c.init_scale = 0.3;
  const Data data = make_data(320, 64, 2, 9);
  bpnn::Network net(c);
  Reference reference(net, Rule{.optimizer = Optimizer::adam, .lr = 0.01, .clip = 0.01});
  bpnn::TrainConfig t;
  t.optimizer = Optimizer::adam;
  t.learning_rate = 0.01;
  t.clip = 0.01;
  t.batch = 160;
  t.shuffle = false;
  t.epochs = 2;
  t.threads = 2;
  bpnn::Trainer(net, t, data.x.data(), data.y.data(), data.n).run();
  for (int e = 0; e < 2; ++e) reference.epoch(data, 160);
  REQUIRE(reference.clipped_steps == 4);
  const auto got = all_parameters(net);
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - reference.parameters()[i]) /
                                std::max(std::abs(reference.parameters()[i]), 1e-3));
  CHECK(worst <= 1e-10);
}

TEST_CASE("optimizer defaults and checks", "[optimizer]") {
  using bpnn::train_config_resolve;
  bpnn::TrainConfig t;
  const auto with = [&](Optimizer o) {
    bpnn::TrainConfig c = t;
    c.optimizer = o;
    return train_config_resolve(c);
  };
  CHECK(with(Optimizer::sgd).learning_rate == 0.1);
  CHECK(with(Optimizer::sgd).momentum == 0.0);
  CHECK(with(Optimizer::momentum).momentum == 0.9);
  CHECK(with(Optimizer::nesterov).momentum == 0.9);
  CHECK(with(Optimizer::nesterov).learning_rate == 0.1);
  CHECK(with(Optimizer::adam).learning_rate == 1e-3);
  CHECK(with(Optimizer::adam).l2 == 0.0);
  CHECK(with(Optimizer::adamw).learning_rate == 1e-3);
  CHECK(with(Optimizer::adamw).l2 == 0.01);
  CHECK(with(Optimizer::adamw).beta1 == 0.9);
  CHECK(with(Optimizer::adamw).beta2 == 0.999);
  CHECK(with(Optimizer::adamw).eps == 1e-8);
  CHECK(with(Optimizer::irprop).l2 == 0.0);
  CHECK(with(Optimizer::sgd).clip == 0.0);

  for (const char* name : {"sgd", "momentum", "nesterov", "adam", "adamw", "irprop"})
    CHECK(bpnn::to_string(bpnn::parse_optimizer(name)) == name);
  CHECK_THROWS_WITH(bpnn::parse_optimizer("rmsprop"), Catch::Contains("choose sgd"));

  const auto rejects = [](bpnn::TrainConfig c, const char* what) {
    INFO(what);
    CHECK_THROWS_WITH(train_config_resolve(c), Catch::Contains(what));
  };
  bpnn::TrainConfig c;
  c.optimizer = Optimizer::momentum;
  c.momentum = 0;
  rejects(c, "momentum");
  c.optimizer = Optimizer::adam;
  c.momentum = 0.5;
  rejects(c, "adam has no momentum");
  c = {};
  c.beta1 = 1;
  rejects(c, "beta1");
  c = {};
  c.beta2 = -0.1;
  rejects(c, "beta2");
  c = {};
  c.eps = 0;
  rejects(c, "eps");
  c = {};
  c.l2 = -1;
  rejects(c, "l2");
  c = {};
  c.clip = -1;
  rejects(c, "clip");
  c = {};
  c.learning_rate = std::numeric_limits<double>::infinity();
  rejects(c, "learning rate");

  // irprop takes the full batch: the default batch means all samples, a smaller one is an error
  const Data data = make_data(10, 3, 2, 1);
  bpnn::Network net(tiny_config(1));
  c = {};
  c.optimizer = Optimizer::irprop;
  c.batch = 4;
  try {
    bpnn::Trainer(net, c, data.x.data(), data.y.data(), data.n);
    FAIL("irprop with batch 4 of 10 was accepted");
  } catch (const bpnn::Error& e) {
    CHECK(e.kind() == bpnn::ErrorKind::argument);
    CHECK_THAT(e.what(), Catch::Contains("full batch"));
  }
  c.batch = 10;
  CHECK_NOTHROW(bpnn::Trainer(net, c, data.x.data(), data.y.data(), data.n));
  c.batch = 1;
  CHECK_NOTHROW(bpnn::Trainer(net, c, data.x.data(), data.y.data(), data.n));
  CHECK(bpnn::train_batch(bpnn::train_config_resolve(c), 10) == 10);
}

TEST_CASE("the training memory bound counts the optimizer's state", "[optimizer]") {
  bpnn::NetworkConfig net;
  net.sizes = {100, 200, 10};
  const auto bytes = [&](Optimizer o, double momentum = bpnn::optimizer_default) {
    bpnn::TrainConfig t;
    t.optimizer = o;
    t.momentum = momentum;
    t.batch = o == Optimizer::irprop ? 1 : 8;
    return bpnn::training_bytes(net, t, 1000, sizeof(float));
  };
  const std::size_t plain = bytes(Optimizer::sgd);
  const std::size_t params = bytes(Optimizer::sgd, 0.5) - plain;  // a gradient and a velocity
  CHECK(params % 2 == 0);
  CHECK(params / 2 >= (100 * 200 + 200 + 200 * 10 + 10) * sizeof(float));
  CHECK(bytes(Optimizer::momentum) == plain + params);
  CHECK(bytes(Optimizer::nesterov) == plain + params);
  CHECK(bytes(Optimizer::adam) == plain + params / 2 * 3);
  CHECK(bytes(Optimizer::adamw) == plain + params / 2 * 3);
  // irprop: the gradient, the step sizes and the previous gradient, and a full batch
  CHECK(bytes(Optimizer::irprop) > plain + params / 2 * 3);
}
