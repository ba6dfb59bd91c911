// The CSV reader and the data sets against hostile input: bytes that are not UTF-8, fields that
// would break the one-line message rule, sizes that would make the reader allocate far more than
// the file holds, values that overflow the target precision, and number spellings at the edges.
// Every refusal is an Error(data) at FILE:LINE:COLUMN.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <optional>

#include <sys/stat.h>
#include <unistd.h>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "io_test_util.hpp"
#include "nn/size_check.hpp"

using bpnn::CsvOptions;
using bpnn::ErrorKind;
using bpnn::parse_csv;
using bpnn::Precision;
using bpnn_test::csv_error;
using bpnn_test::error_of;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {


// One printable line: no byte below 0x20, no DEL.
bool is_one_printable_line(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

CsvOptions with_precision(Precision p, std::optional<std::string> text_column = std::nullopt) {
  CsvOptions o;
  o.text_column = std::move(text_column);
  o.precision = p;
  return o;
}

}  // namespace

TEST_CASE("csv hostile: bytes that are not UTF-8 in a header name are refused at the byte",
          "[data][csv][hostile]") {
  using S = std::string;
  struct Case {
    S text, prefix;
  };
  const Case cases[] = {
      {"a,\xff\n1,2\n", "t.csv:1:3: "},                         // a byte no UTF-8 text holds
      {"a,b\xC3(x\n1,2\n", "t.csv:1:4: "},                     // a lead byte without its tail
      {"ab,\xC0\xAF\n1,2\n", "t.csv:1:4: "},                   // an overlong '/'
      {"ab,x\xED\xA0\x80y\n1,2\n", "t.csv:1:5: "},             // a UTF-16 surrogate
      {"ab,\xF4\x90\x80\x80\n1,2\n", "t.csv:1:4: "},           // above U+10FFFF
      {"ab,cd\xE2\x82\n1,2\n", "t.csv:1:6: "},                 // cut short by the line end
      {"ab,\"cd\xE2\x82\",e\n1,2,3\n", "t.csv:1:7: "},        // cut short by the closing quote
      {"\n\"x\ny\xfe\",b\n1,2\n", "t.csv:3:2: "},              // inside a quoted name, a line down
      {"\xEF\xBB\xBF" "a,\x80\n1,2\n", "t.csv:1:6: "},         // after a byte order mark
  };
  for (const auto& c : cases) {
    INFO("input: " << c.text);
    auto e = csv_error(c.text);
    CHECK_THAT(e.what(), StartsWith(c.prefix));
    CHECK_THAT(e.what(), Contains("not valid UTF-8") && Contains("header"));
    CHECK(is_one_printable_line(e.what()));
  }
  // Every well-formed sequence length passes, and comes back byte for byte.
  auto t = parse_csv("\xC3\xA9t\xC3\xA9,\xE6\x97\xA5\xE6\x9C\xAC,\xF0\x9F\x98\x80,\xEF\xBF\xBF\n1,2,3,4\n", "t.csv");
  CHECK(t.columns == std::vector<std::string>{"\xC3\xA9t\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC",
                                              "\xF0\x9F\x98\x80", "\xEF\xBF\xBF"});
  // A first row that is data (no header) holds numbers only, so it never needs the check.
  CHECK(csv_error("1,2\n3,\xff\n").what() == std::string("t.csv:2:3: field \"\\xff\" is not a number"));
}

TEST_CASE("csv hostile: bytes that are not UTF-8 in a text column cell are refused at the byte",
          "[data][csv][hostile]") {
  auto e = csv_error("a,s\n1,ok\n2,b\xfe\n", CsvOptions{"s"});
  CHECK_THAT(e.what(), StartsWith("t.csv:3:4: "));
  CHECK_THAT(e.what(), Contains("not valid UTF-8") && Contains("text column"));
  // In the first data row (read whole for the header detection) as well.
  CHECK_THAT(csv_error("a,s\n1,\"x\xC3\"\n2,y\n", CsvOptions{"s"}).what(), StartsWith("t.csv:2:5: "));
  CHECK_THAT(csv_error("1,\xE0\x80\x80\n2,y\n", CsvOptions{"1"}).what(), StartsWith("t.csv:1:3: "));
  // Well-formed text passes.
  auto t = parse_csv("a,s\n1,\xC3\xA9t\xC3\xA9\n2,\"\xE2\x82\xAC, \"\"x\"\"\"\n", "t.csv", CsvOptions{"s"});
  CHECK(t.text == std::vector<std::string>{"\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC, \"x\""});
}

TEST_CASE("csv hostile: echoed fields are escaped and capped to one printable line", "[data][csv][hostile]") {
  // The example: a quoted field holding a newline and an ANSI colour sequence.
  auto e = csv_error("1,2\n3,4\n\"3\n\x1b[31mRED\",5\n");
  CHECK(std::string(e.what()) == "t.csv:3:1: field \"3\\n\\x1b[31mRED\" is not a number");
  CHECK(is_one_printable_line(e.what()));

  // Other control bytes, DEL, quotes and backslashes are escaped; valid UTF-8 stays readable.
  auto c = csv_error("1,2\n3,\"a\tb\rc\x7f\x01\"\"\\\xC3\xA9\"\n");
  CHECK(std::string(c.what()) == "t.csv:2:3: field \"a\\tb\\rc\\x7f\\x01\\\"\\\\\xC3\xA9\" is not a number");

  // C1 controls and the Unicode line separator would break a line on some terminals.
  auto u = csv_error("1,2\n3,x\xC2\x85y\xE2\x80\xA8z\n");
  CHECK(std::string(u.what()) == "t.csv:2:3: field \"x\\u0085y\\u2028z\" is not a number");

  // A long field is cut at 40 bytes, never inside a character, and marked with an ellipsis.
  const std::string long_field = std::string(39, 'a') + "\xC3\xA9" + std::string(5000, 'b');
  auto l = csv_error("1,2\n3," + long_field + "\n");
  CHECK(std::string(l.what()) ==
        "t.csv:2:3: field \"" + std::string(39, 'a') + "\"\xE2\x80\xA6 is not a number");

  // Names echoed by the text-column lookup are escaped and capped as well.
  auto n = csv_error("a,b\n1,2\n", CsvOptions{"x\ny" + std::string(100, 'z')});
  CHECK_THAT(n.what(), StartsWith("t.csv:1:1: no column named \"x\\ny"));
  CHECK(is_one_printable_line(n.what()));
  CHECK(std::strlen(n.what()) < 120);
}

TEST_CASE("csv hostile: dataset messages escape names and cap long lists", "[data][dataset][hostile]") {
  std::string header, row;
  for (int j = 0; j < 5000; ++j) {
    header += (j ? ",\"c\n" : "\"c\n") + std::to_string(j) + "\"";
    row += j ? ",1" : "1";
  }
  auto t = parse_csv(header + "\n" + row + "\n", "t.csv");
  auto e = error_of([&] { bpnn::dataset_from_label(t, "nope"); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK_THAT(e.what(), Contains("no label column \"nope\""));
  CHECK_THAT(e.what(), Contains("c\\n0, c\\n1"));
  CHECK_THAT(e.what(), Contains("4990 more"));
  CHECK(is_one_printable_line(e.what()));
  CHECK(std::strlen(e.what()) < 400);

  // A fixed class list in the message is capped the same way.
  std::vector<std::string> many;
  for (int k = 0; k < 1000; ++k) many.push_back("k" + std::to_string(k));
  auto l = parse_csv("x,y\n1,zz\n", "t.csv", CsvOptions{"y"});
  auto c = error_of([&] { bpnn::dataset_from_label(l, "y", many); });
  CHECK_THAT(c.what(), Contains("unknown class \"zz\"") && Contains("990 more"));
  CHECK(std::strlen(c.what()) < 400);
}

TEST_CASE("csv hostile: memory follows the rows and not the line count", "[data][csv][hostile]") {
  SECTION("100 000 columns, then a million blank lines") {
    const std::size_t cols = 100'000;
    std::string text;
    for (std::size_t j = 0; j < cols; ++j) text += (j ? ",c" : "c") + std::to_string(j);
    text += '\n';
    for (std::size_t j = 0; j < cols; ++j) text += j ? ",0.5" : "0.5";
    text += '\n';
    text.append(1'000'000, '\n');
    auto t = parse_csv(text, "wide.csv");
    CHECK(t.rows == 1);
    CHECK(t.cols == cols);
    CHECK(t.numbers.capacity() <= 2 * cols);
    CHECK(t.row_origin.capacity() <= 2);
  }
  SECTION("wide rows, then one quoted text cell spanning a million lines") {
    const std::size_t cols = 1000;
    std::string header, row;
    for (std::size_t j = 0; j < cols; ++j) {
      header += (j ? ",c" : "c") + std::to_string(j);
      row += j ? ",1" : "x";
    }
    std::string text = header + "\n" + row + "\n" + row + "\n\"";
    for (int i = 0; i < 1'000'000; ++i) text += "y\n";
    text += "\"" + row.substr(1) + "\n";
    auto t = parse_csv(text, "tall.csv", CsvOptions{"c0"});
    CHECK(t.rows == 3);
    // At most one double per two bytes of the file, whatever its shape.
    CHECK(t.numbers.capacity() * 2 <= text.size() + 2 * cols);
    CHECK(t.text.size() == 3);
    CHECK(t.text[2].size() == 2'000'000);
  }
}

TEST_CASE("csv hostile: a million columns then a ragged row", "[data][csv][hostile]") {
  const std::size_t cols = 1'000'000;
  std::string text;
  text.reserve(3 * cols + 16);
  for (std::size_t j = 0; j < cols; ++j) text += j ? ",x" : "x";
  text += "\n1,2\n";
  auto e = csv_error(text);
  CHECK(std::string(e.what()) == "t.csv:2:4: expected 1000000 fields, got 2");
  // The same file with the ragged row first: a header of one row, too few fields below it.
  CHECK_THAT(csv_error("1,2\n" + text).what(), StartsWith("t.csv:2:") && Contains("expected 2 fields"));
}

TEST_CASE("csv hostile: values that overflow the target precision are refused where they are",
          "[data][csv][hostile]") {
  const CsvOptions f32 = with_precision(Precision::f32);
  auto e = csv_error("a,b\n1,2\n3,1e300\n", f32);
  CHECK(std::string(e.what()) == "t.csv:3:3: value \"1e300\" is out of range for f32");
  // In the rows read whole for the header detection, quoted, negative, with blanks around it.
  CHECK_THAT(csv_error("1,-1e39\n2,3\n", f32).what(), StartsWith("t.csv:1:3: value \"-1e39\""));
  CHECK_THAT(csv_error("a,b\n1,\" 4e38 \"\n", f32).what(), StartsWith("t.csv:2:3: value \" 4e38 \""));
  CHECK_THAT(csv_error("a,b\n1,2\n3,  1e39\n", f32).what(), StartsWith("t.csv:3:5: "));
  // The edge: 2^128 − 2^103 is the first double that rounds to infinity in f32; the one below it
  // rounds to FLT_MAX and is kept, as is FLT_MAX itself.
  CHECK_THAT(csv_error("a,b\n1,340282356779733661637539395458142568448\n", f32).what(),
             StartsWith("t.csv:2:3: "));
  auto edge = parse_csv("1,340282356779733623858607532500980858880\n2,3.4028234663852886e38\n", "t.csv", f32);
  CHECK(edge.numbers[1] == std::nextafter(0x1.ffffffp127, 0.0));
  CHECK(edge.numbers[3] == static_cast<double>(FLT_MAX));
  // Underflow stays silent (the value is kept as read; f32 will make it zero), and f64, the
  // default, takes every finite double.
  auto tiny = parse_csv("1e-50,-1e-300\n", "t.csv", f32);
  CHECK(tiny.numbers == std::vector<double>{1e-50, -1e-300});
  CHECK(parse_csv("1e300,-1.7976931348623157e308\n", "t.csv").numbers[0] == 1e300);
  CHECK(parse_csv("1e300\n", "t.csv", with_precision(Precision::f64)).numbers[0] == 1e300);
}

TEST_CASE("csv hostile: number spellings at the edges", "[data][csv][hostile]") {
  SECTION("accepted, with the exact value") {
    auto t = parse_csv(
        "+1, +.5 ,\t-0 ,1e-99999999999999999999,-1e-400,1" + std::string(400, '0') + "e-390,0." +
            std::string(10'000, '0') + "1,00017,1E2,.5e1\n",
        "t.csv");
    REQUIRE(t.cols == 10);
    CHECK(t.numbers[0] == 1.0);
    CHECK(t.numbers[1] == 0.5);
    CHECK(t.numbers[2] == 0.0);
    CHECK(std::signbit(t.numbers[2]));
    CHECK(t.numbers[3] == 0.0);
    CHECK(t.numbers[4] == 0.0);
    CHECK(std::signbit(t.numbers[4]));
    CHECK(t.numbers[5] == 1e10);
    CHECK(t.numbers[6] == 0.0);
    CHECK(t.numbers[7] == 17.0);
    CHECK(t.numbers[8] == 100.0);
    CHECK(t.numbers[9] == 5.0);
  }
  SECTION("refused at the field") {
    using S = std::string;
    struct Case {
      S field, detail;
    };
    const Case cases[] = {
        {"1e999999", "out of range for a double"},
        {"-1e99999999999999999999", "out of range for a double"},
        {"1" + S(10'000, '0'), "out of range for a double"},
        {"0x1p3", "is not a number"},
        {"0x10", "is not a number"},
        {"nan", "NaN"},
        {"-nan(123)", "NaN"},
        {"inf", "infinite"},
        {"+inf", "not a number"},
        {"+-1", "not a number"},
        {"++1", "not a number"},
        {"1 2", "not a number"},
        {"\v1", "not a number"},
        {"1\f", "not a number"},
        {"\xC2\xA0" "1", "not a number"},
        {"1_000", "not a number"},
        {"١", "not a number"},  // an Arabic-Indic digit
    };
    for (const auto& c : cases) {
      INFO("field: " << c.field);
      auto e = csv_error("a,b,c\n1,2,3\n4,5," + c.field + "\n");
      CHECK_THAT(e.what(), StartsWith("t.csv:3:"));
      CHECK_THAT(e.what(), Contains(c.detail));
      CHECK(is_one_printable_line(e.what()));
    }
  }
  SECTION("lines that are only commas") {
    auto t = parse_csv(",,,\n1,2,3,4\n", "t.csv");
    CHECK(t.has_header);
    CHECK(t.columns == std::vector<std::string>{"", "", "", ""});
    CHECK_THAT(csv_error(",,,\n,,,\n").what(), StartsWith("t.csv:1:1: empty field"));
    CHECK_THAT(csv_error("a,b\n1,2\n,\n").what(), StartsWith("t.csv:3:1: empty field"));
    CHECK_THAT(csv_error("a\n1\n,\n").what(), StartsWith("t.csv:3:1: empty field"));
  }
}

TEST_CASE("dataset hostile: every error names FILE:LINE:COLUMN", "[data][dataset][hostile]") {
  SECTION("tables parsed in memory: the header or first row, column 1") {
    auto one = parse_csv("a\n1\n2\n", "one.csv");
    auto e = error_of([&] { bpnn::dataset_from_targets(one, 1); });
    CHECK(e.kind() == ErrorKind::data);
    CHECK(std::string(e.what()) ==
          "one.csv:1:1: expected at least 2 columns (inputs, then 1 target columns), the table has 1");
    CHECK_THAT(error_of([&] { bpnn::dataset_from_label(one, "a"); }).what(),
               StartsWith("one.csv:1:1: expected at least 2 columns"));
    CHECK_THAT(error_of([&] { bpnn::dataset_from_label(one, "b"); }).what(),
               StartsWith("one.csv:1:1: no label column \"b\""));
    auto bare = parse_csv("\n\n1,2\n", "bare.csv");
    CHECK_THAT(error_of([&] { bpnn::dataset_inputs(bare, {}, 3); }).what(),
               StartsWith("bare.csv:3:1: expected at least 3 input columns"));
  }
  SECTION("a file: the header cell or the row's cell") {
    bpnn_test::TempDir dir;
    const auto path = dir.write("d.csv", "\xEF\xBB\xBF\n  a , s ,b\n1,x,2\n\n3, y ,4\n");
    auto t = bpnn::read_csv(path, CsvOptions{"s"});
    CHECK(t.header_line == 2);
    auto text = error_of([&] { bpnn::dataset_from_targets(t, 1); });
    CHECK(text.kind() == ErrorKind::data);
    CHECK_THAT(text.what(), StartsWith(path + ":2:7: column \"s\" holds text"));
    CHECK_THAT(error_of([&] { bpnn::dataset_from_targets(t, 3); }).what(),
               StartsWith(path + ":2:3: expected at least 4 columns"));
    CHECK_THAT(error_of([&] { bpnn::dataset_from_label(t, "s", {"x"}); }).what(),
               StartsWith(path + ":5:4: unknown class \"y\""));
    CHECK_THAT(error_of([&] { bpnn::dataset_inputs(t, {}, 2); }).what(),
               StartsWith(path + ":2:7: column \"s\" holds text"));
  }
  SECTION("a FIFO named as the source is never read again for a column") {
    bpnn_test::TempDir dir;
    const auto fifo = dir.file("pipe.csv");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto t = parse_csv("a,b\n1,2\n", fifo);
    CHECK_THAT(error_of([&] { bpnn::dataset_from_label(t, "b", {"1"}); }).what(),
               StartsWith(fifo + ":2:1: unknown class \"2\""));
  }
}

TEST_CASE("csv hostile: an unknown text column is reported at the header or first row", "[data][csv][hostile]") {
  CHECK(csv_error("\n\n  a,b\n1,2\n", CsvOptions{"zz"}).what() ==
        std::string("t.csv:3:3: no column named \"zz\" in the header"));
  CHECK(csv_error("\n1,2\n", CsvOptions{"5"}).what() ==
        std::string("t.csv:2:1: text column \"5\" is out of range: the file has 2 columns"));
}

TEST_CASE("dataset hostile: names that go into the model must be unique", "[data][dataset][hostile]") {
  auto t = parse_csv("a,b,a,y\n1,2,3,4\n", "t.csv");
  auto e = error_of([&] { bpnn::dataset_from_targets(t, 1); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK_THAT(e.what(), StartsWith("t.csv:1:1: ") && Contains("column name \"a\" appears twice"));
  CHECK_THAT(error_of([&] { bpnn::dataset_from_label(t, "y"); }).what(), Contains("appears twice"));
  // The label's own name among the inputs is just as ambiguous.
  auto l = parse_csv("y,b,y\n1,2,3\n", "t.csv");
  CHECK_THAT(error_of([&] { bpnn::dataset_from_label(l, "y"); }).what(), Contains("appears twice"));
  // Duplicates in columns that are not used are fine, and so are tables without a header.
  auto ignored = parse_csv("a,b,z,z\n1,2,3,4\n", "t.csv");
  CHECK(bpnn::dataset_inputs(ignored, {"a", "b"}, 2).x == std::vector<double>{1, 2});
  CHECK(bpnn::dataset_from_targets(parse_csv("1,2\n", "t.csv"), 1).n == 1);
  // A model's input found twice in the header is ambiguous.
  CHECK_THAT(error_of([&] { bpnn::dataset_inputs(parse_csv("a,b,a\n1,2,3\n", "t.csv"), {"a", "b"}, 2); }).what(),
             Contains("appears twice"));
}

TEST_CASE("dataset hostile: a one-hot label larger than memory is refused before allocating",
          "[data][dataset][hostile]") {
  // n rows with n distinct labels make n × n one-hot targets: choose n so they exceed memory.
  const std::size_t memory = bpnn::physical_memory_bytes();
  REQUIRE(memory < (std::size_t{1} << 46));  // keeps n (and this test) small
  std::size_t n = static_cast<std::size_t>(std::sqrt(static_cast<double>(memory) / 8.0)) + 2;
  std::string text = "x,label\n";
  for (std::size_t i = 0; i < n; ++i) text += "1,c" + std::to_string(i) + "\n";
  auto t = parse_csv(text, "t.csv", CsvOptions{"label"});
  auto e = error_of([&] { bpnn::dataset_from_label(t, "label"); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK_THAT(e.what(), StartsWith("t.csv:1:1: the label column \"label\" has ") && Contains(std::to_string(n) + " classes") &&
                           Contains("more than this machine's"));
}

TEST_CASE("dataset hostile: many columns looked up by name stay linear", "[data][dataset][hostile]") {
  // 200 000 model inputs found in a header of 200 000 columns in reverse order: a linear search
  // per name would compare 2·10^10 strings.
  const std::size_t cols = 200'000;
  std::string header, row;
  std::vector<std::string> names;
  for (std::size_t j = 0; j < cols; ++j) {
    header += (j ? ",n" : "n") + std::to_string(j);
    row += (j ? "," : "") + std::to_string(j);
    names.push_back("n" + std::to_string(cols - 1 - j));
  }
  auto t = parse_csv(header + "\n" + row + "\n", "t.csv");
  auto d = bpnn::dataset_inputs(t, names, cols);
  REQUIRE(d.x.size() == cols);
  CHECK(d.x.front() == static_cast<double>(cols - 1));
  CHECK(d.x.back() == 0.0);
}

TEST_CASE("dataset hostile: an inconsistent hand-built table is refused and not read out of bounds",
          "[data][dataset][hostile]") {
  auto t = parse_csv("a,b\n1,2\n3,4\n", "t.csv");
  t.rows = std::size_t{1} << 62;
  CHECK(error_of([&] { bpnn::dataset_from_targets(t, 1); }).kind() == ErrorKind::argument);
  t = parse_csv("a,s\n1,x\n", "t.csv", CsvOptions{"s"});
  t.text.clear();
  CHECK(error_of([&] { bpnn::dataset_from_label(t, "s"); }).kind() == ErrorKind::argument);
}

TEST_CASE("csv hostile: a sparse file larger than memory is refused before allocating",
          "[data][csv][hostile]") {
  bpnn_test::TempDir dir;
  const auto path = dir.write("sparse.csv", "a,b\n1,2\n");
  const std::size_t memory = bpnn::physical_memory_bytes();
  REQUIRE(memory < (std::size_t{1} << 50));
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(memory + 4096)) == 0);  // holes read as zeros
  auto e = error_of([&] { bpnn::read_csv(path); });
  CHECK(e.kind() == ErrorKind::io);
  CHECK_THAT(e.what(), StartsWith(path + ": cannot read: the file is larger than this machine's"));
}

TEST_CASE("csv hostile: a file name with control bytes is escaped in every message", "[data][csv][hostile]") {
  const std::string name = "in\nput\x1b[2J\xff\\\".csv";
  const std::string shown = "in\\nput\\x1b[2J\\xff\\\".csv";
  auto e = error_of([&] { parse_csv("1,2\n3,x\n", name); });
  CHECK(std::string(e.what()) == shown + ":2:3: field \"x\" is not a number");
  auto t = parse_csv("a,b\n1,2\n", name);
  CHECK_THAT(error_of([&] { bpnn::dataset_from_targets(t, 2); }).what(), StartsWith(shown + ":1:1: expected"));
  bpnn_test::TempDir dir;
  auto missing = error_of([&] { bpnn::read_csv(dir.file(name)); });
  CHECK(missing.kind() == ErrorKind::io);
  CHECK_THAT(missing.what(), StartsWith(dir.file(shown) + ": cannot open: "));
  CHECK(is_one_printable_line(missing.what()));
}
