#pragma once
// Data sets: CSV, FANN .data and IDX files parsed into one table type, and the (inputs, targets)
// pairs a network trains on.
//
// Every error in a text file is an Error(data) whose message reads "FILE:LINE:COLUMN: what is
// wrong" (1-based line and column, the column counted in bytes); in an IDX file "FILE:byte N: ..."
// or "FILE:record N: ..." on one printable line: a field echoed in
// it is cut after 40 bytes (then "…") with control bytes and bytes that are not UTF-8 escaped
// (\n, \x1b, \xff, ...).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpnn/export.hpp"
#include "bpnn/types.hpp"

namespace bpnn {

// A range of data rows [begin, end), counted from 0 after the header (a CSV header is not a row):
// a reader keeps only these rows (the others are still read as far as needed to count them) and
// refuses a range that does not lie within the file's rows. The MPI trainer reads its shards so.
struct RowRange {
  std::size_t begin = 0;
  std::size_t end = std::numeric_limits<std::size_t>::max();  // max: to the last row
};

struct CsvOptions {
  // A column kept as text instead of parsed as a number: a class label, by header name or by
  // 0-based column index.
  std::optional<std::string> text_column;
  // The precision the numbers will be used in: a value that overflows it (1e300 for f32) is
  // rejected at its FILE:LINE:COLUMN. Underflow to zero stays silent.
  Precision precision = Precision::f64;
  // Only these rows; all of them when unset.
  std::optional<RowRange> rows = std::nullopt;
};

// The file format a table was read from; it says what a row's origin is and how a value's
// position is found again for a message.
enum class TableFormat {
  csv,   // FILE:LINE:COLUMN; row_origin is the row's 1-based line
  fann,  // FILE:LINE:COLUMN; row_origin is the 1-based line of the row's first number
  idx,   // FILE:record N (0-based); row_origin is the record's index in the file
};

// What every reader fills: numbers row-major, at most one text column, and where each row came
// from (a few bytes per row, never per value: a value's column is found again when a message
// needs it).
struct DataTable {
  std::string source;                // file name used in error messages
  TableFormat format = TableFormat::csv;
  bool has_header = false;           // CSV: detected, see read_csv; FANN and IDX: never
  std::vector<std::string> columns;  // header names; "0", "1", ... when there is no header
  std::size_t rows = 0, cols = 0;
  std::vector<double> numbers;       // rows × cols row-major; the text column holds NaN
  std::optional<std::size_t> text_column;
  std::vector<std::string> text;     // the text column's cell per row, when there is one
  std::string text_source;           // the file holding the text column when not `source` (IDX labels)
  std::vector<std::size_t> row_origin;  // per row: its line (CSV, FANN) or record (IDX); see TableFormat
  std::size_t header_line = 0;          // CSV: 1-based file line of the header row; 0 without one
  std::size_t first_row = 0;            // the file's row number of row 0 (a row range's begin)
  std::size_t file_rows = 0;            // the data rows the whole file holds (rows [0, 0) counts them)
  std::size_t target_cols = 0;          // FANN: the header's num_output (the last columns); else 0
};
// The name from when only CSV was read.
using CsvTable = DataTable;

// Reads a comma-separated file (RFC 4180 quotes, \n or \r\n line ends, blank lines skipped).
// The first row is a header when it holds a field that is not a number in a column whose
// second-row field is one (or, for a one-row file, any field that is not a number).
// Rejected with FILE:LINE:COLUMN: empty file, header only, ragged row, a field that is not a
// number, NaN or infinite values, a value that overflows options.precision, an unterminated
// quote, a NUL byte, a header name or text-column cell that is not valid UTF-8 (at the byte).
// Rows outside options.rows are checked for quotes and their field count but not parsed.
// Memory: the file's bytes plus at most one double per two bytes of the file; with a row range,
// read_csv maps the file and keeps about 8 MiB of it resident at a time, plus the kept rows (a
// file that shrinks while it is read then ends the process with SIGBUS, as any mmap reader).
BPNN_API DataTable read_csv(const std::string& path, const CsvOptions& options = {});
// The same parser over text in memory; `source` names it in messages.
BPNN_API DataTable parse_csv(std::string_view text, const std::string& source,
                             const CsvOptions& options = {});

struct FannOptions {
  Precision precision = Precision::f64;  // as CsvOptions::precision
  std::optional<RowRange> rows = std::nullopt;
};

// FANN's .data text format, as fann_read_train_from_fd reads it: a header
// `num_data num_input num_output` (whole numbers), then num_data rows of num_input inputs and
// num_output outputs, all whitespace-separated (line breaks are not significant). The table has
// num_input + num_output columns named "0", "1", ..., no header, and target_cols = num_output.
// Rejected with FILE:LINE:COLUMN: a header that is not three whole numbers (num_data and
// num_input at least 1), a header promising more numbers than the file's bytes can hold (each
// takes two bytes at least; checked before allocating), a value that is not a finite number or
// overflows options.precision, a file that ends early or holds numbers after the last row.
// Memory: as read_csv's, row ranges read through a window likewise.
BPNN_API DataTable read_fann_data(const std::string& path, const FannOptions& options = {});
BPNN_API DataTable parse_fann_data(std::string_view text, const std::string& source,
                                   const FannOptions& options = {});

struct IdxOptions {
  Precision precision = Precision::f64;  // float and double IDX values must fit it
  std::optional<RowRange> rows = std::nullopt;
  // When not empty: label value v is class label_names[v] (a label outside the list is an
  // error at its record). Otherwise each label is its value written as a number ("7").
  std::vector<std::string> label_names = {};
};

// An IDX pair of the MNIST family (http://yann.lecun.com/exdb/mnist/): `images_path` holds
// magic 00 00 TYPE NDIMS, NDIMS big-endian 32-bit sizes, then the values big-endian, TYPE one of
// 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. Each record (the
// first dimension) becomes one row, its other dimensions flattened: columns "0", "1", ... keep
// the values as they are (pixels 0–255). `labels_path`, when not empty, holds one value per record
// (idx1) and becomes a last text column "label" (see IdxOptions::label_names) in `text_source`;
// both files must hold the same number of records. Either file may be gzip-compressed (detected
// by its first bytes; zlib streaming).
// Rejected with Error(data) "FILE:byte N: ..." (N counted in the decompressed bytes for gzip) or
// "FILE:record N: ...": a wrong magic or type, a size of 0, a plain file whose length is not what
// its header says, a gzip stream that ends early or runs on past the last record (checked as it
// arrives: the buffers grow with the data, never sized from the header alone), a float that is
// not finite or overflows options.precision.
BPNN_API DataTable read_idx(const std::string& images_path, const std::string& labels_path = {},
                            const IdxOptions& options = {});

// "FILE:LINE:COLUMN" (CSV, FANN) or "FILE" (IDX) of the table as a whole, for a message about it:
// the header's first field, else the first row's first value.
BPNN_API std::string data_table_where(const DataTable& table);

struct Dataset {
  std::size_t n = 0, inputs = 0, outputs = 0;
  std::vector<double> x;  // n × inputs, row-major
  std::vector<double> y;  // n × outputs, row-major
  std::vector<std::string> input_names, output_names;
  std::vector<std::string> classes;  // for a one-hot label: the class of each output, in order
};

// The functions below take a table from any reader; their Error(data) name FILE:LINE:COLUMN
// (FILE:record N for IDX) — the cell concerned, or data_table_where for the table as a whole.
// The byte column is found again in the file when `source` names a regular file that still holds
// the row; otherwise it reads 1. With a header, the names of the columns
// used (which a model keeps) must be unique. A table whose parts disagree (numbers.size() !=
// rows × cols, ...) is an Error(argument).

// Inputs are all columns but the last `outputs`, which are the targets. Throws Error(data)
// when the table has too few columns.
BPNN_API Dataset dataset_from_targets(const DataTable& table, std::size_t outputs);

// Inputs are all columns but `label` (header name or 0-based index), which is one-hot encoded.
// Classes are sorted (numerically when all are numbers) unless `classes` fixes their order; a
// label outside a fixed list is an error at its FILE:LINE:COLUMN, and so are one-hot targets
// (rows × classes doubles) larger than this machine's memory.
BPNN_API Dataset dataset_from_label(const DataTable& table, const std::string& label,
                                    const std::vector<std::string>& classes = {});

// Only the inputs a model was trained on: the columns named `input_names` when the table has a
// header holding them all, else the first `inputs` columns (other columns are ignored). Targets
// are left empty. Throws Error(data) when the table has fewer columns, or a header holds one of
// the names twice.
BPNN_API Dataset dataset_inputs(const DataTable& table, const std::vector<std::string>& input_names,
                                std::size_t inputs);

// Inputs from the columns at the given 0-based positions, in that order. Targets are left empty.
BPNN_API Dataset dataset_columns(const DataTable& table, const std::vector<std::size_t>& columns);

// Only the targets of a model: the columns named `output_names` when the table has a header
// holding them all, else the last `outputs` columns. Inputs are left empty.
BPNN_API Dataset dataset_targets(const DataTable& table, const std::vector<std::string>& output_names,
                                 std::size_t outputs);

// The given rows of `data`, in the given order (a row may repeat), with its names and classes:
// a fold or a split side. Error(argument) for a row past the data's end.
BPNN_API Dataset dataset_rows(const Dataset& data, const std::vector<std::size_t>& rows);

// Splits off a seeded random `test_fraction` of the rows: returns {train, test}, each in file
// order.
BPNN_API std::pair<Dataset, Dataset> split_dataset(const Dataset& data, double test_fraction,
                                                   std::uint64_t seed);

// The rows of each side of a split, each in file order.
struct RowSplit {
  std::vector<std::size_t> train, test;
};
// The rows split_dataset and split_dataset_stratified take (y:(n, outputs) row-major), without
// copying any data: the trainer gathers its rows itself.
BPNN_API RowSplit split_rows(std::size_t n, double test_fraction, std::uint64_t seed);
BPNN_API RowSplit split_rows_stratified(const double* y, std::size_t n, std::size_t outputs,
                                        double test_fraction, std::uint64_t seed);

// The class of each row when targets y:(n, outputs) are classes: the arg-max of one-hot rows, or
// the value of one 0/1 column; empty when some row is neither (the targets are not classes).
BPNN_API std::vector<std::size_t> target_classes(const double* y, std::size_t n, std::size_t outputs);
// split_rows_stratified from the rows' classes (target_classes of the targets; empty: not
// classes, split as split_rows): the same rows for the same classes, so a program that reads the
// targets in pieces (a data-parallel run's rank 0) gets the split of the whole file.
BPNN_API RowSplit split_rows_by_class(const std::vector<std::size_t>& classes, std::size_t n,
                                      double test_fraction, std::uint64_t seed);

// split_dataset, stratified when the targets are classes (one-hot rows, or one 0/1 column): each
// class gives round(its rows · test_fraction) rows to the test side, so both sides keep the
// class proportions. Rows of other targets are split as split_dataset does.
BPNN_API std::pair<Dataset, Dataset> split_dataset_stratified(const Dataset& data,
                                                              double test_fraction,
                                                              std::uint64_t seed);

}  // namespace bpnn

#include "bpnn/scaler.hpp"

namespace bpnn {

// A scaler's statistics over some rows, to be merged with those of other rows: a data-parallel
// run fits the scaler per block of rows and merges the blocks in block order, the same on every
// rank whatever the number of ranks. standard: the rows' count, the columns' means and sums of
// squared deviations (Welford within the rows, Chan et al.'s pairwise rule between partials);
// minmax: the columns' least and greatest values.
struct ScalerPartial {
  Scaling kind = Scaling::none;
  double rows = 0;
  std::vector<double> first, second;  // standard: mean, Σ(x − mean)²; minmax: min, max
};

// The statistics of rows x:(n, inputs); n may be 0. Error(argument) for a value that is not finite.
BPNN_API ScalerPartial scaler_partial_fit(Scaling kind, const double* x, std::size_t n, std::size_t inputs);
// `into` becomes the statistics of its rows followed by `next`'s (both of one kind and width).
BPNN_API void scaler_partial_merge(ScalerPartial& into, const ScalerPartial& next);
// The scaler of the merged statistics, as scaler_fit makes it (Error(argument) for no rows).
BPNN_API InputScaler scaler_from_partial(const ScalerPartial& partial);

}  // namespace bpnn
