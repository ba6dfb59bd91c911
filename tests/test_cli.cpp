// The bpnn CLI end to end: train on a CSV, predict, compare; errors and exit codes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"

namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the CLI with `args` (shell words) in `dir`, capturing stdout and stderr; `before` is a
// shell command run first in the same shell (e.g. a ulimit).
Run run_cli(const fs::path& dir, const std::string& args, const std::string& before = "true") {
  const std::string cmd = "cd '" + dir.string() + "' && " + before + " && '" BPNN_CLI_PATH "' " +
                          args + " > stdout.txt 2> stderr.txt";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), slurp(dir / "stdout.txt"), slurp(dir / "stderr.txt")};
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("bpnn_cli_" + std::to_string(::getpid()) + "_" + std::to_string(std::rand()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

}  // namespace

TEST_CASE("bpnn demo prints the seed trace and writes the figure", "[cli]") {
  TempDir dir;
  const Run r = run_cli(dir.path, "demo --iris-epochs 50");
  REQUIRE(r.exit_code == 0);
  std::ifstream ref(BPNN_TEST_DATA_DIR "/seed_textbook_trace.txt");
  std::istringstream out(r.out);
  std::string line;
  int matched = 0;
  while (matched < 100 && std::getline(out, line)) {
    if (line.empty() || line[0] == '#') continue;
    int epoch;
    double output, error;
    if (std::sscanf(line.c_str(), "%d %lf %lf", &epoch, &output, &error) != 3) break;
    int ref_epoch;
    double ref_output, ref_error;
    REQUIRE(ref >> ref_epoch >> ref_output >> ref_error);
    CHECK(epoch == ref_epoch);
    CHECK(std::abs(output - ref_output) <= 1e-12);
    CHECK(std::abs(error - ref_error) <= 1e-12);
    ++matched;
  }
  CHECK(matched == 100);
  const std::string svg = slurp(dir.path / "seed_demo.svg");
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("output") != std::string::npos);
  CHECK(svg.find("error") != std::string::npos);
  CHECK(r.out.find("iris test accuracy") != std::string::npos);
}

TEST_CASE("bpnn train then predict reproduces the library's predictions", "[cli]") {
  TempDir dir;
  std::string csv = "x1,x2,target\n";
  for (int i = 0; i < 40; ++i) {
    const double a = (i % 7) / 8.0, b = (i % 5) / 4.0;  // exact in the CSV text
    csv += std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(a * b) + "\n";
  }
  dir.write("data.csv", csv);
  const Run train = run_cli(dir.path, "train data.csv --layers 2,6,1 --epochs 30 --batch 4 --lr 0.5 "
                                      "--seed 5 -o model.safetensors");
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  CHECK(train.out.find("epoch 30 loss") != std::string::npos);

  const Run predict = run_cli(dir.path, "predict model.safetensors data.csv");
  INFO(predict.err);
  REQUIRE(predict.exit_code == 0);
  std::istringstream lines(predict.out);
  std::string header;
  std::getline(lines, header);
  CHECK(header == "\"target\"");

  const bpnn::Network net = bpnn::load_model((dir.path / "model.safetensors").string());
  for (int i = 0; i < 40; ++i) {
    const double x[2] = {(i % 7) / 8.0, (i % 5) / 4.0};
    double expected = 0;
    net.predict(x, 1, &expected);
    double got = 0;
    lines >> got;
    CHECK(static_cast<float>(got) == static_cast<float>(expected));
  }
}

TEST_CASE("bpnn train with --label writes class names, predict ignores the label column", "[cli]") {
  TempDir dir;
  std::string csv = "a,b,kind\n";
  for (int i = 0; i < 30; ++i)
    csv += std::to_string(i % 3) + "," + std::to_string((i * 7) % 5) + "," +
           (i % 3 == 0 ? "red" : i % 3 == 1 ? "green" : "blue") + "\n";
  dir.write("classes.csv", csv);
  const Run train = run_cli(dir.path, "train classes.csv --layers 2,5,3 --label kind --output-act "
                                      "softmax --loss xent --epochs 20 -o m.safetensors");
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  CHECK(train.out.find("accuracy") != std::string::npos);
  const Run predict = run_cli(dir.path, "predict m.safetensors classes.csv");
  INFO(predict.err);
  REQUIRE(predict.exit_code == 0);
  CHECK(predict.out.rfind("\"blue\",\"green\",\"red\"\n", 0) == 0);
}

TEST_CASE("bpnn reports bad input with one line and a documented exit code", "[cli]") {
  TempDir dir;
  dir.write("ragged.csv", "1,2,3\n4,5\n");
  dir.write("nan.csv", "1,2,3\n4,nan,6\n");
  dir.write("ok.csv", "1,2,3\n4,5,6\n");
  dir.write("garbage.safetensors", "this is not a model");

  Run r = run_cli(dir.path, "train ragged.csv --layers 2,1 -o m.safetensors");
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind("bpnn: ragged.csv:2:", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(fs::exists(dir.path / "m.safetensors"));

  r = run_cli(dir.path, "train nan.csv --layers 2,1 -o m.safetensors");
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind("bpnn: nan.csv:2:3:", 0) == 0);

  r = run_cli(dir.path, "train ok.csv --layers 3,1 -o m.safetensors");  // wrong column count
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("ok.csv:1:1:") != std::string::npos);

  r = run_cli(dir.path, "train missing.csv --layers 2,1 -o m.safetensors");
  CHECK(r.exit_code == 4);

  r = run_cli(dir.path, "train ok.csv --layers 2,1 --hidden-act swish -o m.safetensors");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("swish") != std::string::npos);

  r = run_cli(dir.path, "train ok.csv --layers 2,1");  // no -o
  CHECK(r.exit_code == 2);

  r = run_cli(dir.path, "predict garbage.safetensors ok.csv");
  CHECK(r.exit_code == 5);
  CHECK(r.err.find("garbage.safetensors") != std::string::npos);

  r = run_cli(dir.path, "predict nothere.safetensors ok.csv");
  CHECK(r.exit_code == 4);

  r = run_cli(dir.path, "--version");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("bpnn ") == 0);
}

TEST_CASE("a diverging run stops with exit code 6 and writes no model", "[cli]") {
  TempDir dir;
  std::string csv;
  for (int i = 0; i < 20; ++i) csv += std::to_string(i * 1e3) + "," + std::to_string(i * 1e4) + "\n";
  dir.write("big.csv", csv);
  const Run r = run_cli(dir.path, "train big.csv --layers 1,4,1 --output-act linear --hidden-act "
                                  "linear --lr 10 --epochs 50 -o m.safetensors");
  CHECK(r.exit_code == 6);
  CHECK(r.err.find("diverged") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "m.safetensors"));
}

TEST_CASE("a run whose weights overflow while the loss stays finite stops with exit code 6", "[cli]") {
  // the only step's loss is finite; its update overflows f32, which the loss never shows
  TempDir dir;
  dir.write("one.csv", "x,y\n3,50\n");
  const Run r = run_cli(dir.path, "train one.csv --layers 1,1 --output-act linear --lr 1e38 --epochs 1 -o m.safetensors");
  CHECK(r.exit_code == 6);
  CHECK(r.err.find("a weight became NaN or infinite in epoch 1") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "m.safetensors"));
}

// ---- Misuse (issue 8): every bad value is exit 2 with one line naming the option -------------

namespace {

// A small valid training file: a,b,y with two rows.
const char* const d2_csv = "a,b,y\n0.1,0.2,1\n0.3,0.4,0\n";

bool one_line(const std::string& err) {
  return !err.empty() && err.back() == '\n' && std::count(err.begin(), err.end(), '\n') == 1;
}

// Every byte of `err` is printable ASCII or UTF-8 (no control byte but the final newline).
bool printable(const std::string& err) {
  for (std::size_t i = 0; i + 1 < err.size(); ++i) {
    const auto c = static_cast<unsigned char>(err[i]);
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("train --layers takes positive whole numbers that fit, and names the bad item",
          "[cli]") {
  TempDir dir;
  dir.write("d2.csv", d2_csv);
  // Shell words, and the text the message must hold.
  const std::pair<const char*, const char*> cases[] = {
      {"2,-1,1", "item 2 is '-1'"},
      {"-2,3,1", "item 1 is '-2'"},
      {"2,-3,1", "item 2 is '-3'"},
      {"2,18446744073709551615,1", "item 2 is '18446744073709551615'"},
      {"2,18446744073709551616,1", "item 2 is '18446744073709551616'"},
      {"2,2147483648,1", "item 2 is '2147483648'"},  // one above the widest layer
      {"2,0,1", "item 2 is '0'"},
      {"2,,1", "item 2 is empty"},
      {"2,1,", "item 3 is empty"},
      {",2,1", "item 1 is empty"},
      {"2,1.5,1", "item 2 is '1.5'"},
      {"'2, 3,1'", "item 2 is ' 3'"},  // no spaces inside the list
      {"2,0x10,1", "item 2 is '0x10'"},
      {"2,+3,1", "item 2 is '+3'"},
      {"2", "at least 2"},
  };
  for (const auto& [layers, says] : cases) {
    INFO("--layers " << layers);
    const Run r = run_cli(dir.path, std::string("train d2.csv --layers ") + layers + " -o m.st");
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("bpnn: --layers '", 0) == 0);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK(r.err.find("from 1 to 2147483647") != std::string::npos);
    CHECK(one_line(r.err));
    CHECK_FALSE(fs::exists(dir.path / "m.st"));
  }
  const Run ok = run_cli(dir.path, "train d2.csv --layers 2,3,1 --epochs 1 -o m.st");
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(fs::exists(dir.path / "m.st"));
}

TEST_CASE("a network too large for the machine is a usage error naming its bytes", "[cli]") {
  TempDir dir;
  dir.write("d2.csv", d2_csv);
  // 4·10¹² parameters: terabytes on any machine, so the engine refuses it before allocating.
  const Run r = run_cli(dir.path, "train d2.csv --layers 2,2000000,2000000,1 -o m.st");
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("bytes") != std::string::npos);
  CHECK(one_line(r.err));
  CHECK_FALSE(fs::exists(dir.path / "m.st"));
}

TEST_CASE("numeric options reject negatives, wraps, junk and out-of-range values", "[cli]") {
  TempDir dir;
  dir.write("d2.csv", d2_csv);
  // Option and value (shell words).
  const std::pair<const char*, const char*> cases[] = {
      {"--epochs", "-1"},         {"--epochs", "1000000000000000000"},
      {"--epochs", "0"},          {"--epochs", "1000000001"},
      {"--epochs", "1e3"},        {"--epochs", "''"},
      {"--epochs", "' 5'"},       {"--batch", "-1"},
      {"--batch", "0"},           {"--batch", "1000000001"},
      {"--seed", "-1"},           {"--seed", "18446744073709551616"},
      {"--seed", "0x10"},         {"--threads", "-1"},
      {"--threads", "99999999999"}, {"--threads", "65537"},
      {"--lr", "nan"},            {"--lr", "inf"},
      {"--lr", "-0.1"},           {"--lr", "1e999"},
      {"--lr", "0x1p3"},          {"--lr", "0.1x"},
      {"--momentum", "1"},        {"--momentum", "-0.5"},
      {"--momentum", "nan"},      {"--init-scale", "0"},
      {"--init-scale", "-1"},     {"--init-scale", "inf"},
  };
  for (const auto& [option, value] : cases) {
    INFO(option << " " << value);
    const Run r = run_cli(dir.path, std::string("train d2.csv --layers 2,3,1 --init uniform ") +
                                        option + " " + value + " -o m.st");
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind(std::string("bpnn: ") + option + " '", 0) == 0);
    CHECK(r.err.find("expected a ") != std::string::npos);
    CHECK(one_line(r.err));
    CHECK_FALSE(fs::exists(dir.path / "m.st"));
  }
  for (const char* demo : {"--seed-epochs 0", "--iris-epochs -1", "--seed-epochs 1000000001"}) {
    INFO(demo);
    const Run r = run_cli(dir.path, std::string("demo ") + demo);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("bpnn: --", 0) == 0);
    CHECK(one_line(r.err));
  }
  // The edges of each range are accepted.
  const Run ok = run_cli(dir.path, "train d2.csv --layers 2,3,1 --epochs 1 --batch 1000000000 "
                                   "--seed 18446744073709551615 --threads 0 --lr 0 --momentum 0.99 "
                                   "--init uniform --init-scale 1e-3 -o m.st");
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  const Run help = run_cli(dir.path, "train --help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--epochs") != std::string::npos);
}

TEST_CASE("no output may be an input of the same command", "[cli]") {
  TempDir dir;
  dir.write("in.csv", d2_csv);
  fs::create_symlink("in.csv", dir.path / "link.csv");
  fs::create_hard_link(dir.path / "in.csv", dir.path / "hard.csv");
  for (const char* output :
       {"in.csv", "./in.csv", "link.csv", "hard.csv", "../$(basename $PWD)/in.csv"}) {
    INFO("-o " << output);
    const Run r = run_cli(dir.path, std::string("train in.csv --layers 2,3,1 -o ") + output);
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("bpnn: --output (", 0) == 0);
    CHECK(r.err.find("the training data (in.csv)") != std::string::npos);
    CHECK(one_line(r.err));
    CHECK(slurp(dir.path / "in.csv") == d2_csv);
  }
  REQUIRE(run_cli(dir.path, "train in.csv --layers 2,3,1 --epochs 1 -o m.st").exit_code == 0);
  const std::string model = slurp(dir.path / "m.st");
  const Run r = run_cli(dir.path, "train in.csv --layers 2,3,1 --init-from m.st -o m.st");
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--init-from (m.st)") != std::string::npos);
  CHECK(slurp(dir.path / "m.st") == model);
  // Nothing else was written: the folder holds the inputs, the model and the captured output.
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 6);  // in.csv link.csv hard.csv m.st stdout.txt stderr.txt
}

// The output rule's writing half lives in the model-I/O layer (io/output_file.hpp); these cases
// need it, so they are built where it is (never against a save_model that would replace
// /dev/null with a regular file).
#if __has_include("io/output_file.hpp")
TEST_CASE("train -o writes a device or a FIFO in place, and -o /dev/stdout carries the model alone",
          "[cli]") {
  TempDir dir;
  dir.write("d2.csv", d2_csv);
  Run r = run_cli(dir.path, "train d2.csv --layers 2,3,1 --epochs 1 -o /dev/null");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::is_character_file("/dev/null"));

  // stdout redirected to a file: the model goes there, and no progress line comes before it.
  r = run_cli(dir.path, "train d2.csv --layers 2,3,1 --epochs 1 -o /dev/stdout");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(bpnn::load_model((dir.path / "stdout.txt").string()).n_inputs() == 2);

  // A FIFO: a reader in the background copies what comes through it.
  r = run_cli(dir.path, "train d2.csv --layers 2,3,1 --epochs 1 -o fifo",
              "mkfifo fifo && { cat fifo > from_fifo.st & }");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::is_fifo(dir.path / "fifo"));
  bool loaded = false;
  for (int tries = 0; tries < 100 && !loaded; ++tries) {  // cat may still be finishing
    try {
      loaded = bpnn::load_model((dir.path / "from_fifo.st").string()).n_outputs() == 1;
    } catch (const bpnn::Error&) {
      ::usleep(50'000);
    }
  }
  CHECK(loaded);

  fs::create_directory(dir.path / "folder");
  // A folder is neither a file to replace nor a stream; like a missing folder, it is refused
  // before any work (no progress line).
  for (const char* output : {"folder", "no_such_folder/m.st"}) {
    INFO("-o " << output);
    r = run_cli(dir.path, std::string("train d2.csv --layers 2,3,1 --epochs 1 -o ") + output);
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(r.err.rfind(std::string("bpnn: ") + output, 0) == 0);
    CHECK(one_line(r.err));
    CHECK(r.out.empty());
  }
  CHECK(fs::is_directory(dir.path / "folder"));
}
#endif

TEST_CASE("errors are one printable line, whatever bytes the input holds", "[cli]") {
  TempDir dir;
  dir.write("nl.csv", "a,b,y\n0.1,0.2,1\n\"3\n\x1b[31mRED\",0.4,0\n");
  Run r = run_cli(dir.path, "train nl.csv --layers 2,3,1 -o m.st");
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind("bpnn: nl.csv:3:1:", 0) == 0);
  CHECK(one_line(r.err));
  CHECK(printable(r.err));

  dir.write("long.csv", "a,b,y\n0.1,0.2,1\n" + std::string(100000, 'x') + ",0.4,0\n");
  r = run_cli(dir.path, "train long.csv --layers 2,3,1 -o m.st");
  CHECK(r.exit_code == 3);
  CHECK(one_line(r.err));
  CHECK(r.err.size() < 1200);

  // A file name with an escape sequence and invalid UTF-8 in it.
  r = run_cli(dir.path, "train \"$(printf 'no\\033[31m\\377.csv')\" --layers 2,3,1 -o m.st");
  INFO(r.err);
  CHECK(r.exit_code == 4);
  CHECK(one_line(r.err));
  CHECK(printable(r.err));
  CHECK(r.err.find("no\\x1b[31m\\xff.csv") != std::string::npos);

  // Valid UTF-8 stays as it is; a C1 control (U+009B, the one-byte CSI) is escaped.
  r = run_cli(dir.path, "train \"$(printf 'caf\303\251\302\233.csv')\" --layers 2,3,1 -o m.st");
  INFO(r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("caf\xc3\xa9\\u009b.csv") != std::string::npos);

  // A 2 000-byte file name: the message is cut at a character boundary and says how long it was.
  std::string long_name = "missing/";
  for (int i = 0; i < 1000; ++i) long_name += "\xc3\xa9";  // é
  r = run_cli(dir.path, "train '" + long_name + "' --layers 2,3,1 -o m.st");
  CHECK(r.exit_code == 4);
  CHECK(one_line(r.err));
  CHECK(r.err.size() <= 1100);
  CHECK(r.err.find("bytes)\n") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\xc3') ==
        std::count(r.err.begin(), r.err.end(), '\xa9'));  // no é cut in half

  // An argument CLI11 itself refuses, carrying an escape sequence.
  r = run_cli(dir.path, "train nl.csv \"$(printf 'x\\033[2J')\" --layers 2,3,1 -o m.st");
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(one_line(r.err));
  CHECK(printable(r.err));
  CHECK(r.err.find("x\\x1b[2J") != std::string::npos);

  // A bad option value carrying a newline.
  r = run_cli(dir.path, "train nl.csv --layers \"$(printf '2\\n3,1')\" -o m.st");
  CHECK(r.exit_code == 2);
  CHECK(one_line(r.err));
  CHECK(r.err.find("2\\n3") != std::string::npos);
}

TEST_CASE("train reads its data in --precision, predict in the model's", "[cli]") {
  TempDir dir;
  dir.write("huge.csv", "a,b,y\n0.1,1e300,1\n0.3,0.4,0\n");  // 1e300 overflows f32
  bool reader_checks_precision = false;
  try {
    bpnn::parse_csv("1e300\n", "t.csv", bpnn::CsvOptions{.text_column = std::nullopt, .precision = bpnn::Precision::f32});
  } catch (const bpnn::Error&) {
    reader_checks_precision = true;
  }
  if (!reader_checks_precision) {
    WARN("skipped: this CSV reader does not check values against CsvOptions::precision yet");
    return;
  }
  Run r = run_cli(dir.path, "train huge.csv --layers 2,3,1 -o m.st");
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind("bpnn: huge.csv:2:5:", 0) == 0);
  CHECK(one_line(r.err));
  CHECK_FALSE(fs::exists(dir.path / "m.st"));
  r = run_cli(dir.path, "train huge.csv --layers 2,3,1 --precision f64 --epochs 1 -o m64.st");
  INFO(r.err);
  CHECK(r.exit_code == 0);

  bpnn::NetworkConfig config;
  config.sizes = {2, 3, 1};
  bpnn::save_model(bpnn::Network(config), (dir.path / "f32.st").string());
  r = run_cli(dir.path, "predict f32.st huge.csv");
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.rfind("bpnn: huge.csv:2:5:", 0) == 0);
  CHECK(r.out.empty());
  r = run_cli(dir.path, "predict m64.st huge.csv");
  CHECK(r.exit_code == 0);
}

TEST_CASE("a missing data file is an I/O error naming it", "[cli]") {
  TempDir dir;
  dir.write("d2.csv", d2_csv);
  bpnn::NetworkConfig config;
  config.sizes = {2, 3, 1};
  bpnn::save_model(bpnn::Network(config), (dir.path / "m.st").string());

  Run r = run_cli(dir.path, "train missing.csv --layers 2,3,1 -o out.st");
  CHECK(r.exit_code == 4);
  CHECK(r.err.rfind("bpnn: missing.csv", 0) == 0);
  CHECK(one_line(r.err));
  r = run_cli(dir.path, "predict m.st missing.csv");
  CHECK(r.exit_code == 4);
  CHECK(r.err.rfind("bpnn: missing.csv", 0) == 0);
  CHECK(one_line(r.err));
  CHECK(r.out.empty());
}

namespace {

// CRC-32/ISO-HDLC, bit by bit (the model file's checksum; a test needs no speed).
std::uint32_t crc32_of(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

// A version 1 model file of a 2-3-1 sigmoid network with zero weights, written byte by byte so
// that its metadata can say what save_model refuses to write (version 1 files keep loading, and
// their checksum covers the tensors only). `input_names` is the metadata value, a JSON list.
std::string model_v1_2_3_1(const std::string& input_names) {
  const std::string data(52, '\0');  // 0.weight [3,2], 0.bias [3], 1.weight [1,3], 1.bias [1]: F32
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(crc32_of(data)));
  nlohmann::json header = {
      {"0.weight", {{"dtype", "F32"}, {"shape", {3, 2}}, {"data_offsets", {0, 24}}}},
      {"0.bias", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {24, 36}}}},
      {"1.weight", {{"dtype", "F32"}, {"shape", {1, 3}}, {"data_offsets", {36, 48}}}},
      {"1.bias", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {48, 52}}}},
      {"__metadata__",
       {{"format", "bpnn"}, {"format_version", "1"}, {"sizes", "2,3,1"},
        {"hidden_act", "sigmoid"}, {"output_act", "sigmoid"}, {"loss", "mse"}, {"crc32", crc},
        {"input_names", input_names}}}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  return file + text + data;
}

}  // namespace

TEST_CASE("predict: a model whose input names do not match its width is a bad model", "[cli]") {
  TempDir dir;
  dir.write("d3.csv", "a,b,c,y\n0.1,0.2,0.3,1\n");
  dir.write("good.st", model_v1_2_3_1(R"(["a","c"])"));
  dir.write("names.st", model_v1_2_3_1(R"(["a","b","c"])"));
  // The crafted file is a valid model: with two names it predicts from columns a and c.
  const Run good = run_cli(dir.path, "predict good.st d3.csv");
  INFO(good.err);
  REQUIRE(good.exit_code == 0);
  CHECK(good.out == "\"y0\"\n0.5\n");  // zero weights: sigmoid(0)

  const Run r = run_cli(dir.path, "predict names.st d3.csv");
  INFO(r.err);
  CHECK(r.exit_code == 5);
  CHECK(r.err.rfind("bpnn: names.st", 0) == 0);
  CHECK(r.err.find("input_names") != std::string::npos);
  CHECK(one_line(r.err));
  CHECK(r.out.empty());
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BPNN_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BPNN_TEST_SANITIZED 1
#endif
#endif

TEST_CASE("an allocation that fails is exit 7, out of memory", "[cli]") {
#ifdef BPNN_TEST_SANITIZED
  SUCCEED("skipped: sanitizers reserve more address space than the limit this test sets");
#else
  // Under a 1 GiB address-space limit, a network of about 2 GiB of f64 parameters (well within
  // the machine's physical memory, so the engine's size check lets it through) cannot be
  // allocated. Skipped on machines with under 16 GiB, where the size check refuses it first.
  const double physical = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                          static_cast<double>(::sysconf(_SC_PAGESIZE));
  if (physical < 16.0 * (1 << 30)) {
    SUCCEED("skipped: less than 16 GiB of memory");
    return;
  }
  TempDir dir;
  dir.write("d2.csv", d2_csv);
  const Run r = run_cli(dir.path, "train d2.csv --layers 2,16000,16000,1 --precision f64 -o m.st",
                        "ulimit -v 1048576");
  INFO(r.err);
  CHECK(r.exit_code == 7);
  CHECK(r.err == "bpnn: out of memory\n");
  CHECK_FALSE(fs::exists(dir.path / "m.st"));
#endif
}
