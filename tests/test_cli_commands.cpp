// bpnn eval and bpnn check-grad end to end through the built CLI.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "cli_run.hpp"

using bpnn_test::cli_run;
using bpnn_test::ScratchDir;

TEST_CASE("eval scores a regression model by its output column's name", "[cli][eval]") {
  ScratchDir dir;
  bpnn::NetworkConfig c;
  c.sizes = {1, 1};
  c.output_act = bpnn::Activation::linear;
  c.precision = bpnn::Precision::f64;
  bpnn::Network net(c);
  net.set_layer(0, std::vector<double>{2}, std::vector<double>{1});  // ŷ = 2x + 1
  net.metadata()["input_names"] = R"(["x"])";
  net.metadata()["output_names"] = R"(["y"])";
  bpnn::save_model(net, (dir.path / "m.st").string());
  // y is not the last column: found by name. ŷ = 1, 3, 5, 7; errors 0, 0, 1, 2.
  dir.write("d.csv", "y,x,extra\n1,0,9\n3,1,9\n4,2,9\n5,3,9\n");
  const auto r = cli_run(dir.path, "eval m.st d.csv --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["n"] == 4);
  CHECK(j["rmse"].get<double>() == Approx(std::sqrt(5.0 / 4)).epsilon(1e-12));
  CHECK(j["mae"].get<double>() == Approx(3.0 / 4));
  CHECK(j["loss"].get<double>() == Approx(0.5 * 5 / 4));
  CHECK(j["per_output"][0]["output"] == "y");
  CHECK_FALSE(j.contains("accuracy"));
  const auto text = cli_run(dir.path, "eval m.st d.csv");
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("rmse 1.11803399\n"));
}

TEST_CASE("eval of a --label model agrees with predict's arg-max, class by class", "[cli][eval]") {
  ScratchDir dir;
  const std::string csv = bpnn_test::three_class_model_write(dir);
  const auto r = cli_run(dir.path, "eval m.st d.csv --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["classes"] == std::vector<std::string>{"hi", "lo", "mid"});
  // Recount from predict's probabilities and the file's labels.
  const auto p = cli_run(dir.path, "predict m.st d.csv");
  REQUIRE(p.exit_code == 0);
  std::istringstream rows(p.out), labels(csv);
  std::string line, label_line;
  std::getline(rows, line);
  std::getline(labels, label_line);
  std::vector<std::vector<std::size_t>> confusion(3, std::vector<std::size_t>(3, 0));
  const std::vector<std::string> classes = {"hi", "lo", "mid"};
  while (std::getline(rows, line) && std::getline(labels, label_line)) {
    double v[3];
    char comma;
    std::istringstream(line) >> v[0] >> comma >> v[1] >> comma >> v[2];
    const std::size_t guess = std::max_element(v, v + 3) - v;
    const std::string truth = label_line.substr(label_line.rfind(',') + 1);
    confusion[std::find(classes.begin(), classes.end(), truth) - classes.begin()][guess]++;
  }
  CHECK(j["confusion"] == confusion);
  std::size_t hits = confusion[0][0] + confusion[1][1] + confusion[2][2];
  CHECK(j["accuracy"].get<double>() == Approx(hits / 60.0));
  CHECK(j["per_class"][1]["support"] == confusion[1][0] + confusion[1][1] + confusion[1][2]);
}

TEST_CASE("eval refuses a file without the model's label column", "[cli][eval]") {
  ScratchDir dir;
  dir.write("d.csv", "a,b,kind\n0,1,x\n1,0,y\n");
  REQUIRE(cli_run(dir.path, "train d.csv --label kind --layers 2,2 --output-act softmax --loss xent -o m.st")
              .exit_code == 0);
  dir.write("nolabel.csv", "a,b\n0,1\n");
  const auto r = cli_run(dir.path, "eval m.st nolabel.csv");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("kind"));
}

TEST_CASE("check-grad passes a correct configuration and fails a tolerance it cannot meet", "[cli][check-grad]") {
  ScratchDir dir;
  auto r = cli_run(dir.path, "check-grad --layers 4,5,3 --hidden-act tanh --output-act softmax --loss xent");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("ok: worst relative error"));
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 4);  // header, 2 layers, verdict
  r = cli_run(dir.path, "check-grad --layers 4,5,3 --precision f32 --tol 1e-12");
  CHECK(r.exit_code == 8);
  CHECK_THAT(r.out, Catch::Contains("FAILED"));
  CHECK(cli_run(dir.path, "check-grad --layers 4,-5,3").exit_code == 2);
  CHECK(cli_run(dir.path, "check-grad --layers 4,5,3 --output-act softmax --loss xent --hidden-act softmax").exit_code == 2);
}

TEST_CASE("predict refuses a header without the model's input columns, never the first columns instead",
          "[cli][predict]") {
  ScratchDir dir;
  dir.write("d.csv", "a,b,y\n0.1,0.2,1\n0.3,0.4,0\n0.5,0.1,1\n");
  REQUIRE(cli_run(dir.path, "train d.csv --layers 2,3,1 --epochs 2 -o m.st").exit_code == 0);
  dir.write("renamed.csv", "a,c\n0.1,0.2\n");
  auto r = cli_run(dir.path, "predict m.st renamed.csv");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("renamed.csv:1:1: the header lacks 1 of the 2 input columns") &&
                        Catch::Contains(": b"));
  // Reordered and extra columns are fine: found by name.
  dir.write("reordered.csv", "y,b,x,a\n9,0.2,9,0.1\n");
  dir.write("plain.csv", "a,b\n0.1,0.2\n");
  const auto reordered = cli_run(dir.path, "predict m.st reordered.csv");
  CHECK(reordered.exit_code == 0);
  CHECK(reordered.out == cli_run(dir.path, "predict m.st plain.csv").out);
}

TEST_CASE("predict reads a header-less file of the model's inputs or of the training layout",
          "[cli][predict]") {
  ScratchDir dir;
  dir.write("d.csv", "0.1,0.2,1\n0.3,0.4,0\n0.5,0.1,1\n");  // no header: inputs 0, 1; target 2
  REQUIRE(cli_run(dir.path, "train d.csv --layers 2,3,1 --epochs 2 -o m.st").exit_code == 0);
  const auto same = cli_run(dir.path, "predict m.st d.csv");
  CHECK(same.exit_code == 0);
  dir.write("inputs.csv", "0.1,0.2\n0.3,0.4\n0.5,0.1\n");
  CHECK(cli_run(dir.path, "predict m.st inputs.csv").out == same.out);
  dir.write("four.csv", "0.1,0.2,1,7\n");
  const auto r = cli_run(dir.path, "predict m.st four.csv");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("the rows have 4 columns, but the model takes 2 inputs (its training file had 3 columns)"));
}

TEST_CASE("predict --labels, --layer and -o", "[cli][predict]") {
  ScratchDir dir;
  dir.write("d.csv", "a,b,kind\n0,1,x\n1,0,y\n0,0.9,x\n0.9,0,y\n");
  REQUIRE(cli_run(dir.path, "train d.csv --label kind --layers 2,3,2 --output-act softmax --loss xent "
                            "--epochs 200 --lr 1 -o m.st").exit_code == 0);
  auto r = cli_run(dir.path, "predict m.st d.csv --labels");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "label\n\"x\"\n\"y\"\n\"x\"\n\"y\"\n");
  r = cli_run(dir.path, "predict m.st d.csv --layer 1 -o hidden.csv");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  const std::string hidden = bpnn_test::file_text(dir.path / "hidden.csv");
  CHECK(hidden.rfind("\"h1_0\",\"h1_1\",\"h1_2\"\n", 0) == 0);
  CHECK(std::count(hidden.begin(), hidden.end(), '\n') == 5);
  r = cli_run(dir.path, "predict m.st d.csv --layer 0");
  CHECK(r.out.rfind("\"a\",\"b\"\n0,1\n", 0) == 0);
  CHECK(cli_run(dir.path, "predict m.st d.csv --layer 3").exit_code == 2);
  CHECK(cli_run(dir.path, "predict m.st d.csv --layer 1 --labels").exit_code == 2);
  CHECK(cli_run(dir.path, "predict m.st d.csv -o d.csv").exit_code == 2);
  CHECK(bpnn_test::file_text(dir.path / "d.csv").rfind("a,b,kind\n", 0) == 0);
}

TEST_CASE("train --optimizer adam --scale standard keeps the scaler, irprop refuses --batch", "[cli][train]") {
  ScratchDir dir;
  std::string csv = "a,b,y\n";
  for (int i = 0; i < 40; ++i)
    csv += std::to_string(100 + i * 3) + "," + std::to_string(-50 + (i * 7) % 23) + "," + (i % 2 ? "1" : "0") + "\n";
  dir.write("d.csv", csv);
  auto r = cli_run(dir.path, "train d.csv --layers 2,4,1 --optimizer adam --scale standard --epochs 3 -o m.st");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const bpnn::Network net = bpnn::load_model((dir.path / "m.st").string());
  CHECK(net.scaler().kind == bpnn::Scaling::standard);
  CHECK(net.scaler().offset[0] == Approx(100 + 39 * 3 / 2.0));
  // Raw values far from unit scale without --scale: a one-line hint on stderr, training goes on.
  r = cli_run(dir.path, "train d.csv --layers 2,4,1 --epochs 1 -o raw.st");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::StartsWith("bpnn: warning: input column \"a\"") && Catch::Contains("--scale standard"));
  CHECK(cli_run(dir.path, "train d.csv --layers 2,4,1 --optimizer irprop --batch 8 -o x.st").exit_code == 2);
  CHECK(cli_run(dir.path, "train d.csv --layers 2,4,1 --optimizer irprop --epochs 2 -o x.st").exit_code == 0);
  CHECK(cli_run(dir.path, "train d.csv --layers 2,4,1 --optimizer momentum --momentum 0 -o x.st").exit_code == 2);
  CHECK(cli_run(dir.path, "train d.csv --layers 2,4,1 --betas 0.9 -o x.st").exit_code == 2);
  CHECK(cli_run(dir.path, "train d.csv --layers 2,4,1 --scale zscore -o x.st").exit_code == 2);
}

TEST_CASE("train warns, on one stderr line, when the targets lie outside the output's range", "[cli][train]") {
  ScratchDir dir;
  dir.write("neg.csv", "a,y\n0.1,-2\n0.2,0.5\n0.3,1\n");
  auto r = cli_run(dir.path, "train neg.csv --layers 1,2,1 --epochs 1 -o m.st");
  CHECK(r.exit_code == 0);  // training goes on
  CHECK_THAT(r.err, Catch::StartsWith("bpnn: warning: the targets lie in [-2, 1], outside [0, 1]") &&
                        Catch::Contains("--output-act linear"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  dir.write("digits.csv", "a,digit\n0.1,0\n0.2,7\n0.3,9\n");
  r = cli_run(dir.path, "train digits.csv --layers 1,2,1 --epochs 1 -o m.st");
  CHECK_THAT(r.err, Catch::Contains("class indices in one sigmoid column") && Catch::Contains("--label"));
  r = cli_run(dir.path, "train neg.csv --layers 1,2,1 --output-act linear --epochs 1 -o m.st");
  CHECK(r.err.empty());
  r = cli_run(dir.path, "train neg.csv --layers 1,2,1 --output-act tanh --epochs 1 -o m.st");
  CHECK_THAT(r.err, Catch::Contains("outside [-1, 1] where a tanh output lives"));
}

TEST_CASE("train --targets inputs makes an autoencoder, predict --layer 1 is its code", "[cli][train]") {
  ScratchDir dir;
  std::string csv = "a,b,c,d\n";
  for (int i = 0; i < 60; ++i) {
    const double t = i / 60.0;  // four columns driven by one number: a 1-unit code can hold them
    csv += std::to_string(100 * t) + "," + std::to_string(50 - 20 * t) + "," + std::to_string(3 * t * t) +
           "," + std::to_string(7 + t) + "\n";
  }
  dir.write("d.csv", csv);
  auto r = cli_run(dir.path, "train d.csv --layers 4,3,4 --output-act linear --targets inputs --scale standard "
                        "--optimizer adam --lr 0.01 --batch 8 --epochs 300 -o ae.st");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = cli_run(dir.path, "predict ae.st d.csv --layer 1");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("\"h1_0\",\"h1_1\",\"h1_2\"\n", 0) == 0);
  const auto e = nlohmann::json::parse(cli_run(dir.path, "eval ae.st d.csv --json").out);
  CHECK(e["r2"].get<double>() > 0.9);  // reconstructs its scaled inputs well
  CHECK(cli_run(dir.path, "train d.csv --layers 4,3,2 --targets inputs -o x.st").exit_code == 2);
  CHECK(cli_run(dir.path, "train d.csv --layers 4,3,4 --targets inputs --label kind -o x.st").exit_code == 2);
}
