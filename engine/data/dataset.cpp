// DataTable (any reader) → Dataset: choose the input and target columns, one-hot encode a label, split off a
// seeded test set. Every error about the file names FILE:LINE:COLUMN (FILE:record N for IDX): the
// cell concerned, or for the table as a whole the header's first field (the first row's without a
// header).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "data/csv_internal.hpp"
#include "data/csv_number.hpp"
#include "data/fann_internal.hpp"
#include "data/file_read.hpp"
#include "data/message_quote.hpp"
#include "nn/size_check.hpp"

namespace bpnn {
namespace {

bool is_index(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A table made by hand (not by parse_csv) whose parts disagree would be read out of bounds.
void table_check(const DataTable& t) {
  const auto fail = [&](const std::string& what) {
    throw Error(ErrorKind::argument, "dataset: inconsistent DataTable from " + message_quote(t.source) + ": " + what);
  };
  std::size_t cells = 0;
  if (__builtin_mul_overflow(t.rows, t.cols, &cells) || t.numbers.size() != cells)
    fail("numbers holds " + std::to_string(t.numbers.size()) + " values for " + std::to_string(t.rows) +
         " rows of " + std::to_string(t.cols) + " columns");
  if (t.columns.size() != t.cols)
    fail(std::to_string(t.columns.size()) + " column names for " + std::to_string(t.cols) + " columns");
  if (t.row_origin.size() != t.rows)
    fail(std::to_string(t.row_origin.size()) + " row origins for " + std::to_string(t.rows) + " rows");
  if (t.text_column && (*t.text_column >= t.cols || t.text.size() != t.rows))
    fail("the text column or its " + std::to_string(t.text.size()) + " cells do not match the table");
}

// The file's bytes when `source` names a regular file (never a pipe or a device, which would block
// or read other bytes); nullopt when it is gone or unreadable. Error paths only.
std::optional<std::string> source_bytes(const std::string& source) {
  std::error_code ec;
  try {
    if (std::filesystem::is_regular_file(source, ec)) return file_read_all(source);
  } catch (const Error&) {
    // Unreadable now.
  }
  return std::nullopt;
}

// "FILE:LINE:COLUMN" of field j of the CSV record that starts on `line`. The table keeps lines but
// not byte columns, so the column is found again in the file when it still holds the record;
// otherwise the column reads 1.
std::string where_csv(const DataTable& t, std::size_t line, std::size_t j) {
  std::pair<std::size_t, std::size_t> at{line, 1};
  if (line > 0)
    if (const auto bytes = source_bytes(t.source))
      if (auto found = csv_field_position(*bytes, line, j)) at = *found;
  return message_path(t.source) + ":" + std::to_string(at.first) + ":" + std::to_string(at.second);
}

// "FILE:LINE:COLUMN" of value j of row r (nullopt: the first value after the header) of a FANN
// file: its token is found again by counting (three header numbers, then cols per row); when the
// file no longer holds it, the row's first line and column 1.
std::string where_fann(const DataTable& t, std::optional<std::size_t> r, std::size_t j) {
  std::pair<std::size_t, std::size_t> at{r ? t.row_origin[*r] : 1, 1};
  std::size_t token = 0;
  const bool countable = !__builtin_mul_overflow(t.first_row + r.value_or(0), t.cols, &token) &&
                         !__builtin_add_overflow(token, 3 + (r ? j : 0), &token);
  if (countable)
    if (const auto bytes = source_bytes(t.source))
      if (auto found = fann_token_position(*bytes, token)) at = *found;
  return message_path(t.source) + ":" + std::to_string(at.first) + ":" + std::to_string(at.second);
}

// The IDX file holding column j: the labels file for the label column.
const std::string& idx_file(const DataTable& t, std::size_t j) {
  return t.text_column && j == *t.text_column && !t.text_source.empty() ? t.text_source : t.source;
}

// The first data row's line (1 for a table without rows).
std::size_t first_row_line(const DataTable& t) { return t.row_origin.empty() ? 1 : t.row_origin[0]; }

// Column j's header cell, or its first-row cell without a header; for IDX, the file holding it.
std::string where_column(const DataTable& t, std::size_t j) {
  switch (t.format) {
    case TableFormat::csv:
      return where_csv(t, t.has_header ? std::max<std::size_t>(t.header_line, 1) : first_row_line(t), j);
    case TableFormat::fann:
      return t.rows ? where_fann(t, 0, j) : where_fann(t, std::nullopt, 0);
    case TableFormat::idx:
      return message_path(idx_file(t, j));
  }
  return message_path(t.source);
}

// The table as a whole: the first field of the header (of the first row without one).
std::string where_table(const DataTable& t) { return where_column(t, 0); }

// Row r's cell in column j.
std::string where_cell(const DataTable& t, std::size_t r, std::size_t j) {
  switch (t.format) {
    case TableFormat::csv: return where_csv(t, t.row_origin[r], j);
    case TableFormat::fann: return where_fann(t, r, j);
    case TableFormat::idx: return message_path(idx_file(t, j)) + ":record " + std::to_string(t.row_origin[r]);
  }
  return message_path(t.source);
}

// A column by header name, else by 0-based index.
std::optional<std::size_t> column_find(const DataTable& t, const std::string& name) {
  if (t.has_header || t.format == TableFormat::idx)  // IDX names its label column "label"
    for (std::size_t j = 0; j < t.columns.size(); ++j)
      if (t.columns[j] == name) return j;
  if (is_index(name)) {
    std::size_t j = 0;
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), j);
    if (ec == std::errc() && j < t.cols) return j;
  }
  return std::nullopt;
}

// Columns `picked` must all hold numbers.
void columns_check_numeric(const DataTable& t, const std::vector<std::size_t>& picked) {
  if (!t.text_column) return;
  if (std::find(picked.begin(), picked.end(), *t.text_column) != picked.end())
    throw Error(ErrorKind::data, where_column(t, *t.text_column) + ": column " +
                                     message_quote(t.columns[*t.text_column]) +
                                     " holds text, not numbers; use it as the label");
}

// Names that go into a model must each say which column they are: with a header, refuse a name
// that two of the columns `picked` (ascending) share, at the second one's header cell.
void columns_check_unique(const DataTable& t, const std::vector<std::size_t>& picked) {
  if (!t.has_header) return;
  std::unordered_map<std::string_view, std::size_t> seen;
  for (std::size_t j : picked) {
    auto [it, fresh] = seen.emplace(t.columns[j], j);
    if (!fresh)
      throw Error(ErrorKind::data, where_column(t, j) + ": column name " + message_quote(t.columns[j]) +
                                       " appears twice in the header (fields " + std::to_string(it->second + 1) +
                                       " and " + std::to_string(j + 1) + "); the names must be unique");
  }
}

// x:(rows, picked.size()) ← the table's columns `picked`, row-major.
std::vector<double> columns_gather(const DataTable& t, const std::vector<std::size_t>& picked) {
  std::vector<double> out(checked_mul(t.rows, picked.size(), "dataset cells"));
  for (std::size_t r = 0; r < t.rows; ++r) {
    const double* row = t.numbers.data() + r * t.cols;
    double* dst = out.data() + r * picked.size();
    for (std::size_t k = 0; k < picked.size(); ++k) dst[k] = row[picked[k]];
  }
  return out;
}

std::vector<std::string> columns_names(const DataTable& t, const std::vector<std::size_t>& picked) {
  std::vector<std::string> out;
  for (std::size_t j : picked) out.push_back(t.columns[j]);
  return out;
}

// Shortest text that reads back as the same double: 1 → "1", 0.5 → "0.5".
std::string number_format(double v) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ptr);
}

std::optional<double> number_of(const std::string& s) {
  double v;
  if (csv_number_parse(s, v) == CsvNumber::ok) return v;
  return std::nullopt;
}

// Sorted numerically when every class is a number (ties by text), else by bytes.
void classes_sort(std::vector<std::string>& classes) {
  std::vector<std::pair<double, std::string>> numeric;
  for (const auto& c : classes) {
    auto v = number_of(c);
    if (!v) {
      std::sort(classes.begin(), classes.end());
      return;
    }
    numeric.emplace_back(*v, c);
  }
  std::sort(numeric.begin(), numeric.end());
  for (std::size_t i = 0; i < classes.size(); ++i) classes[i] = numeric[i].second;
}

Dataset dataset_base(const DataTable& t, const std::vector<std::size_t>& inputs) {
  columns_check_numeric(t, inputs);
  Dataset d;
  d.n = t.rows;
  d.inputs = inputs.size();
  d.x = columns_gather(t, inputs);
  d.input_names = columns_names(t, inputs);
  return d;
}

}  // namespace

std::string data_table_where(const DataTable& table) {
  table_check(table);
  return where_table(table);
}

Dataset dataset_from_targets(const DataTable& table, std::size_t outputs) {
  if (outputs == 0) throw Error(ErrorKind::argument, "dataset_from_targets: outputs must be at least 1");
  table_check(table);
  if (table.cols <= outputs)
    throw Error(ErrorKind::data, where_table(table) + ": expected at least " +
                                     std::to_string(checked_add(outputs, 1, "dataset_from_targets")) +
                                     " columns (inputs, then " + std::to_string(outputs) +
                                     " target columns), the table has " + std::to_string(table.cols));
  std::vector<std::size_t> in, out, all;
  for (std::size_t j = 0; j < table.cols; ++j) {
    (j < table.cols - outputs ? in : out).push_back(j);
    all.push_back(j);
  }
  columns_check_unique(table, all);
  columns_check_numeric(table, out);
  Dataset d = dataset_base(table, in);
  d.outputs = outputs;
  d.y = columns_gather(table, out);
  d.output_names = columns_names(table, out);
  return d;
}

Dataset dataset_from_label(const DataTable& table, const std::string& label,
                           const std::vector<std::string>& classes) {
  table_check(table);
  const auto label_col = column_find(table, label);
  if (!label_col)
    throw Error(ErrorKind::data, where_table(table) + ": no label column " + message_quote(label) +
                                     " (columns: " + message_list(table.columns) + ")");
  if (table.cols < 2)
    throw Error(ErrorKind::data, where_table(table) + ": expected at least 2 columns (inputs and the label " +
                                     message_quote(label) + "), the table has " + std::to_string(table.cols));
  const std::size_t lc = *label_col;
  std::vector<std::size_t> all(table.cols);
  for (std::size_t j = 0; j < table.cols; ++j) all[j] = j;
  columns_check_unique(table, all);
  const bool is_text = table.text_column && *table.text_column == lc;

  // Each row's label as text: the text cell, or the number written back shortest.
  std::vector<std::string> labels(table.rows);
  for (std::size_t r = 0; r < table.rows; ++r)
    labels[r] = is_text ? table.text[r] : number_format(table.numbers[r * table.cols + lc]);

  std::vector<std::string> order = classes;
  if (order.empty()) {
    order = labels;
    std::sort(order.begin(), order.end());
    order.erase(std::unique(order.begin(), order.end()), order.end());
    classes_sort(order);
  }
  std::map<std::string, std::size_t> index;
  for (std::size_t k = 0; k < order.size(); ++k)
    if (!index.emplace(order[k], k).second)
      throw Error(ErrorKind::argument, "class " + message_quote(order[k]) + " is listed twice");
  // A fixed list may write a number another way ("1.0" for 1): match those by value (the first
  // class of each value; −0 and 0 are one value).
  std::map<double, std::size_t> value_index;
  for (std::size_t k = 0; k < order.size(); ++k)
    if (auto v = number_of(order[k])) value_index.emplace(*v, k);

  // rows × classes one-hot targets: refused before allocating when they exceed this machine's
  // memory (n distinct labels in n rows would ask for n² of them).
  const std::size_t y_bytes = checked_mul(checked_mul(table.rows, order.size(), "one-hot targets"),
                                          sizeof(double), "one-hot targets");
  if (const std::size_t memory = physical_memory_bytes(); y_bytes > memory)
    throw Error(ErrorKind::data, where_column(table, lc) + ": the label column " +
                                     message_quote(table.columns[lc]) + " has " + std::to_string(order.size()) +
                                     " classes: one-hot targets for " + std::to_string(table.rows) +
                                     " rows need " + std::to_string(y_bytes) + " bytes (" + format_bytes(y_bytes) +
                                     "), more than this machine's " + std::to_string(memory) + " bytes (" +
                                     format_bytes(memory) + ") of memory");

  std::vector<std::size_t> in;
  for (std::size_t j = 0; j < table.cols; ++j)
    if (j != lc) in.push_back(j);
  Dataset d = dataset_base(table, in);
  d.outputs = order.size();
  d.y.assign(table.rows * order.size(), 0.0);
  for (std::size_t r = 0; r < table.rows; ++r) {
    auto it = index.find(labels[r]);
    std::optional<std::size_t> k;
    if (it != index.end()) k = it->second;
    else if (auto v = number_of(labels[r]))
      if (auto found = value_index.find(*v); found != value_index.end()) k = found->second;
    if (!k)
      throw Error(ErrorKind::data, where_cell(table, r, lc) + ": unknown class " + message_quote(labels[r]) +
                                       " in column " + message_quote(table.columns[lc]) +
                                       " (expected one of: " + message_list(order) + ")");
    d.y[r * order.size() + *k] = 1.0;
  }
  d.classes = order;
  d.output_names = order;
  return d;
}

Dataset dataset_inputs(const DataTable& table, const std::vector<std::string>& input_names,
                       std::size_t inputs) {
  if (inputs == 0) throw Error(ErrorKind::argument, "dataset_inputs: inputs must be at least 1");
  if (!input_names.empty() && input_names.size() != inputs)
    throw Error(ErrorKind::argument, "dataset_inputs: " + std::to_string(input_names.size()) +
                                         " input names for " + std::to_string(inputs) + " inputs");
  table_check(table);
  std::vector<std::size_t> picked;
  if (table.has_header && !input_names.empty()) {
    // Each header name's first column, and its second when it has one: a model input found twice
    // is ambiguous.
    std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>> columns_by_name;
    for (std::size_t j = 0; j < table.cols; ++j) {
      auto [it, fresh] = columns_by_name.emplace(table.columns[j], std::pair{j, table.cols});
      if (!fresh && it->second.second == table.cols) it->second.second = j;
    }
    for (const auto& name : input_names) {
      auto it = columns_by_name.find(name);
      if (it == columns_by_name.end()) break;
      const auto [first, second] = it->second;
      if (second != table.cols)
        throw Error(ErrorKind::data, where_column(table, second) + ": column name " + message_quote(name) +
                                         " appears twice in the header (fields " + std::to_string(first + 1) +
                                         " and " + std::to_string(second + 1) + "), so the input is ambiguous");
      picked.push_back(first);
    }
    if (picked.size() != inputs) picked.clear();  // not all there: fall back to the first columns
  }
  if (picked.empty()) {
    if (table.cols < inputs)
      throw Error(ErrorKind::data, where_table(table) + ": expected at least " + std::to_string(inputs) +
                                       " input columns, the table has " + std::to_string(table.cols));
    for (std::size_t j = 0; j < inputs; ++j) picked.push_back(j);
  }
  return dataset_base(table, picked);
}

Dataset dataset_columns(const DataTable& table, const std::vector<std::size_t>& columns) {
  table_check(table);
  for (std::size_t c : columns)
    if (c >= table.cols)
      throw Error(ErrorKind::argument, "dataset_columns: column " + std::to_string(c) + " of a table of " +
                                           std::to_string(table.cols));
  return dataset_base(table, columns);
}

Dataset dataset_targets(const DataTable& table, const std::vector<std::string>& output_names,
                        std::size_t outputs) {
  if (outputs == 0) throw Error(ErrorKind::argument, "dataset_targets: outputs must be at least 1");
  table_check(table);
  bool by_name = table.has_header && output_names.size() == outputs;
  for (std::size_t i = 0; by_name && i < output_names.size(); ++i)
    by_name = std::find(table.columns.begin(), table.columns.end(), output_names[i]) != table.columns.end();
  Dataset d;
  if (by_name) {
    d = dataset_inputs(table, output_names, outputs);  // the same lookup by name
  } else {
    if (table.cols < outputs)
      throw Error(ErrorKind::data, where_table(table) + ": expected at least " + std::to_string(outputs) +
                                       " target columns, the table has " + std::to_string(table.cols));
    std::vector<std::size_t> picked;
    for (std::size_t j = table.cols - outputs; j < table.cols; ++j) picked.push_back(j);
    d = dataset_base(table, picked);
  }
  d.y = std::move(d.x);
  d.x.clear();
  d.outputs = d.inputs;
  d.inputs = 0;
  d.output_names = std::move(d.input_names);
  d.input_names.clear();
  return d;
}

namespace {

// Uniform in [0, bound) from a 64-bit generator, unbiased: draws below 2^64 mod bound are
// redrawn so every residue has the same number of preimages.
std::uint64_t rng_bounded(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

}  // namespace

Dataset dataset_rows(const Dataset& d, const std::vector<std::size_t>& rows) {
  Dataset out;
  out.n = rows.size();
  out.inputs = d.inputs;
  out.outputs = d.outputs;
  out.input_names = d.input_names;
  out.output_names = d.output_names;
  out.classes = d.classes;
  out.x.reserve(checked_mul(rows.size(), d.inputs, "dataset inputs"));
  out.y.reserve(checked_mul(rows.size(), d.outputs, "dataset targets"));
  for (std::size_t r : rows) {
    if (r >= d.n)
      throw Error(ErrorKind::argument, "dataset_rows: row " + std::to_string(r) + " of a data set of " +
                                           std::to_string(d.n) + " rows");
    out.x.insert(out.x.end(), d.x.begin() + r * d.inputs, d.x.begin() + (r + 1) * d.inputs);
    if (!d.y.empty())
      out.y.insert(out.y.end(), d.y.begin() + r * d.outputs, d.y.begin() + (r + 1) * d.outputs);
  }
  return out;
}

// n_test = round(n · test_fraction), at least 1 when the fraction is positive and at most n − 1
// (for n ≥ 2), so neither part is empty by rounding. Rows are drawn by a Fisher–Yates shuffle on
// std::mt19937_64(seed) (whose output the standard fixes), and each part keeps the file order.
RowSplit split_rows(std::size_t n, double test_fraction, std::uint64_t seed) {
  if (!(test_fraction >= 0.0 && test_fraction < 1.0))
    throw Error(ErrorKind::argument, "split_dataset: test_fraction must be in [0, 1), got " +
                                         std::to_string(test_fraction));
  std::size_t n_test = static_cast<std::size_t>(std::floor(static_cast<double>(n) * test_fraction + 0.5));
  if (n >= 2) n_test = std::clamp<std::size_t>(n_test, test_fraction > 0.0 ? 1 : 0, n - 1);
  else n_test = 0;

  std::vector<std::size_t> perm(n);
  for (std::size_t i = 0; i < n; ++i) perm[i] = i;
  std::mt19937_64 rng(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[rng_bounded(rng, i)]);

  std::vector<std::size_t> test(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(n_test));
  std::vector<std::size_t> train(perm.begin() + static_cast<std::ptrdiff_t>(n_test), perm.end());
  std::sort(test.begin(), test.end());
  std::sort(train.begin(), train.end());
  return {std::move(train), std::move(test)};
}

std::pair<Dataset, Dataset> split_dataset(const Dataset& data, double test_fraction,
                                          std::uint64_t seed) {
  const RowSplit split = split_rows(data.n, test_fraction, seed);
  return {dataset_rows(data, split.train), dataset_rows(data, split.test)};
}

std::vector<std::size_t> target_classes(const double* targets, std::size_t n, std::size_t k) {
  std::vector<std::size_t> cls(n);
  for (std::size_t r = 0; r < n; ++r) {
    const double* y = targets + r * k;
    if (k == 1) {
      if (y[0] != 0.0 && y[0] != 1.0) return {};
      cls[r] = y[0] == 1.0;
      continue;
    }
    std::size_t ones = 0, at = 0;
    for (std::size_t j = 0; j < k; ++j) {
      if (y[j] != 0.0 && y[j] != 1.0) return {};
      if (y[j] == 1.0) ones++, at = j;
    }
    if (ones != 1) return {};
    cls[r] = at;
  }
  return cls;
}

RowSplit split_rows_by_class(const std::vector<std::size_t>& cls, std::size_t n, double test_fraction,
                             std::uint64_t seed) {
  if (!(test_fraction >= 0.0 && test_fraction < 1.0))
    throw Error(ErrorKind::argument, "split: the fraction must be in [0, 1), got " +
                                         std::to_string(test_fraction));
  if (cls.empty() || n < 2) return split_rows(n, test_fraction, seed);
  if (cls.size() != n)
    throw Error(ErrorKind::argument, "split: " + std::to_string(cls.size()) + " classes for " + std::to_string(n) +
                                         " rows");
  const std::size_t n_classes = *std::max_element(cls.begin(), cls.end()) + 1;
  std::vector<std::vector<std::size_t>> members(n_classes);
  for (std::size_t r = 0; r < n; ++r) members[cls[r]].push_back(r);
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> train, test;
  for (auto& rows : members) {  // classes in order, each shuffled by the one generator
    const std::size_t m = rows.size();
    for (std::size_t i = m; i > 1; --i) std::swap(rows[i - 1], rows[rng_bounded(rng, i)]);
    const auto n_test = static_cast<std::size_t>(std::floor(static_cast<double>(m) * test_fraction + 0.5));
    test.insert(test.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(std::min(n_test, m)));
    train.insert(train.end(), rows.begin() + static_cast<std::ptrdiff_t>(std::min(n_test, m)), rows.end());
  }
  if (train.empty() || (test.empty() && test_fraction > 0.0)) return split_rows(n, test_fraction, seed);
  std::sort(test.begin(), test.end());
  std::sort(train.begin(), train.end());
  return {std::move(train), std::move(test)};
}

RowSplit split_rows_stratified(const double* y, std::size_t n, std::size_t outputs,
                               double test_fraction, std::uint64_t seed) {
  if (!(test_fraction >= 0.0 && test_fraction < 1.0))
    throw Error(ErrorKind::argument, "split: the fraction must be in [0, 1), got " +
                                         std::to_string(test_fraction));
  return split_rows_by_class(target_classes(y, n, outputs), n, test_fraction, seed);
}

std::pair<Dataset, Dataset> split_dataset_stratified(const Dataset& data, double test_fraction,
                                                     std::uint64_t seed) {
  if (!(test_fraction >= 0.0 && test_fraction < 1.0))
    throw Error(ErrorKind::argument, "split: the fraction must be in [0, 1), got " +
                                         std::to_string(test_fraction));
  const RowSplit split = split_rows_stratified(data.y.data(), data.n, data.outputs, test_fraction, seed);
  return {dataset_rows(data, split.train), dataset_rows(data, split.test)};
}

}  // namespace bpnn
