// FANN's .data format: header, whitespace-separated numbers (line breaks anywhere), row ranges,
// errors at FILE:LINE:COLUMN, and the header's counts checked against the bytes.
#include <catch2/catch.hpp>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "cli_run.hpp"
#include "io_test_util.hpp"

using bpnn::DataTable;
using bpnn::ErrorKind;
using bpnn::parse_fann_data;
using bpnn_test::error_of;
using bpnn_test::ScratchDir;
using Catch::Matchers::StartsWith;

namespace {

std::string fann_error(const std::string& text, const bpnn::FannOptions& options = {}) {
  auto e = error_of([&] { parse_fann_data(text, "x.data", options); });
  CHECK(e.kind() == ErrorKind::data);
  return e.what();
}

}  // namespace

TEST_CASE("FANN .data: rows may break lines anywhere, as fann_read_train_from_fd reads them", "[fann][data]") {
  // XOR as FANN ships it, then the same numbers with the line breaks moved.
  const std::string xor_data = "4 2 1\n-1 -1\n-1\n-1 1\n1\n1 -1\n1\n1 1\n-1\n";
  const std::string moved = "  4 2\t1 -1\n-1 -1 -1 1 1\r\n1\n-1\n1 1\n1 -1";
  for (const auto& text : {xor_data, moved}) {
    const DataTable t = parse_fann_data(text, "xor.data");
    CHECK(t.format == bpnn::TableFormat::fann);
    CHECK(t.rows == 4);
    CHECK(t.cols == 3);
    CHECK(t.target_cols == 1);
    CHECK_FALSE(t.has_header);
    CHECK(t.columns == std::vector<std::string>{"0", "1", "2"});
    CHECK(t.numbers == std::vector<double>{-1, -1, -1, -1, 1, 1, 1, -1, 1, 1, 1, -1});
  }
  CHECK(parse_fann_data(xor_data, "xor.data").row_origin == std::vector<std::size_t>{2, 4, 6, 8});
  CHECK(parse_fann_data(moved, "xor.data").row_origin == std::vector<std::size_t>{1, 2, 3, 5});
  const bpnn::Dataset d = bpnn::dataset_from_targets(parse_fann_data(xor_data, "xor.data"), 1);
  CHECK(d.inputs == 2);
  CHECK(d.y == std::vector<double>{-1, 1, 1, -1});
  // num_output 0: inputs only.
  CHECK(parse_fann_data("1 2 0\n0.5 2e3\n", "p.data").numbers == std::vector<double>{0.5, 2000});
}

TEST_CASE("FANN .data row ranges", "[fann][data][table]") {
  const std::string text = "4 1 1\n0 0\n1 1\n2 2\n3 x\n";
  bpnn::FannOptions o;
  o.rows = bpnn::RowRange{1, 3};
  const DataTable t = parse_fann_data(text, "r.data", o);
  CHECK(t.rows == 2);
  CHECK(t.first_row == 1);
  CHECK(t.numbers == std::vector<double>{1, 1, 2, 2});
  CHECK(t.row_origin == std::vector<std::size_t>{3, 4});
  CHECK(t.file_rows == 4);
  // Rows outside the range are counted, not parsed ("x" is never read as a number)...
  CHECK(parse_fann_data(text, "r.data", o).rows == 2);
  // ...but they must be there.
  o.rows = bpnn::RowRange{0, 1};
  CHECK(fann_error("4 1 1\n0  0\n1  1\n2  2\n3", o) ==
        "x.data:5:2: the file ends inside row 4 (after 1 of its 2 numbers); the header promises 4 rows of 1 inputs and 1 outputs");
  o.rows = bpnn::RowRange{3, 5};
  CHECK(fann_error(text, o) == "x.data: rows [3, 5) were asked for, but the file holds 4 data rows");
  o.rows = bpnn::RowRange{3};
  CHECK_THAT(fann_error(text, o), StartsWith("x.data:5:3: value \"x\" is not a number"));
}

TEST_CASE("FANN .data errors name FILE:LINE:COLUMN", "[fann][data]") {
  CHECK(fann_error("") == "x.data:1:1: empty file: expected the header num_data num_input num_output");
  CHECK(fann_error("2 1") == "x.data:1:4: header: num_output is missing (a FANN .data file starts with num_data "
                             "num_input num_output)");
  CHECK_THAT(fann_error("2 -1 1\n"), StartsWith("x.data:1:3: header: num_input \"-1\" is not a whole number"));
  CHECK_THAT(fann_error("2.5 1 1\n"), StartsWith("x.data:1:1: header: num_data \"2.5\" is not a whole number"));
  CHECK(fann_error("99999999999999999999 1 1\n") ==
        "x.data:1:1: header: num_data \"99999999999999999999\" is too large");
  CHECK(fann_error("0 1 1\n") == "x.data:1:1: header: num_data is 0, the file holds no rows");
  CHECK(fann_error("1 0 1\n1\n") == "x.data:1:3: header: num_input is 0, a row needs an input");
  // The header's counts against the bytes after it, before anything is allocated.
  CHECK(fann_error("1000000000 1000000 1\n1 2\n") ==
        "x.data:1:1: header: 1000000000 rows of 1000000 + 1 numbers need 1000001000000000 numbers (2 bytes each at "
        "least), but only 5 bytes follow the header");
  CHECK(fann_error("3 1 1\n1 2 3 4 5\n") == "x.data:1:1: header: 3 rows of 1 + 1 numbers need 6 numbers (2 bytes each "
                                           "at least), but only 11 bytes follow the header");
  CHECK_THAT(fann_error("18446744073709551615 2 1\n"), StartsWith("x.data:1:1: header: "));
  // Values.
  CHECK(fann_error("2 1 1\n1 2\n3 abc\n") == "x.data:3:3: value \"abc\" is not a number");
  CHECK(fann_error("2 1 1\n1 2\n3\n  nan\n") == "x.data:4:3: NaN is not allowed: \"nan\"");
  CHECK(fann_error("1 1 1\ninf 2\n") == "x.data:2:1: infinite value is not allowed: \"inf\"");
  CHECK(fann_error("1 1 1\n1e400 2\n") == "x.data:2:1: value \"1e400\" is out of range for a double");
  bpnn::FannOptions f32;
  f32.precision = bpnn::Precision::f32;
  CHECK(fann_error("1 1 1\n1 1e300\n", f32) == "x.data:2:3: value \"1e300\" is out of range for f32");
  CHECK(fann_error(std::string("1 1 1\n1 2\0", 10)) == "x.data:2:4: NUL byte");
  CHECK(fann_error("1 1 1\n1 2\n3\n") ==
        "x.data:3:1: more numbers than the header's 1 rows of 1 + 1 (fix num_data in the header, or remove what follows)");
  CHECK(fann_error("2 1 1\n1 2\n3   \n") ==
        "x.data:4:1: the file ends inside row 2 (after 1 of its 2 numbers); the header promises 2 rows of 1 inputs "
        "and 1 outputs");
}

TEST_CASE("FANN tables: a value's line and column are found again for the data sets' errors", "[fann][data][table]") {
  ScratchDir dir;
  const std::string path = (dir.path / "c.data").string();
  // Row 3 (the label 7) starts in the middle of line 3.
  dir.write("c.data", "3 2 1\n0.5 0.25 1\n0 1 2 1 1\n   7\n");
  bpnn::FannOptions o;
  const DataTable t = bpnn::read_fann_data(path, o);
  CHECK(t.row_origin == std::vector<std::size_t>{2, 3, 3});
  auto e = error_of([&] { bpnn::dataset_from_label(t, "2", {"1", "2"}); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK_THAT(e.what(), StartsWith(path + ":4:4: unknown class \"7\" in column \"2\""));
  // The same from a range: the row's place in the file counts.
  o.rows = bpnn::RowRange{2, 3};
  auto r = error_of([&] { bpnn::dataset_from_label(bpnn::read_fann_data(path, o), "2", {"1", "2"}); });
  CHECK_THAT(r.what(), StartsWith(path + ":4:4: unknown class \"7\""));
  // The table as a whole: its first value.
  CHECK(bpnn::data_table_where(t) == path + ":2:1");
  CHECK(bpnn::data_table_where(bpnn::read_fann_data(path, o)) == path + ":3:7");
  // Not enough columns for the outputs asked: at the first value.
  auto w = error_of([&] { bpnn::dataset_from_targets(t, 3); });
  CHECK_THAT(w.what(), StartsWith(path + ":2:1: expected at least 4 columns"));
}
