// bpnn train's run control end to end: validation (split or file) in the epoch lines, early
// stopping, schedules, checkpoints and --resume (the same model as the run never stopped; what
// resume refuses, with its exit codes).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "bpnn/train.hpp"
#include "cli_run.hpp"
#include "same_bits.hpp"
#include "train_test_util.hpp"

using bpnn_test::cli_run;
using bpnn_test::ScratchDir;

namespace {

// Three noisy classes in two features, with a header and a text label.
std::string classes_csv(int rows, int seed) {
  std::string csv = "a,b,kind\n";
  unsigned state = static_cast<unsigned>(seed);
  const auto next = [&state] { state = state * 1103515245u + 12345u; return (state >> 8) % 1000 / 1000.0; };
  for (int i = 0; i < rows; ++i) {
    const double a = next(), b = next();
    const int k = (a + 0.3 * next() > 0.6) + (b > 0.5);
    csv += std::to_string(a) + "," + std::to_string(b) + "," + (k == 0 ? "red" : k == 1 ? "green" : "blue") + "\n";
  }
  return csv;
}

std::vector<double> model_parameters(const std::filesystem::path& path) {
  return bpnn_test::all_parameters(bpnn::load_model(path.string()));
}

int lines_starting(const std::string& text, const std::string& prefix) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.rfind(prefix, 0) == 0;
  return n;
}

}  // namespace

TEST_CASE("train --val-split and --val score every epoch, --early-stop needs them", "[cli][train][validation]") {
  ScratchDir dir;
  dir.write("train.csv", classes_csv(150, 1));
  dir.write("val.csv", classes_csv(40, 2));
  const std::string base = "train train.csv --layers 2,8,3 --label kind --output-act softmax --loss xent "
                           "--optimizer adam --lr 0.01 --batch 8 ";
  auto r = cli_run(dir.path, base + "--epochs 3 --val-split 0.2 -o a.st");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(lines_starting(r.out, "epoch ") == 3);
  CHECK_THAT(r.out, Catch::Contains("val_loss ") && Catch::Contains("val_accuracy ") && Catch::Contains(" lr 0.01"));
  r = cli_run(dir.path, base + "--epochs 2 --val val.csv -o b.st");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("val_loss "));
  r = cli_run(dir.path, base + "--epochs 2 --test val.csv -o t.st");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(" test_loss ") && Catch::Contains(" test_accuracy ") && Catch::Contains(" time "));
  // Scoring steers nothing without --early-stop: the same model as with --val, or with neither.
  CHECK(bpnn_test::same_bits(model_parameters(dir.path / "t.st"), model_parameters(dir.path / "b.st")));
  CHECK(cli_run(dir.path, base + "--early-stop 3 -o c.st").exit_code == 2);
  CHECK(cli_run(dir.path, base + "--val-split 0.2 --val val.csv -o c.st").exit_code == 2);
  CHECK(cli_run(dir.path, base + "--val-split 1 -o c.st").exit_code == 2);
  CHECK(cli_run(dir.path, base + "--val missing.csv -o c.st").exit_code == 4);
  CHECK(cli_run(dir.path, base + "--val train.csv -o train.csv").exit_code == 2);  // output = an input
  dir.write("wrong.csv", "a,b,c,kind\n1,2,3,red\n");
  CHECK(cli_run(dir.path, base + "--val wrong.csv -o c.st").exit_code == 3);
  CHECK(cli_run(dir.path, base + "--test wrong.csv -o c.st").exit_code == 3);
  dir.write("other.csv", "a,b,kind\n0.1,0.2,purple\n");
  CHECK(cli_run(dir.path, base + "--val other.csv -o c.st").exit_code == 3);  // a class not trained
}

TEST_CASE("train --early-stop keeps the best epoch, the one eval then sees", "[cli][train][validation]") {
  ScratchDir dir;
  dir.write("train.csv", classes_csv(200, 3));
  const auto r = cli_run(dir.path, "train train.csv --layers 2,32,3 --label kind --output-act softmax --loss xent "
                                   "--optimizer adam --lr 0.05 --batch 4 --epochs 300 --val-split 0.3 "
                                   "--early-stop 5 -o m.st");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("# early stop"));
  CHECK(lines_starting(r.out, "epoch ") < 300);
}

TEST_CASE("train --schedule shows the rate per epoch", "[cli][train]") {
  ScratchDir dir;
  dir.write("train.csv", classes_csv(40, 4));
  auto r = cli_run(dir.path, "train train.csv --layers 2,4,3 --label kind --output-act softmax --loss xent "
                             "--lr 0.4 --batch 4 --epochs 4 --schedule step:2:0.5 -o m.st");
  REQUIRE(r.exit_code == 0);
  CHECK(lines_starting(r.out, "epoch 2 ") == 1);
  CHECK_THAT(r.out, Catch::Contains("lr 0.4 ") && Catch::Contains("lr 0.2 "));
  CHECK(cli_run(dir.path, "train train.csv --layers 2,4,3 --label kind --schedule step:0:0.5 -o m.st").exit_code == 2);
  CHECK(cli_run(dir.path, "train train.csv --layers 2,4,3 --label kind --schedule warm -o m.st").exit_code == 2);
}

TEST_CASE("train --resume ends with the model of the run never stopped", "[cli][train][checkpoint]") {
  ScratchDir dir;
  dir.write("train.csv", classes_csv(120, 5));
  const std::string shape = "train train.csv --layers 2,6,3 --label kind --output-act softmax --loss xent "
                            "--optimizer adam --batch 8 --schedule plateau:1:0.5 --val-split 0.25 --early-stop 6 "
                            "--scale standard ";
  REQUIRE(cli_run(dir.path, shape + "--epochs 12 --threads 1 -o whole.st").exit_code == 0);
  auto r = cli_run(dir.path, shape + "--epochs 5 --threads 2 --checkpoint run.ckpt --checkpoint-every 2 -o part.st");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  // Only the data, the new total and the output: every shaping option comes from the checkpoint.
  r = cli_run(dir.path, "train train.csv --resume run.ckpt --epochs 12 --threads 3 --checkpoint run.ckpt -o resumed.st");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("# resumed after epoch 5"));
  CHECK(bpnn_test::same_bits(model_parameters(dir.path / "whole.st"), model_parameters(dir.path / "resumed.st")));
  CHECK(bpnn::checkpoint_read((dir.path / "run.ckpt").string()).epochs_done >= 6);

  // The same option given again is fine; another value is exit 2; other data exit 3; a model
  // file or a corrupt checkpoint exit 5.
  REQUIRE(cli_run(dir.path, shape + "--epochs 5 --checkpoint c.ckpt -o p.st").exit_code == 0);
  CHECK(cli_run(dir.path, "train train.csv --resume c.ckpt --epochs 6 --optimizer adam --batch 8 -o r.st").exit_code == 0);
  CHECK(cli_run(dir.path, "train train.csv --resume c.ckpt --epochs 6 --lr 0.5 -o r.st").exit_code == 2);
  CHECK(cli_run(dir.path, "train train.csv --resume c.ckpt --epochs 6 --layers 2,7,3 -o r.st").exit_code == 2);
  CHECK(cli_run(dir.path, "train train.csv --resume c.ckpt --epochs 2 -o r.st").exit_code == 2);
  CHECK(cli_run(dir.path, shape + "--checkpoint-every 2 -o r.st").exit_code == 2);  // no --checkpoint
  dir.write("changed.csv", classes_csv(120, 6));
  CHECK(cli_run(dir.path, "train changed.csv --resume c.ckpt --epochs 6 -o r.st").exit_code == 3);
  CHECK(cli_run(dir.path, "train train.csv --resume p.st --epochs 6 -o r.st").exit_code == 5);
  std::string bytes = bpnn_test::file_text(dir.path / "c.ckpt");
  bytes[bytes.size() / 2] ^= 1;
  dir.write("bad.ckpt", bytes);
  CHECK(cli_run(dir.path, "train train.csv --resume bad.ckpt --epochs 6 -o r.st").exit_code == 5);
}

TEST_CASE("the README's digits example: validation split, early stopping, then eval", "[cli][train][digits]") {
  ScratchDir dir;
  const std::string data = BPNN_TEST_DATA_DIR "/../../tools/data/";
  auto r = cli_run(dir.path, "train '" + data + "digits_train.csv' --layers 64,64,10 --label digit "
                             "--output-act softmax --loss xent --optimizer adam --scale standard --batch 32 "
                             "--epochs 200 --val-split 0.15 --early-stop 10 -o digits.safetensors");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("# early stop"));
  r = cli_run(dir.path, "eval digits.safetensors '" + data + "digits_test.csv' --json");
  REQUIRE(r.exit_code == 0);
  const auto at = r.out.find("\"accuracy\":");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(r.out.substr(at + 11)) >= 0.96);
}

TEST_CASE("train --quiet, --log-every, --history and --plot", "[cli][train][history]") {
  ScratchDir dir;
  dir.write("train.csv", classes_csv(60, 7));
  const std::string base = "train train.csv --layers 2,5,3 --label kind --output-act softmax --loss xent "
                           "--batch 6 --epochs 7 --val-split 0.2 ";
  auto r = cli_run(dir.path, base + "--log-every 3 --history h.csv --plot h.svg -o m.st");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(lines_starting(r.out, "epoch ") == 3);  // 1, 4, 7
  CHECK(lines_starting(r.out, "epoch 4 ") == 1);
  CHECK(r.err.empty());  // not a terminal: no bar, no escape codes
  const std::string csv = bpnn_test::file_text(dir.path / "h.csv");
  CHECK(csv.rfind("epoch,train_loss,val_loss,train_accuracy,val_accuracy,learning_rate,seconds\n", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 8);  // every epoch, whatever --log-every says
  const std::string svg = bpnn_test::file_text(dir.path / "h.svg");
  CHECK_THAT(svg, Catch::StartsWith("<svg") && Catch::Contains("validation"));
  r = cli_run(dir.path, base + "--quiet -o q.st");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(r.err.empty());
  CHECK(cli_run(dir.path, base + "--history train.csv -o m.st").exit_code == 2);  // over an input
  CHECK(cli_run(dir.path, base + "--plot m.st -o m.st").exit_code == 2);          // two outputs in one
  CHECK(cli_run(dir.path, base + "--history nowhere/h.csv -o m.st").exit_code == 4);
  CHECK(cli_run(dir.path, base + "--log-every 0 -o m.st").exit_code == 2);
}
