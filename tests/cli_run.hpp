#pragma once
// Running the built CLI from a test: a scratch folder and a run that captures stdout, stderr
// and the exit code.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace bpnn_test {

struct CliRun {
  int exit_code;
  std::string out, err;
};

inline std::string file_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the CLI with `args` (shell words) in `dir`, capturing stdout and stderr.
inline CliRun cli_run(const std::filesystem::path& dir, const std::string& args) {
  const std::string cmd = "cd '" + dir.string() + "' && '" BPNN_CLI_PATH "' " + args +
                          " > stdout.txt 2> stderr.txt";
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), file_text(dir / "stdout.txt"), file_text(dir / "stderr.txt")};
}

// A fresh folder under the system's temporary directory, removed with everything in it.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("bpnn_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
    std::filesystem::create_directories(path);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

// A three-class CSV (a, b → kind: hi, mid, lo; 60 rows) written to d.csv, and a softmax model
// trained on it written to m.st; returns the CSV text. The eval tests' common fixture.
inline std::string three_class_model_write(const ScratchDir& dir) {
  std::string csv = "a,b,kind\n";
  for (int i = 0; i < 60; ++i) {
    const double a = (i % 10) / 10.0, b = (i % 7) / 7.0;
    csv += std::to_string(a) + "," + std::to_string(b) + "," + (a + b > 0.9 ? "hi" : a > 0.5 ? "mid" : "lo") + "\n";
  }
  dir.write("d.csv", csv);
  const CliRun trained = cli_run(dir.path, "train d.csv --label kind --layers 2,6,3 --output-act softmax "
                                           "--loss xent --epochs 30 --batch 4 --lr 0.5 -o m.st");
  if (trained.exit_code != 0) throw std::runtime_error("three_class_model_write: " + trained.err);
  return csv;
}

}  // namespace bpnn_test
