// The CSV reader: header detection, quoting, line ends, and a FILE:LINE:COLUMN for every error.
#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "bpnn/data.hpp"
#include "io_test_util.hpp"

using bpnn::CsvOptions;
using bpnn::ErrorKind;
using bpnn::parse_csv;
using bpnn_test::csv_error;
using bpnn_test::error_of;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {


}  // namespace

TEST_CASE("csv: a first row of names over numbers is a header", "[data][csv]") {
  auto t = parse_csv("a,b,c\n1,2,3\n4,5.5,-6e2\n", "t.csv");
  CHECK(t.source == "t.csv");
  CHECK(t.has_header);
  CHECK(t.columns == std::vector<std::string>{"a", "b", "c"});
  CHECK(t.rows == 2);
  CHECK(t.cols == 3);
  CHECK(t.numbers == std::vector<double>{1, 2, 3, 4, 5.5, -600});
  CHECK(t.row_origin == std::vector<std::size_t>{2, 3});
  CHECK_FALSE(t.text_column);
  CHECK(t.text.empty());
}

TEST_CASE("csv: numbers in the first row mean no header", "[data][csv]") {
  auto t = parse_csv("1,2\n3,4\n", "t.csv");
  CHECK_FALSE(t.has_header);
  CHECK(t.columns == std::vector<std::string>{"0", "1"});
  CHECK(t.rows == 2);
  CHECK(t.numbers == std::vector<double>{1, 2, 3, 4});
  CHECK(t.row_origin == std::vector<std::size_t>{1, 2});

  SECTION("a single numeric row is data") {
    auto one = parse_csv("1,2,3", "t.csv");
    CHECK_FALSE(one.has_header);
    CHECK(one.rows == 1);
    CHECK(one.numbers == std::vector<double>{1, 2, 3});
  }
  SECTION("a column of text in both rows is not a header sign") {
    auto text = parse_csv("1,x\n2,y\n", "t.csv", CsvOptions{"1"});
    CHECK_FALSE(text.has_header);
    CHECK(text.text == std::vector<std::string>{"x", "y"});
  }
}

TEST_CASE("csv: RFC 4180 quotes, escapes and embedded line breaks", "[data][csv]") {
  auto t = parse_csv("\"a\",\"b \"\"x\"\", y\",\"c\nd\"\n\"1.5\", 2 ,\" 3 \"\n4,5,6\n", "t.csv");
  REQUIRE(t.has_header);
  CHECK(t.columns == std::vector<std::string>{"a", "b \"x\", y", "c\nd"});
  CHECK(t.numbers == std::vector<double>{1.5, 2, 3, 4, 5, 6});
  // The header spans lines 1-2, so the rows start on lines 3 and 4.
  CHECK(t.row_origin == std::vector<std::size_t>{3, 4});
}

TEST_CASE("csv: \\r\\n line ends, blank lines, spaces around numbers", "[data][csv]") {
  auto t = parse_csv("x,y\r\n\r\n 1 ,\t2\r\n   \r\n+3,.5\r\n\n", "t.csv");
  CHECK(t.has_header);
  CHECK(t.columns == std::vector<std::string>{"x", "y"});
  CHECK(t.numbers == std::vector<double>{1, 2, 3, 0.5});
  CHECK(t.row_origin == std::vector<std::size_t>{3, 5});
  auto e = csv_error("x,y\r\n1,2\r\n3,oops\r\n");
  CHECK_THAT(e.what(), StartsWith("t.csv:3:3: "));
}

TEST_CASE("csv: a UTF-8 byte order mark is skipped", "[data][csv]") {
  auto t = parse_csv("\xEF\xBB\xBF" "a,b\n1,2\n", "t.csv");
  CHECK(t.columns == std::vector<std::string>{"a", "b"});
}

TEST_CASE("csv: number edge cases parse like std::from_chars, underflow gives zero", "[data][csv]") {
  auto t = parse_csv("1.,-0,1e-400,0x1\n", "t.csv", CsvOptions{"3"});
  REQUIRE(t.rows == 1);
  CHECK(t.numbers[0] == 1.0);
  CHECK(t.numbers[1] == 0.0);
  CHECK(std::signbit(t.numbers[1]));
  CHECK(t.numbers[2] == 0.0);
  CHECK(std::isnan(t.numbers[3]));  // the text column holds NaN
  CHECK(t.text == std::vector<std::string>{"0x1"});
  // A subnormal is a finite number, not an error.
  CHECK(parse_csv("4.9e-324\n", "t.csv").numbers[0] > 0.0);
}

TEST_CASE("csv: a text column by name or by index", "[data][csv]") {
  const std::string text = "w,species,z\n1,setosa,2\n3, \"virginica\" ,4\n";
  auto by_name = parse_csv(text, "t.csv", CsvOptions{"species"});
  REQUIRE(by_name.text_column);
  CHECK(*by_name.text_column == 1);
  CHECK(by_name.text == std::vector<std::string>{"setosa", "virginica"});
  CHECK(by_name.numbers[0] == 1);
  CHECK(std::isnan(by_name.numbers[1]));
  CHECK(by_name.numbers[5] == 4);
  auto by_index = parse_csv(text, "t.csv", CsvOptions{"1"});
  CHECK(by_index.text == by_name.text);

  SECTION("a named text column marks the header even when nothing else would") {
    auto t = parse_csv("label\ncat\ndog\n", "t.csv", CsvOptions{"label"});
    CHECK(t.has_header);
    CHECK(t.text == std::vector<std::string>{"cat", "dog"});
  }
  SECTION("unknown names and indices are errors") {
    CHECK_THAT(csv_error(text, CsvOptions{"colour"}).what(),
               StartsWith("t.csv:1:1: no column named \"colour\""));
    CHECK_THAT(csv_error(text, CsvOptions{"7"}).what(),
               StartsWith("t.csv:1:1: text column \"7\" is out of range: the file has 3 columns"));
  }
  SECTION("an empty label is an error") {
    CHECK_THAT(csv_error("w,species\n1,setosa\n2,\n", CsvOptions{"species"}).what(),
               StartsWith("t.csv:3:3: empty field in the text column"));
  }
}

TEST_CASE("csv: every malformed input gives FILE:LINE:COLUMN", "[data][csv]") {
  using S = std::string;
  struct Case {
    S text, prefix, detail;
  };
  const Case cases[] = {
      {"", "t.csv:1:1: ", "empty file"},
      {"\n  \r\n\n", "t.csv:1:1: ", "empty file"},
      {"a,b\n", "t.csv:1:1: ", "header row but no data rows"},
      {"\n\na,b\n\n", "t.csv:3:1: ", "no data rows"},
      {"1,2\n3,4,5\n", "t.csv:2:5: ", "expected 2 fields, got 3"},
      {"1,2\n3,4,5,6\n", "t.csv:2:5: ", "expected 2 fields, got 4"},
      {"1,2,3\n4,5\n", "t.csv:2:4: ", "expected 3 fields, got 2"},
      {"1,2,3\n4,5\n6,7,8\n9,10\n", "t.csv:2:4: ", "expected 3 fields, got 2"},
      {"a,b\n1,2\n3,4\n5,6,7\n", "t.csv:4:5: ", "expected 2 fields, got 3"},
      {"a,b\n1,2\n3,4\n5\n", "t.csv:4:2: ", "expected 2 fields, got 1"},
      {"1,2\n3,abc\n", "t.csv:2:3: ", "field \"abc\" is not a number"},
      {"1,2\n3,   abc  \n", "t.csv:2:6: ", "field \"abc\" is not a number"},
      {"1,2\n3,4\n5,\"x\"\"y\"\n", "t.csv:3:3: ", "field \"x\\\"y\" is not a number"},
      {"1,2\n3,1e\n", "t.csv:2:3: ", "field \"1e\" is not a number"},
      {"1,2\n3,\n", "t.csv:2:3: ", "empty field where a number was expected"},
      {"1,2\n3,nan\n", "t.csv:2:3: ", "NaN is not allowed: \"nan\""},
      {"1,2\n3,4\n5,-nan\n", "t.csv:3:3: ", "NaN"},
      {"1,2\n-inf,3\n", "t.csv:2:1: ", "infinite value is not allowed: \"-inf\""},
      {"1,2\n3,4\ninfinity,3\n", "t.csv:3:1: ", "infinite"},
      {"1,2\n3,1e999\n", "t.csv:2:3: ", "value \"1e999\" is out of range for a double"},
      {"1,2\n3,4\n5,-1e999\n", "t.csv:3:3: ", "out of range"},
      {"1,2\n3,\"4\n5,6\n", "t.csv:2:3: ", "unterminated quote"},
      {"1,2\n3,  \"4,5\n", "t.csv:2:5: ", "unterminated quote"},
      {"1,2\n3,4\"5\n", "t.csv:2:4: ", "quote inside an unquoted field"},
      {"1,2\n3,\"4\"x\n", "t.csv:2:6: ", "unexpected character after a closing quote"},
      {"1,2\r3,4\n", "t.csv:1:4: ", "carriage return not followed by a line feed"},
      {S("1,2\n3,4\0\n", 9), "t.csv:2:4: ", "NUL byte"},
      {S("1,2\n3,4\n\0", 9), "t.csv:3:1: ", "NUL byte"},
      {S("a,\"b\0\"\n1,2\n", 11), "t.csv:1:5: ", "NUL byte"},
      {"\"a\nb\",c\n1,2\n3,x\n", "t.csv:4:3: ", "is not a number"},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.text);
    auto e = csv_error(c.text);
    CHECK_THAT(e.what(), StartsWith(c.prefix));
    CHECK_THAT(e.what(), Contains(c.detail));
  }
}

TEST_CASE("csv: read_csv reads a file and names it in errors", "[data][csv]") {
  bpnn_test::TempDir dir;
  const auto path = dir.write("good.csv", "a,b\n1,2\n");
  auto t = bpnn::read_csv(path);
  CHECK(t.source == path);
  CHECK(t.numbers == std::vector<double>{1, 2});

  const auto bad = dir.write("bad.csv", "a,b\n1,2\n3,four\n");
  auto e = error_of([&] { bpnn::read_csv(bad); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK_THAT(e.what(), StartsWith(bad + ":3:3: field \"four\" is not a number"));

  auto missing = error_of([&] { bpnn::read_csv(dir.file("nope.csv")); });
  CHECK(missing.kind() == ErrorKind::io);
  CHECK(std::string(missing.what()) == dir.file("nope.csv") + ": cannot open: " + std::strerror(ENOENT));
}

TEST_CASE("csv: the bundled iris data set reads as 150 labelled rows", "[data][csv]") {
  const auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "tools/data/iris.csv";
  auto t = bpnn::read_csv(path.string(), CsvOptions{"species"});
  CHECK(t.has_header);
  CHECK(t.columns == std::vector<std::string>{"sepal_length", "sepal_width", "petal_length",
                                              "petal_width", "species"});
  CHECK(t.rows == 150);
  CHECK(t.text.front() == "setosa");
  CHECK(t.text.back() == "virginica");
  CHECK(t.numbers[0] == 5.1);
}

TEST_CASE("csv: a large generated file parses to the exact values", "[data][csv]") {
  // 2000 × 101 cells of varied spellings; the slow and fast paths must agree with from_chars.
  const std::size_t rows = 2000, cols = 101;
  std::string text;
  std::vector<double> expect;
  char buf[64];
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const double v = (static_cast<double>(r * cols + c) - 1000.0) / 7.0;
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
      if (c) text += ',';
      if (c % 10 == 3) text += ' ';
      if (c % 10 == 7) text += '"';
      text.append(buf, p);
      if (c % 10 == 7) text += '"';
      expect.push_back(v);
    }
    text += r % 2 ? "\r\n" : "\n";
  }
  auto t = parse_csv(text, "big.csv");
  CHECK(t.rows == rows);
  CHECK(t.cols == cols);
  CHECK(t.numbers == expect);
}
