// Sizes, values and concurrent use that a network must refuse: widths that wrap or overflow the
// arena's size arithmetic, networks bigger than the machine, non-finite parameters and data,
// a second mutating call while one runs, and the epoch callback's meaning.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "bpnn/error.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "nn/size_check.hpp"

namespace {

bpnn::ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const bpnn::Error& e) {
    return e.kind();
  }
  FAIL("no bpnn::Error thrown");
  return bpnn::ErrorKind::internal;
}

bpnn::NetworkConfig config_of(std::vector<std::size_t> sizes, bpnn::Init init = bpnn::Init::xavier) {
  bpnn::NetworkConfig c;
  c.sizes = std::move(sizes);
  c.init = init;
  return c;
}

}  // namespace

TEST_CASE("widths that wrap, overflow or exceed memory are argument errors", "[limits]") {
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  for (auto init : {bpnn::Init::zero, bpnn::Init::uniform, bpnn::Init::xavier, bpnn::Init::he}) {
    for (const auto& sizes : std::vector<std::vector<std::size_t>>{
             {std::size_t{1} << 63, 2},       // wrapped unit·in to 0: SIGFPE before
             {2, max, 1},                     // a wrapped −1: SIGSEGV in dense_pack before
             {2, std::size_t{1} << 31, 1},    // one past the widest layer
             {2, std::size_t{1} << 30, std::size_t{1} << 30, 1},  // 2^60 weights
             {2, 100000, 100000, 1}}) {       // 40 GB of f32 parameters: more than this machine
      INFO("sizes[1] = " << sizes[1]);
      CHECK_THROWS_WITH(bpnn::Network(config_of(sizes, init)),
                        Catch::Contains("network sizes"));
      CHECK(kind_of([&] { bpnn::Network net(config_of(sizes, init)); }) == bpnn::ErrorKind::argument);
    }
  }
  CHECK_THROWS_WITH(bpnn::Network(config_of({2, 100000, 100000, 1})), Catch::Contains("bytes ("));
}

TEST_CASE("checked size arithmetic refuses what does not fit", "[limits]") {
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  CHECK(bpnn::checked_mul(1u << 20, 1u << 20, "x") == std::size_t{1} << 40);
  CHECK_THROWS_WITH(bpnn::checked_mul(max / 2 + 1, 2, "rows"), Catch::Contains("rows:"));
  CHECK_THROWS_WITH(bpnn::checked_add(max, 1, "total"), Catch::Contains("does not fit"));
  CHECK(bpnn::arena_bytes_bound({2, 4, 1}, 4) >= (2 * 4 + 4 + 4 * 1 + 1) * 4);
  CHECK_THROWS(bpnn::arena_bytes_bound({max, max}, 8));
  CHECK(bpnn::physical_memory_bytes() > (std::size_t{1} << 26));
}

TEST_CASE("set_layer refuses non-finite values and values its precision cannot hold", "[limits]") {
  bpnn::Network net(config_of({2, 1}));
  const std::vector<double> before = net.weights(0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(net.set_layer(0, std::vector<double>{1, nan}, std::vector<double>{0}),
                    Catch::Contains("weight 1 is not finite"));
  CHECK_THROWS_WITH(net.set_layer(0, std::vector<double>{1, 2}, std::vector<double>{-INFINITY}),
                    Catch::Contains("bias 0 is not finite"));
  CHECK_THROWS_WITH(net.set_layer(0, std::vector<double>{1, 1e300}, std::vector<double>{0}),
                    Catch::Contains("overflows"));
  CHECK(net.weights(0) == before);
}

TEST_CASE("training refuses epochs out of range and non-finite targets", "[limits]") {
  bpnn::NetworkConfig c = config_of({1, 1});
  c.precision = bpnn::Precision::f64;
  bpnn::Network net(c);
  const double x[] = {0.5, 0.25};
  double y[] = {1, 0};
  bpnn::TrainConfig t;
  t.epochs = 0;
  CHECK_THROWS_WITH(bpnn::Trainer(net, t, x, y, 2), Catch::Contains("epochs"));
  t.epochs = bpnn::max_epochs + 1;
  CHECK_THROWS_WITH(bpnn::Trainer(net, t, x, y, 2), Catch::Contains("epochs"));
  t.epochs = 1;
  y[1] = std::numeric_limits<double>::quiet_NaN();
  CHECK(kind_of([&] { bpnn::Trainer trainer(net, t, x, y, 2); }) == bpnn::ErrorKind::data);
  CHECK_THROWS_WITH(bpnn::Trainer(net, t, x, y, 2), Catch::Contains("target 0 of sample 1"));
}

TEST_CASE("a network is busy while a trainer holds it", "[limits]") {
  bpnn::NetworkConfig c = config_of({1, 1});
  c.precision = bpnn::Precision::f64;
  bpnn::Network net(c);
  const double x[] = {0.5, 0.25}, y[] = {1, 0};
  bpnn::TrainConfig t;
  {
    bpnn::Trainer first(net, t, x, y, 2);
    CHECK(kind_of([&] { bpnn::Trainer second(net, t, x, y, 2); }) == bpnn::ErrorKind::busy);
    CHECK(kind_of([&] { net.set_layer(0, std::vector<double>{1}, std::vector<double>{1}); }) ==
          bpnn::ErrorKind::busy);
    bpnn::Network copy = net;  // a copy starts free
    CHECK_NOTHROW(bpnn::Trainer(copy, t, x, y, 2));
    first.run_epoch();
  }
  CHECK_NOTHROW(net.set_layer(0, std::vector<double>{1}, std::vector<double>{1}));
  CHECK_NOTHROW(bpnn::Trainer(net, t, x, y, 2));
}

TEST_CASE("the epoch callback stops training with EpochAction::stop", "[limits]") {
  bpnn::NetworkConfig c = config_of({1, 1});
  bpnn::Network net(c);
  const double x[] = {0.5, 0.25}, y[] = {1, 0};
  bpnn::TrainConfig t;
  t.epochs = 10;
  std::size_t calls = 0;
  const bpnn::TrainReport report = bpnn::Trainer(net, t, x, y, 2).run([&](const bpnn::EpochStats& s) {
    ++calls;
    return s.epoch == 2 ? bpnn::EpochAction::stop : bpnn::EpochAction::go_on;
  });
  CHECK(calls == 3);
  CHECK(report.epochs_run == 3);
  CHECK(report.stopped_by_callback);
  bpnn::Trainer again(net, t, x, y, 2);
  CHECK(again.run([](const bpnn::EpochStats&) { return bpnn::EpochAction::go_on; }).epochs_run == 10);
}
