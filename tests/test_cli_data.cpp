// train, eval and predict on IDX pairs (plain and gzip) and FANN .data files through the built CLI.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "cli_run.hpp"
#include "idx_test_util.hpp"

using bpnn_test::cli_run;
using bpnn_test::file_write;
using bpnn_test::gz_write;
using bpnn_test::idx_ubyte;
using bpnn_test::ScratchDir;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// 40 images of 4 pixels: label 0 is bright on the left, label 1 on the right.
void idx_pair_write(const ScratchDir& dir, bool gzip) {
  std::vector<int> pixels, labels;
  for (int i = 0; i < 40; ++i) {
    const int label = i % 2, shade = 180 + (i * 7) % 70;
    for (int p : {shade, shade - 20, 10 + i % 9, 5})
      pixels.push_back(p);
    if (label == 1) std::reverse(pixels.end() - 4, pixels.end());
    labels.push_back(label);
  }
  const auto write = gzip ? gz_write : file_write;
  write(dir.path / (gzip ? "img.gz" : "img"), idx_ubyte({40, 2, 2}, pixels));
  write(dir.path / (gzip ? "lab.gz" : "lab"), idx_ubyte({40}, labels));
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

const char* train_options = "--layers 4,6,2 --scale minmax --output-act softmax --loss xent --optimizer adam "
                            "--lr 0.05 --epochs 40 --batch 8 --seed 3 -o m.st";

}  // namespace

TEST_CASE("train, eval and predict on an IDX pair, gzip and plain", "[cli][idx]") {
  ScratchDir dir;
  idx_pair_write(dir, true);
  idx_pair_write(dir, false);
  const auto train = cli_run(dir.path, std::string("train idx:img.gz,lab.gz ") + train_options);
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  const bpnn::Network net = bpnn::load_model((dir.path / "m.st").string());
  CHECK(net.metadata().at("classes") == R"(["0","1"])");
  CHECK(net.metadata().at("label") == "label");
  CHECK(net.metadata().at("data_columns") == "5");
  CHECK(net.metadata().at("input_columns") == "0,1,2,3");
  for (const char* data : {"idx:img.gz,lab.gz", "idx:img,lab"}) {
    const auto eval = cli_run(dir.path, std::string("eval m.st ") + data + " --json");
    INFO(eval.err);
    REQUIRE(eval.exit_code == 0);
    const auto j = nlohmann::json::parse(eval.out);
    CHECK(j["n"] == 40);
    CHECK(j["classes"] == std::vector<std::string>{"0", "1"});
    CHECK(j["accuracy"].get<double>() >= 0.9);
  }
  const auto predict = cli_run(dir.path, "predict m.st idx:img.gz");
  INFO(predict.err);
  REQUIRE(predict.exit_code == 0);
  CHECK(lines(predict.out) == 41);
  CHECK_THAT(predict.out, StartsWith("\"0\",\"1\"\n"));
  const auto labelled = cli_run(dir.path, "predict m.st idx:img,lab --labels");
  REQUIRE(labelled.exit_code == 0);
  CHECK(lines(labelled.out) == 41);
  CHECK(predict.out == cli_run(dir.path, "predict m.st idx:img").out);
}

TEST_CASE("train --classes names IDX labels by value, and eval and predict use the names", "[cli][idx]") {
  ScratchDir dir;
  idx_pair_write(dir, false);
  const auto train = cli_run(dir.path, std::string("train idx:img,lab --classes left,right ") + train_options);
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  const auto eval = cli_run(dir.path, "eval m.st idx:img,lab --json");
  INFO(eval.err);
  REQUIRE(eval.exit_code == 0);
  const auto j = nlohmann::json::parse(eval.out);
  CHECK(j["classes"] == std::vector<std::string>{"left", "right"});
  CHECK(j["per_class"][0]["support"] == 20);
  const auto predict = cli_run(dir.path, "predict m.st idx:img --labels");
  REQUIRE(predict.exit_code == 0);
  CHECK_THAT(predict.out, StartsWith("label\n\"left\"\n\"right\"\n"));
  // A label the names do not cover.
  const auto few = cli_run(dir.path, std::string("train idx:img,lab --classes left ") + train_options);
  CHECK(few.exit_code == 3);
  CHECK_THAT(few.err, Contains("lab:record 1: label 1 has no name"));
}

TEST_CASE("IDX data errors on the command line: located, exit 3, and misuse, exit 2", "[cli][idx]") {
  ScratchDir dir;
  idx_pair_write(dir, false);
  file_write(dir.path / "short", idx_ubyte({40, 2, 2}, {1, 2, 3}));
  file_write(dir.path / "few", idx_ubyte({39}, std::vector<int>(39, 0)));
  const auto truncated = cli_run(dir.path, std::string("train idx:short,lab ") + train_options);
  CHECK(truncated.exit_code == 3);
  CHECK_THAT(truncated.err, Contains("short:byte 19: the file is truncated"));
  const auto counts = cli_run(dir.path, std::string("train idx:img,few ") + train_options);
  CHECK(counts.exit_code == 3);
  CHECK_THAT(counts.err, Contains("few:byte 4: 39 labels for the 40 records of img"));
  const auto alone = cli_run(dir.path, std::string("train idx:img ") + train_options);
  CHECK(alone.exit_code == 2);
  CHECK_THAT(alone.err, Contains("idx:IMAGES,LABELS"));
  const auto label = cli_run(dir.path, std::string("train idx:img,lab --label x ") + train_options);
  CHECK(label.exit_code == 2);
  const auto width = cli_run(dir.path, "train idx:img,lab --layers 5,2 -o m.st");
  CHECK(width.exit_code == 3);
  CHECK_THAT(width.err, Contains("img: the rows have 5 columns, so 4 inputs and 2 targets, but --layers starts with 5"));
  REQUIRE(cli_run(dir.path, std::string("train idx:img,lab ") + train_options).exit_code == 0);
  const auto no_labels = cli_run(dir.path, "eval m.st idx:img");
  CHECK(no_labels.exit_code == 2);
}

TEST_CASE("train, eval and predict on a FANN .data file", "[cli][fann]") {
  ScratchDir dir;
  // y = (x0 + x1) / 4 on a 5 × 5 grid, rows broken across lines.
  std::string text = "25 2 1\n";
  for (int i = 0; i < 25; ++i) {
    const int a = i % 5, b = i / 5;
    text += std::to_string(a) + " " + std::to_string(b) + "\n" + std::to_string((a + b) / 4.0) + "\n";
  }
  dir.write("sum.data", text);
  dir.write("sum.txt", text);
  const auto train = cli_run(dir.path, "train sum.data --layers 2,1 --output-act linear --optimizer adam --lr 0.05 "
                                       "--epochs 200 --batch 5 -o m.st");
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  const bpnn::Network net = bpnn::load_model((dir.path / "m.st").string());
  CHECK(net.metadata().at("data_columns") == "3");
  CHECK(net.metadata().at("input_columns") == "0,1");
  for (const char* data : {"sum.data", "fann:sum.txt"}) {
    const auto eval = cli_run(dir.path, std::string("eval m.st ") + data + " --json");
    INFO(eval.err);
    REQUIRE(eval.exit_code == 0);
    const auto j = nlohmann::json::parse(eval.out);
    CHECK(j["n"] == 25);
    CHECK(j["rmse"].get<double>() < 0.05);
  }
  const auto predict = cli_run(dir.path, "predict m.st sum.data");
  REQUIRE(predict.exit_code == 0);
  CHECK(lines(predict.out) == 26);
  // The same model on a CSV of the inputs.
  dir.write("x.csv", "0,0\n4,4\n");
  const auto csv = cli_run(dir.path, "predict m.st x.csv");
  REQUIRE(csv.exit_code == 0);
  CHECK(lines(csv.out) == 3);
  // Errors: located in the file (exit 3); --label does not apply (exit 2).
  dir.write("bad.data", "2 2 1\n1 2 3\n4 five 6\n");
  const auto bad = cli_run(dir.path, "train bad.data --layers 2,1 -o b.st");
  CHECK(bad.exit_code == 3);
  CHECK_THAT(bad.err, Contains("bad.data:3:3: value \"five\" is not a number"));
  const auto width = cli_run(dir.path, "train sum.data --layers 3,1 -o b.st");
  CHECK(width.exit_code == 3);
  CHECK_THAT(width.err, Contains("sum.data:2:1: the rows have 3 columns, so 2 inputs and 1 targets, but --layers "
                                 "starts with 3 inputs"));
  const auto outputs = cli_run(dir.path, "train sum.data --layers 2,2 -o b.st");
  CHECK(outputs.exit_code == 3);
  CHECK_THAT(outputs.err, Contains("sum.data:2:1: the header's num_output is 1, but --layers ends with 2 outputs"));
  CHECK(cli_run(dir.path, "train sum.data --label 2 --layers 2,1 -o b.st").exit_code == 2);
}
