// Fuzz target: the CSV reader (bpnn::parse_csv) in both precisions, then the data sets train
// builds from the table (dataset_from_targets, dataset_from_label by name and by index, the label
// also read as a text column), and the model metadata train writes from their names.
// Input: the bytes of a CSV file. Checks beyond the sanitizers: see fuzz_check.hpp (every data
// error at FILE:LINE:COLUMN, as bpnn/data.hpp promises), plus the table's and data sets' shapes,
// numbers finite in the requested precision, and names that a model file can hold (UTF-8).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpnn/data.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace bpnn;
using fuzz::finding;

constexpr const char* source = "fuzz.csv";

void table_check(const CsvTable& t, Precision precision) {
  if (t.cols == 0 || t.rows == 0) finding("table without rows or columns", std::to_string(t.rows) + "x" + std::to_string(t.cols));
  if (t.columns.size() != t.cols) finding("table: columns.size() != cols", "");
  if (t.numbers.size() != t.rows * t.cols) finding("table: numbers.size() != rows * cols", "");
  if (t.row_origin.size() != t.rows) finding("table: row_origin.size() != rows", "");
  if (t.text_column && (*t.text_column >= t.cols || t.text.size() != t.rows))
    finding("table: text column out of range or text.size() != rows", "");
  const double limit = precision == Precision::f32 ? std::numeric_limits<float>::max()
                                                   : std::numeric_limits<double>::max();
  for (std::size_t r = 0; r < t.rows; ++r)
    for (std::size_t j = 0; j < t.cols; ++j) {
      if (t.text_column && j == *t.text_column) continue;
      const double v = t.numbers[r * t.cols + j];
      if (!(std::fabs(v) <= limit))
        finding("table holds a value that is not finite in the requested precision",
                "row " + std::to_string(r) + " column " + std::to_string(j) + " = " + std::to_string(v));
    }
}

// The names train stores in the model's metadata as JSON (train_command.cpp).
void names_check(const std::vector<std::string>& names) {
  try {
    (void)nlohmann::json(names).dump();
  } catch (const nlohmann::json::exception& e) {
    finding("a name the reader accepted cannot be written to a model file", e.what());
  }
}

void dataset_check(const Dataset& d, const CsvTable& t) {
  if (d.n != t.rows) finding("dataset: n != table rows", "");
  if (d.x.size() != d.n * d.inputs || d.y.size() != d.n * d.outputs) finding("dataset: x or y has the wrong size", "");
  if (d.input_names.size() != d.inputs || d.output_names.size() != d.outputs)
    finding("dataset: names do not match the widths", "");
  if (d.inputs + (d.classes.empty() ? d.outputs : 1) != t.cols) finding("dataset: columns lost or duplicated", "");
  names_check(d.input_names);
  names_check(d.output_names);
  names_check(d.classes);
}

template <class Build>
void dataset_try(const CsvTable& t, Build build) {
  fuzz::expect_only_errors([&] { dataset_check(build(), t); }, {ErrorKind::data}, source, fuzz::Where::line_column);
}

// Guesses for the last column's name and index from the first line, for a text-column parse
// that must not depend on the plain parse succeeding (a text label is not a number).
std::vector<std::string> label_guesses(std::string_view text) {
  std::string_view first = text.substr(0, text.find('\n'));
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  const std::size_t comma = first.rfind(',');
  std::string_view last = comma == std::string_view::npos ? first : first.substr(comma + 1);
  if (last.size() >= 2 && last.front() == '"' && last.back() == '"') last = last.substr(1, last.size() - 2);
  std::size_t commas = 0;
  for (char c : first) commas += c == ',';
  std::vector<std::string> guesses{std::string(last)};
  if (guesses[0] != std::to_string(commas)) guesses.push_back(std::to_string(commas));
  return guesses;
}

void table_use(std::string_view text, Precision precision) {
  CsvOptions options;
  options.precision = precision;
  CsvTable table;
  bool parsed = false;
  fuzz::expect_only_errors(
      [&] {
        table = parse_csv(text, source, options);
        parsed = true;
      },
      {ErrorKind::data}, source, fuzz::Where::line_column);
  if (parsed) {
    table_check(table, precision);
    dataset_try(table, [&] { return dataset_from_targets(table, 1); });
    if (table.cols > 2) dataset_try(table, [&] { return dataset_from_targets(table, 2); });
    dataset_try(table, [&] { return dataset_from_label(table, table.columns.back()); });
    dataset_try(table, [&] { return dataset_from_label(table, "0"); });
  }

  // The last column read as a text label, as train --label does.
  for (const std::string& label : label_guesses(text)) {
    options.text_column = label;
    fuzz::expect_only_errors(
        [&] {
          const CsvTable labelled = parse_csv(text, source, options);
          table_check(labelled, precision);
          dataset_try(labelled, [&] { return dataset_from_label(labelled, label); });
        },
        {ErrorKind::data}, source, fuzz::Where::line_column);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  table_use(text, Precision::f64);
  table_use(text, Precision::f32);
  return 0;
}
