// CsvTable → Dataset: choose the input and target columns, one-hot encode a label, split off a
// seeded test set.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "data/csv_internal.hpp"
#include "data/file_read.hpp"
#include "data/csv_number.hpp"

namespace bpnn {
namespace {

bool is_index(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string name_quote(const std::string& s) { return "\"" + s + "\""; }

std::string names_join(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  return out;
}

// A column by header name, else by 0-based index.
std::optional<std::size_t> column_find(const CsvTable& t, const std::string& name) {
  if (t.has_header)
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
void columns_check_numeric(const CsvTable& t, const std::vector<std::size_t>& picked) {
  if (!t.text_column) return;
  if (std::find(picked.begin(), picked.end(), *t.text_column) != picked.end())
    throw Error(ErrorKind::data, t.source + ": column " + name_quote(t.columns[*t.text_column]) +
                                     " holds text, not numbers; use it as the label");
}

// x:(rows, picked.size()) ← the table's columns `picked`, row-major.
std::vector<double> columns_gather(const CsvTable& t, const std::vector<std::size_t>& picked) {
  std::vector<double> out(t.rows * picked.size());
  for (std::size_t r = 0; r < t.rows; ++r) {
    const double* row = t.numbers.data() + r * t.cols;
    double* dst = out.data() + r * picked.size();
    for (std::size_t k = 0; k < picked.size(); ++k) dst[k] = row[picked[k]];
  }
  return out;
}

std::vector<std::string> columns_names(const CsvTable& t, const std::vector<std::size_t>& picked) {
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

// "FILE:LINE:COLUMN" of row r's cell in column j. The table keeps lines but not byte columns, so
// the column is found again in the file when the table came from read_csv and the file still
// holds the row; otherwise the column reads 1.
std::string cell_where(const CsvTable& t, std::size_t r, std::size_t j) {
  const std::size_t line = r < t.line_of_row.size() ? t.line_of_row[r] : 0;
  std::pair<std::size_t, std::size_t> where{line, 1};
  try {
    if (line > 0)
      if (auto found = csv_field_position(file_read_all(t.source), line, j)) where = *found;
  } catch (const Error&) {
    // Not a readable file (e.g. text parsed in memory): keep column 1.
  }
  return t.source + ":" + std::to_string(where.first) + ":" + std::to_string(where.second);
}

Dataset dataset_base(const CsvTable& t, const std::vector<std::size_t>& inputs) {
  columns_check_numeric(t, inputs);
  Dataset d;
  d.n = t.rows;
  d.inputs = inputs.size();
  d.x = columns_gather(t, inputs);
  d.input_names = columns_names(t, inputs);
  return d;
}

}  // namespace

Dataset dataset_from_targets(const CsvTable& table, std::size_t outputs) {
  if (outputs == 0) throw Error(ErrorKind::argument, "dataset_from_targets: outputs must be at least 1");
  if (table.cols < outputs + 1)
    throw Error(ErrorKind::data, table.source + ": expected at least " + std::to_string(outputs + 1) +
                                     " columns (inputs, then " + std::to_string(outputs) +
                                     " target columns), the table has " + std::to_string(table.cols));
  std::vector<std::size_t> in, out;
  for (std::size_t j = 0; j < table.cols; ++j) (j < table.cols - outputs ? in : out).push_back(j);
  columns_check_numeric(table, out);
  Dataset d = dataset_base(table, in);
  d.outputs = outputs;
  d.y = columns_gather(table, out);
  d.output_names = columns_names(table, out);
  return d;
}

Dataset dataset_from_label(const CsvTable& table, const std::string& label,
                           const std::vector<std::string>& classes) {
  const auto label_col = column_find(table, label);
  if (!label_col)
    throw Error(ErrorKind::data, table.source + ": no label column " + name_quote(label) + " (columns: " +
                                     names_join(table.columns) + ")");
  if (table.cols < 2)
    throw Error(ErrorKind::data, table.source + ": expected at least 2 columns (inputs and the label " +
                                     name_quote(label) + "), the table has " + std::to_string(table.cols));
  const std::size_t lc = *label_col;
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
      throw Error(ErrorKind::argument, "class " + name_quote(order[k]) + " is listed twice");
  // A fixed list may write a number another way ("1.0" for 1): match those by value.
  std::vector<std::optional<double>> order_values;
  for (const auto& c : order) order_values.push_back(number_of(c));

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
      for (std::size_t c = 0; c < order.size() && !k; ++c)
        if (order_values[c] == *v) k = c;
    if (!k)
      throw Error(ErrorKind::data, cell_where(table, r, lc) + ": unknown class " + name_quote(labels[r]) +
                                       " in column " + name_quote(table.columns[lc]) +
                                       " (expected one of: " + names_join(order) + ")");
    d.y[r * order.size() + *k] = 1.0;
  }
  d.classes = order;
  d.output_names = order;
  return d;
}

Dataset dataset_inputs(const CsvTable& table, const std::vector<std::string>& input_names,
                       std::size_t inputs) {
  if (inputs == 0) throw Error(ErrorKind::argument, "dataset_inputs: inputs must be at least 1");
  if (!input_names.empty() && input_names.size() != inputs)
    throw Error(ErrorKind::argument, "dataset_inputs: " + std::to_string(input_names.size()) +
                                         " input names for " + std::to_string(inputs) + " inputs");
  std::vector<std::size_t> picked;
  if (table.has_header && !input_names.empty()) {
    for (const auto& name : input_names) {
      auto it = std::find(table.columns.begin(), table.columns.end(), name);
      if (it == table.columns.end()) break;
      picked.push_back(static_cast<std::size_t>(it - table.columns.begin()));
    }
    if (picked.size() != inputs) picked.clear();  // not all there: fall back to the first columns
  }
  if (picked.empty()) {
    if (table.cols < inputs)
      throw Error(ErrorKind::data, table.source + ": expected at least " + std::to_string(inputs) +
                                       " input columns, the table has " + std::to_string(table.cols));
    for (std::size_t j = 0; j < inputs; ++j) picked.push_back(j);
  }
  return dataset_base(table, picked);
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

Dataset rows_take(const Dataset& d, const std::vector<std::size_t>& rows) {
  Dataset out;
  out.n = rows.size();
  out.inputs = d.inputs;
  out.outputs = d.outputs;
  out.input_names = d.input_names;
  out.output_names = d.output_names;
  out.classes = d.classes;
  out.x.reserve(rows.size() * d.inputs);
  out.y.reserve(rows.size() * d.outputs);
  for (std::size_t r : rows) {
    out.x.insert(out.x.end(), d.x.begin() + r * d.inputs, d.x.begin() + (r + 1) * d.inputs);
    if (!d.y.empty())
      out.y.insert(out.y.end(), d.y.begin() + r * d.outputs, d.y.begin() + (r + 1) * d.outputs);
  }
  return out;
}

}  // namespace

// n_test = round(n · test_fraction), at least 1 when the fraction is positive and at most n − 1
// (for n ≥ 2), so neither part is empty by rounding. Rows are drawn by a Fisher–Yates shuffle on
// std::mt19937_64(seed) (whose output the standard fixes), and each part keeps the file order.
std::pair<Dataset, Dataset> split_dataset(const Dataset& data, double test_fraction,
                                          std::uint64_t seed) {
  if (!(test_fraction >= 0.0 && test_fraction < 1.0))
    throw Error(ErrorKind::argument, "split_dataset: test_fraction must be in [0, 1), got " +
                                         std::to_string(test_fraction));
  const std::size_t n = data.n;
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
  return {rows_take(data, train), rows_take(data, test)};
}

}  // namespace bpnn
