#pragma once
// Data sets: CSV files parsed into numbers, and the (inputs, targets) pairs a network trains on.
//
// Every error in a file is an Error(data) whose message reads "FILE:LINE:COLUMN: what is wrong"
// (1-based line and column, the column counted in bytes) on one printable line: a field echoed in
// it is cut after 40 bytes (then "…") with control bytes and bytes that are not UTF-8 escaped
// (\n, \x1b, \xff, ...).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpnn/export.hpp"
#include "bpnn/types.hpp"

namespace bpnn {

struct CsvOptions {
  // A column kept as text instead of parsed as a number: a class label, by header name or by
  // 0-based column index.
  std::optional<std::string> text_column;
  // The precision the numbers will be used in: a value that overflows it (1e300 for f32) is
  // rejected at its FILE:LINE:COLUMN. Underflow to zero stays silent.
  Precision precision = Precision::f64;
};

struct CsvTable {
  std::string source;                // file name used in error messages
  bool has_header = false;           // detected: see read_csv
  std::vector<std::string> columns;  // header names; "0", "1", ... when there is no header
  std::size_t rows = 0, cols = 0;
  std::vector<double> numbers;       // rows × cols row-major; the text column holds NaN
  std::optional<std::size_t> text_column;
  std::vector<std::string> text;     // the text column's cell per row, when there is one
  std::vector<std::size_t> line_of_row;  // 1-based file line of each data row (for messages)
  std::size_t header_line = 0;           // 1-based file line of the header row; 0 without one
};

// Reads a comma-separated file (RFC 4180 quotes, \n or \r\n line ends, blank lines skipped).
// The first row is a header when it holds a field that is not a number in a column whose
// second-row field is one (or, for a one-row file, any field that is not a number).
// Rejected with FILE:LINE:COLUMN: empty file, header only, ragged row, a field that is not a
// number, NaN or infinite values, a value that overflows options.precision, an unterminated
// quote, a NUL byte, a header name or text-column cell that is not valid UTF-8 (at the byte).
// Memory: the file's bytes plus at most one double per two bytes of the file.
BPNN_API CsvTable read_csv(const std::string& path, const CsvOptions& options = {});
// The same parser over text in memory; `source` names it in messages.
BPNN_API CsvTable parse_csv(std::string_view text, const std::string& source,
                            const CsvOptions& options = {});

struct Dataset {
  std::size_t n = 0, inputs = 0, outputs = 0;
  std::vector<double> x;  // n × inputs, row-major
  std::vector<double> y;  // n × outputs, row-major
  std::vector<std::string> input_names, output_names;
  std::vector<std::string> classes;  // for a one-hot label: the class of each output, in order
};

// The functions below take a table from parse_csv / read_csv; their Error(data) name
// FILE:LINE:COLUMN — the cell concerned, or the header's (else the first row's) first field for
// the table as a whole. The byte column is found again in the file when `source` names a regular
// file that still holds the row; otherwise it reads 1. With a header, the names of the columns
// used (which a model keeps) must be unique. A table whose parts disagree (numbers.size() !=
// rows × cols, ...) is an Error(argument).

// Inputs are all columns but the last `outputs`, which are the targets. Throws Error(data)
// when the table has too few columns.
BPNN_API Dataset dataset_from_targets(const CsvTable& table, std::size_t outputs);

// Inputs are all columns but `label` (header name or 0-based index), which is one-hot encoded.
// Classes are sorted (numerically when all are numbers) unless `classes` fixes their order; a
// label outside a fixed list is an error at its FILE:LINE:COLUMN, and so are one-hot targets
// (rows × classes doubles) larger than this machine's memory.
BPNN_API Dataset dataset_from_label(const CsvTable& table, const std::string& label,
                                    const std::vector<std::string>& classes = {});

// Only the inputs a model was trained on: the columns named `input_names` when the table has a
// header holding them all, else the first `inputs` columns (other columns are ignored). Targets
// are left empty. Throws Error(data) when the table has fewer columns, or a header holds one of
// the names twice.
BPNN_API Dataset dataset_inputs(const CsvTable& table, const std::vector<std::string>& input_names,
                                std::size_t inputs);

// Inputs from the columns at the given 0-based positions, in that order. Targets are left empty.
BPNN_API Dataset dataset_columns(const CsvTable& table, const std::vector<std::size_t>& columns);

// Only the targets of a model: the columns named `output_names` when the table has a header
// holding them all, else the last `outputs` columns. Inputs are left empty.
BPNN_API Dataset dataset_targets(const CsvTable& table, const std::vector<std::string>& output_names,
                                 std::size_t outputs);

// Splits off a seeded random `test_fraction` of the rows: returns {train, test}, each in file
// order.
BPNN_API std::pair<Dataset, Dataset> split_dataset(const Dataset& data, double test_fraction,
                                                   std::uint64_t seed);

// The same, stratified when the targets are classes (one-hot rows, or one 0/1 column): each
// class gives round(its rows · test_fraction) rows to the test side, so both sides keep the
// class proportions. Rows of other targets are split as split_dataset does.
BPNN_API std::pair<Dataset, Dataset> split_dataset_stratified(const Dataset& data,
                                                              double test_fraction,
                                                              std::uint64_t seed);

}  // namespace bpnn
