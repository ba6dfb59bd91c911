// Fuzz target: the FANN .data reader (bpnn::parse_fann_data) in both precisions, whole and over a
// row range, then the data sets train and eval build from it (dataset_from_targets with the
// header's outputs, dataset_from_label on the last column).
// Input: the bytes of a .data file. Checks beyond the sanitizers: see fuzz_check.hpp (every data
// error at FILE:LINE:COLUMN, or FILE: for a row range outside the rows), plus the table's shape and
// numbers finite in the requested precision.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "bpnn/data.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace bpnn;
using fuzz::finding;

constexpr const char* source = "fuzz.data";

void table_check(const DataTable& t, Precision precision, const std::optional<RowRange>& rows) {
  if (t.cols == 0 || t.columns.size() != t.cols) finding("table: no columns, or columns.size() != cols", "");
  if (t.numbers.size() != t.rows * t.cols) finding("table: numbers.size() != rows * cols", "");
  if (t.row_origin.size() != t.rows) finding("table: row_origin.size() != rows", "");
  if (t.target_cols >= t.cols) finding("table: target_cols leaves no input", "");
  if (rows && t.first_row != rows->begin) finding("table: first_row is not the range's begin", "");
  if (t.first_row + t.rows > t.file_rows) finding("table: rows beyond the file's row count", "");
  if (!rows && t.rows == 0) finding("table without rows", "");
  const double limit = precision == Precision::f32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
  for (double v : t.numbers)
    if (!(std::fabs(v) <= limit)) finding("table holds a value that is not finite in the requested precision", std::to_string(v));
  for (std::size_t r = 1; r < t.rows; ++r)
    if (t.row_origin[r] < t.row_origin[r - 1]) finding("table: row lines go backwards", "");
}

void table_use(std::string_view text, Precision precision, std::optional<RowRange> rows) {
  FannOptions options;
  options.precision = precision;
  options.rows = rows;
  DataTable t;
  bool parsed = false;
  try {
    t = parse_fann_data(text, source, options);
    parsed = true;
  } catch (const Error& e) {
    // A range outside the rows names the file alone; everything else a line and column.
    const std::string_view msg = e.what();
    const bool range = msg.find(" were asked for, but the file holds ") != std::string_view::npos;
    fuzz::error_check(e, {ErrorKind::data}, source, range ? fuzz::Where::source : fuzz::Where::line_column);
  } catch (const std::exception& e) {
    finding("exception other than bpnn::Error", e.what());
  }
  if (!parsed) return;
  table_check(t, precision, rows);
  if (t.target_cols > 0)
    fuzz::expect_only_errors([&] { (void)dataset_from_targets(t, t.target_cols); }, {ErrorKind::data}, source,
                             fuzz::Where::line_column);
  if (t.cols >= 2)
    fuzz::expect_only_errors([&] { (void)dataset_from_label(t, std::to_string(t.cols - 1)); }, {ErrorKind::data},
                             source, fuzz::Where::line_column);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  table_use(text, Precision::f64, std::nullopt);
  table_use(text, Precision::f32, std::nullopt);
  // A shard from the second row on, and one of the first row alone.
  table_use(text, Precision::f64, RowRange{1});
  table_use(text, Precision::f32, RowRange{0, 1});
  return 0;
}
