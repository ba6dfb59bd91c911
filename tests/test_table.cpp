// DataTable, the one table every reader fills: CSV row ranges, row origins and the located errors
// the data sets derive from them.
#include <catch2/catch.hpp>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "cli_run.hpp"
#include "io_test_util.hpp"

using bpnn::CsvOptions;
using bpnn::DataTable;
using bpnn::ErrorKind;
using bpnn::parse_csv;
using bpnn::RowRange;
using bpnn_test::csv_error;
using bpnn_test::error_of;
using bpnn_test::ScratchDir;
using Catch::Matchers::StartsWith;

namespace {

CsvOptions rows(std::size_t begin, std::size_t end = std::numeric_limits<std::size_t>::max()) {
  CsvOptions o;
  o.rows = RowRange{begin, end};
  return o;
}

}  // namespace

TEST_CASE("CSV row ranges count rows after the header and keep only theirs", "[table][data]") {
  const std::string text = "a,b\n1,2\n\n3,4\n5,6\n7,8\n";
  const DataTable t = parse_csv(text, "t.csv", rows(1, 3));
  CHECK(t.has_header);
  CHECK(t.rows == 2);
  CHECK(t.first_row == 1);
  CHECK(t.numbers == std::vector<double>{3, 4, 5, 6});
  CHECK(t.row_origin == std::vector<std::size_t>{4, 5});
  CHECK(t.file_rows == 4);
  // An empty range at the start counts the rows and keeps none (rank 0 finding the shards).
  const DataTable counted = parse_csv(text, "t.csv", rows(0, 0));
  CHECK(counted.rows == 0);
  CHECK(counted.file_rows == 4);
  CHECK(counted.numbers.empty());
  // Without a header the first line is row 0; the rows detected from still count.
  const DataTable h = parse_csv("1,2\n3,4\n5,6\n", "t.csv", rows(0, 1));
  CHECK_FALSE(h.has_header);
  CHECK(h.numbers == std::vector<double>{1, 2});
  CHECK(parse_csv("1,2\n3,4\n5,6\n", "t.csv", rows(1)).numbers == std::vector<double>{3, 4, 5, 6});
  CHECK(parse_csv("1,2\n3,4\n5,6\n", "t.csv", rows(3)).rows == 0);
  // Shards cover the file: every row once, in order.
  const std::string many = "x,y\n1,1\n2,2\n3,3\n4,4\n5,5\n6,6\n7,7\n";
  std::vector<double> joined;
  for (std::size_t b = 0; b < 7; b += 3) {
    const DataTable s = parse_csv(many, "t.csv", rows(b, std::min<std::size_t>(b + 3, 7)));
    joined.insert(joined.end(), s.numbers.begin(), s.numbers.end());
  }
  CHECK(joined == parse_csv(many, "t.csv").numbers);
  // The text column of a range.
  CsvOptions labelled = rows(1, 2);
  labelled.text_column = "b";
  CHECK(parse_csv("a,b\n1,x\n2,y\n", "t.csv", labelled).text == std::vector<std::string>{"y"});
}

TEST_CASE("CSV row ranges: outside the rows is a data error, and rows outside the range are still checked",
          "[table][data]") {
  CHECK(csv_error("a,b\n1,2\n3,4\n", rows(1, 3)).what() ==
        std::string("t.csv: rows [1, 3) were asked for, but the file holds 2 data rows"));
  CHECK(csv_error("a,b\n1,2\n", rows(2)).what() == std::string("t.csv: rows [2, end) were asked for, but the file holds 1 data rows"));
  // Not parsed outside the range: a word where a number belongs passes...
  CHECK(parse_csv("a,b\n1,2\n3,x\n", "t.csv", rows(0, 1)).rows == 1);
  CHECK_THAT(csv_error("a,b\n1,2\n3,x\n", rows(1, 2)).what(), StartsWith("t.csv:3:3: field \"x\" is not a number"));
  // ...but quotes and widths are checked, as they decide where rows begin.
  CHECK_THAT(csv_error("a,b\n1,2\n3,4,5\n", rows(0, 1)).what(), StartsWith("t.csv:3:5: expected 2 fields, got 3"));
  CHECK_THAT(csv_error("a,b\n1,2\n3,\"4\n", rows(0, 1)).what(), StartsWith("t.csv:3:3: unterminated quote"));
  CHECK_THAT(csv_error("1,2\n3\n", rows(0, 1)).what(), StartsWith("t.csv:2:2: expected 2 fields, got 1"));
  auto e = error_of([] { parse_csv("1\n", "t.csv", rows(2, 1)); });
  CHECK(e.kind() == ErrorKind::argument);
}

TEST_CASE("Data sets locate cells of a CSV range by the rows' own lines", "[table][data]") {
  ScratchDir dir;
  const std::string path = (dir.path / "r.csv").string();
  dir.write("r.csv", "x,  kind\n1, a\n2,   b\n3,   zz\n");
  CsvOptions o = rows(1, 3);
  o.text_column = "kind";
  const DataTable t = bpnn::read_csv(path, o);
  CHECK(t.row_origin == std::vector<std::size_t>{3, 4});
  auto e = error_of([&] { bpnn::dataset_from_label(t, "kind", {"a", "b"}); });
  CHECK_THAT(e.what(), StartsWith(path + ":4:6: unknown class \"zz\""));
  CHECK(bpnn::data_table_where(t) == path + ":1:1");
  o.rows.reset();
  CHECK(bpnn::data_table_where(bpnn::read_csv(path, o)) == path + ":1:1");
  // An inconsistent table made by hand is an argument error, not a crash.
  DataTable broken = t;
  broken.row_origin.pop_back();
  CHECK(error_of([&] { bpnn::data_table_where(broken); }).kind() == ErrorKind::argument);
}

TEST_CASE("Row ranges of files larger than the read window read as from memory", "[table][data]") {
  // read_csv and read_fann_data read a range through a window of 8 MiB that gives back the pages
  // behind it; 12 MB files cross it, and the rows kept sit on both sides of the first release.
  ScratchDir dir;
  std::string csv = "a,b\n", fann;
  const std::size_t n = 1'200'000;
  csv.reserve(n * 11);
  for (std::size_t i = 0; i < n; ++i) csv += std::to_string(100000 + i % 900000) + "," + std::to_string(i % 97) + "\n";
  fann = std::to_string(n) + " 1 1\n" + csv.substr(4);
  for (char& c : fann) if (c == ',') c = ' ';
  dir.write("big.csv", csv);
  dir.write("big.data", fann);
  for (const RowRange r : {RowRange{700'000, 900'000}, RowRange{n - 3}, RowRange{0, 2}}) {
    CsvOptions co;
    co.rows = r;
    const DataTable from_file = bpnn::read_csv((dir.path / "big.csv").string(), co);
    const DataTable from_memory = parse_csv(csv, (dir.path / "big.csv").string(), co);
    CHECK(from_file.rows == from_memory.rows);
    CHECK(from_file.numbers == from_memory.numbers);
    CHECK(from_file.row_origin == from_memory.row_origin);
    CHECK(from_file.file_rows == n);
    bpnn::FannOptions fo;
    fo.rows = r;
    const DataTable fann_file = bpnn::read_fann_data((dir.path / "big.data").string(), fo);
    CHECK(fann_file.numbers == from_memory.numbers);
    CHECK(fann_file.row_origin == from_memory.row_origin);
  }
}
