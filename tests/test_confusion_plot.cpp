// The confusion matrix heat map (tools/bpnn/confusion_plot.hpp) and `bpnn eval --plot`.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/confusion_plot.hpp"
#include "bpnn/error.hpp"
#include "cli_run.hpp"
#include "xml_well_formed.hpp"

using bpnn::cli::confusion_matrix_svg;
using bpnn_test::cli_run;
using bpnn_test::ScratchDir;
using bpnn_test::xml_well_formed;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The count text of each square, in drawing order (row by row): the <text> right after each
// square's <rect>…</rect>, with its fill colour.
struct Square {
  std::string count, colour;
};
std::vector<Square> squares_of(const std::string& svg) {
  static const std::regex square(R"re(</title></rect>\n<text [^>]* fill="([^"]+)">([0-9]+)</text>)re");
  std::vector<Square> out;
  for (std::sregex_iterator it(svg.begin(), svg.end(), square), end; it != end; ++it)
    out.push_back({(*it)[2], (*it)[1]});
  return out;
}

double attribute(const std::string& svg, const std::string& name) {
  const auto at = svg.find(name + "=\"");
  REQUIRE(at != std::string::npos);
  return std::stod(svg.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("the confusion heat map: a square per pair with its count, names on both axes", "[plot]") {
  const std::vector<std::size_t> counts{50, 0, 0,  //
                                        0, 47, 3,  //
                                        0, 2, 48};
  const std::vector<std::string> names{"setosa", "versi<color>", "virginica & co"};
  const std::string svg = confusion_matrix_svg(counts, names, "iris: 96.67%");
  CHECK(xml_well_formed(svg) == "");
  CHECK_THAT(svg, Catch::Contains(">iris: 96.67%</text>"));
  CHECK_THAT(svg, Catch::Contains(">true</text>") && Catch::Contains(">predicted</text>"));
  CHECK(count_of(svg, ">setosa</text>") == 2);
  CHECK(count_of(svg, ">versi&lt;color&gt;</text>") == 2);
  CHECK(count_of(svg, ">virginica &amp; co</text>") == 2);
  CHECK_THAT(svg, Catch::Contains("<title>true versi&lt;color&gt;, predicted virginica &amp; co: 3</title>"));

  const auto squares = squares_of(svg);
  REQUIRE(squares.size() == 9);
  for (std::size_t i = 0; i < 9; ++i) {
    INFO("square " << i);
    CHECK(squares[i].count == std::to_string(counts[i]));
  }
  // Readable text: white on the dark diagonal, black on a light square, grey for 0.
  CHECK(squares[0].colour == "white");
  CHECK(squares[4].colour == "white");
  CHECK(squares[5].colour == "black");  // 3 of 50
  CHECK(squares[1].colour == "#a0a0a0");
  CHECK_THAT(svg, Catch::Contains("fill=\"#08306b\""));  // 100% of setosa's rows: the darkest blue
}

TEST_CASE("the confusion heat map stays readable from 2 to 50 classes", "[plot]") {
  for (std::size_t n : {2u, 10u, 50u}) {
    INFO(n << " classes");
    std::vector<std::string> names;
    std::vector<std::size_t> counts(n * n);
    for (std::size_t i = 0; i < n; ++i) {
      names.push_back("class number " + std::to_string(i));
      for (std::size_t j = 0; j < n; ++j) counts[i * n + j] = i == j ? 9000 + i : (i + j) % 3;
    }
    const std::string svg = confusion_matrix_svg(counts, names, "t");
    CHECK(xml_well_formed(svg) == "");
    REQUIRE(squares_of(svg).size() == n * n);
    CHECK(count_of(svg, ">class number " + std::to_string(n - 1) + "</text>") == 2);
    const double width = attribute(svg, "width"), height = attribute(svg, "height");
    CHECK(width >= 300);
    CHECK(width <= 1600);  // 50 classes with four-digit counts: 24 px squares
    CHECK(height <= 1600);
    // The count font fits four digits into a square.
    const auto square = svg.find("<rect x=");  // the first square
    const double cell = attribute(svg.substr(square), "width");
    CHECK(cell >= 16);
    const auto text = svg.find(">9000</text>");
    REQUIRE(text != std::string::npos);
    const auto font = svg.rfind("font-size=\"", text);
    CHECK(std::stod(svg.substr(font + 11)) * 0.6 * 4 <= cell);
  }
}

TEST_CASE("the confusion heat map: long names are cut, wrong sizes refused", "[plot]") {
  const std::string svg = confusion_matrix_svg(std::vector<std::size_t>{1, 2, 3, 4},
                                               {"a name much longer than twenty-four characters", "b"}, "t");
  CHECK(count_of(svg, ">a name much longer than …</text>") == 2);
  CHECK_THAT(svg, Catch::Contains("<title>true a name much longer than twenty-four characters, predicted b: 2"));
  CHECK_THROWS_AS(confusion_matrix_svg(std::vector<std::size_t>{1, 2, 3}, {"a", "b"}, "t"), bpnn::Error);
  CHECK_THROWS_AS(confusion_matrix_svg(std::vector<std::size_t>{}, {}, "t"), bpnn::Error);
  bpnn::Evaluation regression;
  regression.classifier = false;
  try {
    bpnn::cli::confusion_plot_write("/dev/null", regression, {}, "t");
    FAIL("no error");
  } catch (const bpnn::Error& e) {
    CHECK(e.kind() == bpnn::ErrorKind::argument);
    CHECK_THAT(e.what(), Catch::Contains("--plot") && Catch::Contains("classifier"));
  }
}

TEST_CASE("eval --plot draws the confusion matrix eval reports", "[cli][eval][plot]") {
  ScratchDir dir;
  const std::string csv = bpnn_test::three_class_model_write(dir);
  const auto r = cli_run(dir.path, "eval m.st d.csv --json --plot cm.svg");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  const auto j = nlohmann::json::parse(r.out);  // stdout still carries only the report
  const std::string svg = bpnn_test::file_text(dir.path / "cm.svg");
  CHECK(xml_well_formed(svg) == "");
  CHECK_THAT(svg, Catch::Contains("Confusion matrix: m.st on d.csv, accuracy"));
  const std::vector<std::string> classes = j["classes"];
  for (std::size_t t = 0; t < classes.size(); ++t)
    for (std::size_t p = 0; p < classes.size(); ++p)
      CHECK_THAT(svg, Catch::Contains("<title>true " + classes[t] + ", predicted " + classes[p] + ": " +
                                      std::to_string(j["confusion"][t][p].get<std::size_t>()) + "</title>"));
  // A real XML parser agrees, where Python is there.
  if (std::system("python3 -c 'import xml.etree.ElementTree' > /dev/null 2>&1") == 0) {
    const std::string parse = "python3 -c 'import sys, xml.etree.ElementTree as E; "
                              "sys.exit(E.parse(sys.argv[1]).getroot().tag != \"{http://www.w3.org/2000/svg}svg\")' '" +
                              (dir.path / "cm.svg").string() + "'";
    CHECK(std::system(parse.c_str()) == 0);
  } else {
    WARN("python3 with xml.etree not found: the SVG was checked structurally only");
  }

  // A regression model has no confusion matrix: exit 2, no file.
  dir.write("r.csv", "x,y\n0,0\n1,1\n2,0\n");
  REQUIRE(cli_run(dir.path, "train r.csv --layers 1,1 --output-act linear --epochs 2 -o r.st").exit_code == 0);
  const auto regression = cli_run(dir.path, "eval r.st r.csv --plot r.svg");
  CHECK(regression.exit_code == 2);
  CHECK_THAT(regression.err, Catch::Contains("--plot") && Catch::Contains("classifier"));
  CHECK_FALSE(std::filesystem::exists(dir.path / "r.svg"));
  // The plot may not overwrite an input; a missing folder is an I/O error.
  CHECK(cli_run(dir.path, "eval m.st d.csv --plot d.csv").exit_code == 2);
  CHECK(bpnn_test::file_text(dir.path / "d.csv") == csv);
  CHECK(cli_run(dir.path, "eval m.st d.csv --plot no/cm.svg").exit_code == 4);
}
