// The training history (tools/bpnn/training_history.hpp): the CSV reads back with bpnn's own
// parser, NaN is an empty cell, and the curves are well-formed SVG with their axes and legend.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "bpnn/svg_plot.hpp"
#include "bpnn/training_history.hpp"
#include "cli_run.hpp"
#include "xml_well_formed.hpp"

using bpnn::cli::EpochLine;
using bpnn::cli::TrainingHistory;
using bpnn_test::xml_well_formed;

namespace {

constexpr double missing = std::numeric_limits<double>::quiet_NaN();

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// A run whose numbers are awkward in decimal (1/3, 0.1 + 0.2, subnormal-free tiny values).
std::vector<EpochLine> run_with_validation(std::size_t epochs) {
  std::vector<EpochLine> lines;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t e = 1; e <= epochs; ++e) {
    EpochLine l;
    l.epoch = e;
    l.epochs = epochs;
    l.train_loss = 1.0 / 3 / static_cast<double>(e);
    l.val_loss = (0.1 + 0.2) / static_cast<double>(e) + 1e-3 * static_cast<double>(e);
    l.train_accuracy = 1 - 1.0 / static_cast<double>(e + 1);
    l.val_accuracy = 1 - 1.0 / static_cast<double>(e + 2);
    l.learning_rate = 0.1 / static_cast<double>(e);
    l.seconds = 1.25e-7 * static_cast<double>(e);
    l.samples_per_s = 1000;
    l.best = l.val_loss < best;
    best = std::min(best, l.val_loss);
    lines.push_back(l);
  }
  return lines;
}

// Only training loss: a regression run without validation, irprop (no learning rate).
std::vector<EpochLine> run_train_loss_only(std::vector<double> losses) {
  std::vector<EpochLine> lines;
  for (std::size_t i = 0; i < losses.size(); ++i) {
    EpochLine l;
    l.epoch = i + 1;
    l.epochs = losses.size();
    l.train_loss = losses[i];
    l.seconds = 0.5;
    lines.push_back(l);
  }
  return lines;
}

}  // namespace

TEST_CASE("the history CSV reads back with parse_csv to the same doubles", "[history]") {
  const auto lines = run_with_validation(7);
  const std::string csv = bpnn::cli::training_history_csv(lines);
  const bpnn::CsvTable table = bpnn::parse_csv(csv, "history.csv");
  REQUIRE(table.has_header);
  CHECK(table.columns == std::vector<std::string>{"epoch", "train_loss", "val_loss", "train_accuracy",
                                                  "val_accuracy", "learning_rate", "seconds"});
  REQUIRE(table.rows == lines.size());
  REQUIRE(table.cols == 7);
  for (std::size_t r = 0; r < lines.size(); ++r) {
    const double* row = &table.numbers[r * 7];
    const EpochLine& l = lines[r];
    INFO("epoch " << l.epoch);
    CHECK(row[0] == static_cast<double>(l.epoch));
    // Exact: the shortest text that reads back to the same double.
    CHECK(row[1] == l.train_loss);
    CHECK(row[2] == l.val_loss);
    CHECK(row[3] == l.train_accuracy);
    CHECK(row[4] == l.val_accuracy);
    CHECK(row[5] == l.learning_rate);
    CHECK(row[6] == l.seconds);
  }
}

TEST_CASE("a value the run does not have is an empty cell in the history CSV", "[history]") {
  auto lines = run_train_loss_only({0.5, 0.25});
  lines[1].train_accuracy = 0.75;
  lines[1].val_loss = std::numeric_limits<double>::infinity();  // never a number in the file
  CHECK(bpnn::cli::training_history_csv(lines) ==
        "epoch,train_loss,val_loss,train_accuracy,val_accuracy,learning_rate,seconds\n"
        "1,0.5,,,,,0.5\n"
        "2,0.25,,0.75,,,0.5\n");
  // bpnn's own CSV reader takes numbers only: it points at the first empty cell.
  CHECK_THROWS_WITH(bpnn::parse_csv(bpnn::cli::training_history_csv(lines), "h.csv"),
                    Catch::Contains("h.csv:2:7") && Catch::Contains("empty field"));
}

TEST_CASE("the history is written by the output rule", "[history][io]") {
  bpnn_test::ScratchDir dir;
  TrainingHistory history;
  for (const EpochLine& l : run_with_validation(3)) history.add(l);
  REQUIRE(history.epochs().size() == 3);
  const auto csv_path = (dir.path / "h.csv").string(), svg_path = (dir.path / "h.svg").string();
  history.csv_write(csv_path);
  history.svg_write(svg_path, "run 1");
  CHECK(bpnn_test::file_text(csv_path) == bpnn::cli::training_history_csv(history.epochs()));
  CHECK(bpnn_test::file_text(svg_path) == bpnn::cli::training_history_svg(history.epochs(), "run 1"));
  // A folder, or a path whose folder is missing: Error(io) naming the path, nothing written.
  for (const std::string& bad : {dir.path.string(), (dir.path / "no" / "h.csv").string()}) {
    INFO(bad);
    try {
      history.csv_write(bad);
      FAIL("no error");
    } catch (const bpnn::Error& e) {
      CHECK(e.kind() == bpnn::ErrorKind::io);
      CHECK_THAT(e.what(), Catch::Contains(bad));
    }
  }
  CHECK_FALSE(std::filesystem::exists(dir.path / "no"));
}

TEST_CASE("the history plot: loss and accuracy panels, train and validation, legend and axes",
          "[history][plot]") {
  const auto lines = run_with_validation(40);
  const std::string svg = bpnn::cli::training_history_svg(lines, "bpnn train d.csv: 4-8-3 & <more>");
  CHECK(xml_well_formed(svg) == "");
  CHECK_THAT(svg, Catch::Contains(">bpnn train d.csv: 4-8-3 &amp; &lt;more&gt;</text>"));
  CHECK_THAT(svg, Catch::Contains(">Loss</text>") && Catch::Contains(">Accuracy</text>"));
  CHECK(count_of(svg, ">epoch</text>") == 2);  // each panel's x axis
  CHECK_THAT(svg, Catch::Contains(">mean loss per sample</text>") &&
                      Catch::Contains(">accuracy (fraction correct)</text>"));
  CHECK(count_of(svg, ">train</text>") == 2);  // the legends
  CHECK(count_of(svg, ">validation</text>") == 2);
  // the lowest validation loss: epoch 17 (0.3/e + e/1000 is least at e = √300 ≈ 17.3)
  CHECK_THAT(svg, Catch::Contains(">best (epoch 17)</text>"));
  CHECK(count_of(svg, "<polyline") == 4);
  CHECK(count_of(svg, "<circle") == 2);  // the best epoch, on the curve and in the legend
  // The losses span 1/3 .. 1/120: less than two decades, so a linear axis.
  CHECK_THAT(svg, !Catch::Contains("log scale"));
  CHECK_THAT(svg, !Catch::Contains("nan") && !Catch::Contains("inf"));
}

TEST_CASE("the history plot: no validation or accuracy panel when the run has none, a log loss axis past two decades",
          "[history][plot]") {
  std::vector<double> losses;
  for (int e = 0; e < 50; ++e) losses.push_back(2 * std::pow(10.0, -e / 10.0));  // 2 … 2.5e-5
  const std::string svg = bpnn::cli::training_history_svg(run_train_loss_only(losses), "");
  CHECK(xml_well_formed(svg) == "");
  CHECK_THAT(svg, Catch::Contains(">Training history</text>"));  // the default title
  CHECK_THAT(svg, Catch::Contains(">mean loss per sample (log scale)</text>"));
  for (const char* decade : {">1e-5</text>", ">0.0001</text>", ">0.001</text>", ">0.01</text>", ">0.1</text>",
                             ">1</text>", ">10</text>"})
    CHECK_THAT(svg, Catch::Contains(decade));
  CHECK_THAT(svg, !Catch::Contains("validation") && !Catch::Contains("Accuracy") && !Catch::Contains("best"));
  CHECK(count_of(svg, "<polyline") == 1);

  // Exactly two decades (100×) stays linear; a loss of 0 rules the log axis out.
  CHECK_THAT(bpnn::cli::training_history_svg(run_train_loss_only({1, 0.01}), ""), !Catch::Contains("log scale"));
  CHECK_THAT(bpnn::cli::training_history_svg(run_train_loss_only({1, 1e-3, 0}), ""), !Catch::Contains("log scale"));
  CHECK_THAT(bpnn::cli::training_history_svg(run_train_loss_only({1, 0.0099}), ""), Catch::Contains("log scale"));
}

TEST_CASE("line charts: a NaN is a gap, a lone point a dot, mismatched lengths an error", "[plot]") {
  bpnn::cli::PlotSpec spec{"t", "x", "y", {1, 2, 3, 4, 5, 6}, {{"s", "red", {1, 2, missing, 3, 4, missing}}}};
  std::string svg = bpnn::cli::svg_line_chart(spec);
  CHECK(xml_well_formed(svg) == "");
  CHECK(count_of(svg, "<polyline") == 2);  // 1–2 and 4–5
  CHECK(count_of(svg, "<circle") == 0);
  spec.series[0].y = {1, missing, 2, missing, missing, 3};
  svg = bpnn::cli::svg_line_chart(spec);
  CHECK(count_of(svg, "<polyline") == 0);
  CHECK(count_of(svg, "<circle") == 3);
  CHECK_THAT(svg, !Catch::Contains("nan"));
  spec.series[0].y.pop_back();
  CHECK_THROWS_AS(bpnn::cli::svg_line_chart(spec), bpnn::Error);
  CHECK_THROWS_AS(bpnn::cli::svg_line_charts("t", {spec}), bpnn::Error);
}

TEST_CASE("line charts: one positive value gets an axis from 0, not a negative one", "[plot]") {
  // One epoch, loss 0.4: the axis once ran from -0.2 to 1, a negative loss tick.
  const std::string svg = bpnn::cli::training_history_svg(run_train_loss_only({0.4}), "");
  CHECK(xml_well_formed(svg) == "");
  CHECK_THAT(svg, Catch::Contains(">0</text>") && Catch::Contains(">0.8</text>"));
  CHECK_THAT(svg, !Catch::Contains(">-"));
  CHECK(count_of(svg, "<circle") == 1);  // the lone point as a dot
}

TEST_CASE("the structural XML check rejects what it must", "[plot]") {
  CHECK(xml_well_formed("<svg a=\"1\"><g><text>a &amp; b</text></g><rect/></svg>\n") == "");
  CHECK(xml_well_formed("<svg><g></svg>") != "");
  CHECK(xml_well_formed("<svg><text>a & b</text></svg>") != "");
  CHECK(xml_well_formed("<svg a=\"<\"></svg>") != "");
  CHECK(xml_well_formed("<svg><text>a</svg>") != "");
  CHECK(xml_well_formed("<svg></svg><svg></svg>") != "");
  CHECK(xml_well_formed("<svg a=\"1\"") != "");
  CHECK(xml_well_formed("") != "");
}
