// bpnn sweep: the Cartesian product of the listed settings, one model per member equal to what
// `bpnn train` writes with the same settings, sweep.csv, the summary, --folds, and usage errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "cli_run.hpp"
#include "same_bits.hpp"
#include "train_test_util.hpp"

using bpnn_test::cli_run;
using bpnn_test::ScratchDir;

namespace {

// Two noisy classes in two features, a 0/1 target column (the seed network's kind of data).
std::string binary_csv(int rows, int seed) {
  std::string csv = "a,b,y\n";
  unsigned state = static_cast<unsigned>(seed);
  const auto next = [&state] { state = state * 1103515245u + 12345u; return (state >> 8) % 1000 / 1000.0; };
  for (int i = 0; i < rows; ++i) {
    const double a = next(), b = next();
    csv += std::to_string(a) + "," + std::to_string(b) + "," + ((a - 0.5) * (b - 0.5) + 0.1 * next() > 0.02 ? "1" : "0") + "\n";
  }
  return csv;
}

std::vector<double> model_parameters(const std::filesystem::path& path) {
  return bpnn_test::all_parameters(bpnn::load_model(path.string()));
}

int line_count(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace

TEST_CASE("sweep writes one model per member, equal to bpnn train's, and sweep.csv", "[cli][sweep]") {
  ScratchDir dir;
  dir.write("data.csv", binary_csv(40, 3));
  auto r = cli_run(dir.path, "sweep data.csv --layers '2,4|3,1' --lr 0.5,2 --seeds 1..3 --epochs 4 "
                             "--momentum 0,0.5 -o out");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  // 2 widths × 2 rates × 2 momenta × 3 seeds
  CHECK_THAT(r.out, Catch::Contains("24 members (8 configurations × 3 seeds)"));
  CHECK_THAT(r.out, Catch::Contains("sorted by training loss"));
  const std::string csv = bpnn_test::file_text(dir.path / "out" / "sweep.csv");
  CHECK(line_count(csv) == 25);
  CHECK_THAT(csv, Catch::StartsWith("member,fold,layers,activation,lr,momentum,l2,seed,train_loss"));
  for (int m = 0; m < 24; ++m) {
    char name[32];
    std::snprintf(name, sizeof name, "member-%03d.safetensors", m);
    REQUIRE(std::filesystem::exists(dir.path / "out" / name));
  }
  // member 0: 2,4,1 lr 0.5 momentum 0 seed 1 (the lane path); member 5: seed 3 of 2,4,1 lr 0.5
  // momentum 0.5 (the single trainer); member 22: seed 2 of 2,3,1 lr 2 momentum 0.5
  const struct {
    int member;
    const char* args;
  } checks[] = {{0, "--layers 2,4,1 --lr 0.5 --momentum 0 --seed 1"},
                {5, "--layers 2,4,1 --lr 0.5 --momentum 0.5 --seed 3"},
                {22, "--layers 2,3,1 --lr 2 --momentum 0.5 --seed 2"},
                {14, "--layers 2,3,1 --lr 0.5 --momentum 0 --seed 3"}};
  for (const auto& c : checks) {
    INFO("member " << c.member);
    auto t = cli_run(dir.path, std::string("train data.csv --epochs 4 --quiet ") + c.args + " -o alone.st");
    REQUIRE(t.exit_code == 0);
    char name[32];
    std::snprintf(name, sizeof name, "member-%03d.safetensors", c.member);
    CHECK(bpnn_test::same_bits(model_parameters(dir.path / "out" / name), model_parameters(dir.path / "alone.st")));
  }
  const bpnn::Network m0 = bpnn::load_model((dir.path / "out" / "member-000.safetensors").string());
  CHECK_THAT(m0.metadata().at("sweep"), Catch::Contains("\"lr\":\"0.5\"") && Catch::Contains("\"seed\":\"1\""));
}

TEST_CASE("sweep: a member whose weights overflow is marked diverged and gets no model file", "[cli][sweep]") {
  // one row, one epoch: lr 1e38 overflows the member's weights while its only loss is finite
  ScratchDir dir;
  dir.write("one.csv", "x,y\n3,50\n");
  auto r = cli_run(dir.path, "sweep one.csv --layers 1,1 --output-act linear --lr 0.01,1e38 --epochs 1 -o out");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("1 diverged") && Catch::Contains("and 1 models"));
  CHECK(std::filesystem::exists(dir.path / "out" / "member-000.safetensors"));
  CHECK_FALSE(std::filesystem::exists(dir.path / "out" / "member-001.safetensors"));
  const std::string csv = bpnn_test::file_text(dir.path / "out" / "sweep.csv");
  CHECK(line_count(csv) == 3);
  CHECK_THAT(csv, Catch::Contains("1e+38,default,default,1,,,,,0,1,1"));
}

TEST_CASE("sweep sorts by validation loss, and --folds gives mean ± std per configuration", "[cli][sweep]") {
  ScratchDir dir;
  dir.write("data.csv", binary_csv(60, 5));
  auto r = cli_run(dir.path, "sweep data.csv --layers '2,2|6,1' --lr 1 --seeds 1,2 --epochs 3 --val-split 0.25 -o v");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("sorted by validation loss"));
  dir.write("val.csv", binary_csv(20, 6));
  r = cli_run(dir.path, "sweep data.csv --layers 2,3,1 --lr 1 --seeds 1,2 --epochs 3 --val val.csv -o w");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("sorted by validation loss"));
  const std::string with_val = bpnn_test::file_text(dir.path / "w" / "sweep.csv");
  CHECK(with_val.find(",,") != std::string::npos);  // the fold column is empty
  r = cli_run(dir.path, "sweep data.csv --layers '2,2|6,1' --lr 1 --seeds 1,2 --epochs 3 --folds 3 -o f");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("sorted by cross-validation loss") && Catch::Contains(" ± "));
  const std::string csv = bpnn_test::file_text(dir.path / "f" / "sweep.csv");
  CHECK(line_count(csv) == 1 + 4 * 3);
  CHECK(std::filesystem::exists(dir.path / "f" / "member-003-fold-3.safetensors"));
}

TEST_CASE("sweep: usage errors are one line with exit code 2", "[cli][sweep]") {
  ScratchDir dir;
  dir.write("data.csv", binary_csv(10, 1));
  for (const char* args : {"--layers '2|3,4,1' --seeds 1 -o o", "--layers 2,4,1 --seeds 5..2 -o o",
                           "--layers 2,4,1 --lr 0.1,,1 -o o", "--layers 2,4,1 --val-split 0.2 --folds 3 -o o",
                           "--layers 2,4,1 --activation sigmoid,nope -o o"}) {
    INFO(args);
    const auto r = cli_run(dir.path, std::string("sweep data.csv ") + args);
    CHECK(r.exit_code == 2);
    CHECK(line_count(r.err) == 1);
  }
  dir.write("file", "x");
  const auto r = cli_run(dir.path, "sweep data.csv --layers 2,4,1 -o file");
  CHECK(r.exit_code == 4);
}

#ifdef BPNN_CLI_HAS_BENCH  // the CLI has `bench` only when Google Benchmark is built (not in sanitizer builds)
TEST_CASE("bench --workload seed_sweep,small_sweep counts member-samples", "[cli][sweep][bench]") {
  ScratchDir dir;
  const auto r = cli_run(dir.path, "bench --workload seed_sweep,small_sweep --smoke --json out.json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(bpnn_test::file_text(dir.path / "out.json"));
  std::vector<std::string> names;
  for (const auto& b : j["benchmarks"]) {
    names.push_back(b["name"].get<std::string>());
    CHECK(b["samples_per_s"].get<double>() > 0);
    CHECK(b["members"].get<double>() >= 16);
  }
  CHECK(names == std::vector<std::string>{"train/seed_sweep/threads:1/real_time", "train/small_sweep/threads:1/real_time"});
}
#endif  // BPNN_CLI_HAS_BENCH
