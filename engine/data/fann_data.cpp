// FANN .data files → DataTable, read as libfann's fann_read_train_from_fd does: a header
// "num_data num_input num_output", then the numbers, whitespace-separated, line breaks not
// significant. Stricter than FANN where FANN would read garbage: every value must be a finite
// number that fits the precision, the file must hold exactly the promised numbers.
//
// Memory: the file's bytes, plus the kept rows' doubles; the header's counts are checked against
// the bytes that follow it (each number takes two bytes at least) before anything is reserved.
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "data/csv_number.hpp"
#include "data/fann_internal.hpp"
#include "data/file_read.hpp"
#include "data/message_quote.hpp"
#include "data/row_range.hpp"
#include "nn/size_check.hpp"

namespace bpnn {
namespace {

// fscanf's white space: line breaks are just more of it.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

struct FannToken {
  std::string_view text;
  std::size_t line;         // 1-based
  const char* line_start;
};

class FannScanner {
 public:
  FannScanner(std::string_view text, const std::string& source)
      : p_(text.data()), end_(text.data() + text.size()), line_start_(text.data()), source_(source) {}

  // The next token, or false at the end of the text. A NUL byte inside one is an error there.
  bool next(FannToken& t) {
    while (p_ < end_ && is_space(*p_)) {
      if (*p_ == '\n') line_start_ = p_ + 1, ++line_;
      ++p_;
    }
    if (p_ == end_) return false;
    const char* start = p_;
    while (p_ < end_ && !is_space(*p_)) {
      if (*p_ == '\0') fail(line_, line_start_, p_, "NUL byte");
      ++p_;
    }
    t = {std::string_view(start, static_cast<std::size_t>(p_ - start)), line_, line_start_};
    return true;
  }

  std::size_t bytes_left() const { return static_cast<std::size_t>(end_ - p_); }

  [[noreturn]] void fail(std::size_t line, const char* line_start, const char* at, const std::string& what) const {
    throw Error(ErrorKind::data, message_path(source_) + ":" + std::to_string(line) + ":" +
                                     std::to_string(at - line_start + 1) + ": " + what);
  }
  [[noreturn]] void fail_at(const FannToken& t, const std::string& what) const {
    fail(t.line, t.line_start, t.text.data(), what);
  }
  [[noreturn]] void fail_at_end(const std::string& what) const { fail(line_, line_start_, p_, what); }

 private:
  const char* p_;
  const char* end_;
  const char* line_start_;
  std::size_t line_ = 1;
  const std::string& source_;
};

// A header count: digits only (fscanf's %u would take "-1" as 4294967295).
std::size_t header_count(const FannScanner& s, const FannToken& t, const char* name) {
  std::size_t v = 0;
  const char* end = t.text.data() + t.text.size();
  auto [ptr, ec] = std::from_chars(t.text.data(), end, v);
  if (ec == std::errc::result_out_of_range)
    s.fail_at(t, std::string("header: ") + name + " " + message_quote(t.text) + " is too large");
  if (ec != std::errc() || ptr != end)
    s.fail_at(t, std::string("header: ") + name + " " + message_quote(t.text) +
                     " is not a whole number (a FANN .data file starts with num_data num_input num_output)");
  return v;
}

double value_parse(const FannScanner& s, const FannToken& t, double limit, Precision precision) {
  double v = 0;
  switch (csv_number_parse(t.text, v)) {
    case CsvNumber::ok:
      if (!(std::fabs(v) < limit))
        s.fail_at(t, "value " + message_quote(t.text) + " is out of range for " + std::string(to_string(precision)));
      return v;
    case CsvNumber::empty:
    case CsvNumber::not_a_number: s.fail_at(t, "value " + message_quote(t.text) + " is not a number");
    case CsvNumber::nan: s.fail_at(t, "NaN is not allowed: " + message_quote(t.text));
    case CsvNumber::infinite: s.fail_at(t, "infinite value is not allowed: " + message_quote(t.text));
    case CsvNumber::overflow: s.fail_at(t, "value " + message_quote(t.text) + " is out of range for a double");
  }
  s.fail_at(t, "unreadable number");
}

}  // namespace

namespace {

// The reader's one pass; with a window, the pages of the rows already read are given back.
DataTable fann_parse(std::string_view text, const std::string& source, const FannOptions& options, FileWindow* window) {
  row_range_check(options.rows, "read_fann_data");
  DataTable t;
  t.source = source;
  t.format = TableFormat::fann;
  FannScanner s(text, t.source);

  FannToken header[3];
  const char* const names[3] = {"num_data", "num_input", "num_output"};
  for (int i = 0; i < 3; ++i)
    if (!s.next(header[i]))
      s.fail_at_end(i == 0 ? "empty file: expected the header num_data num_input num_output"
                           : std::string("header: ") + names[i] + " is missing (a FANN .data file starts with "
                                                                 "num_data num_input num_output)");
  const std::size_t num_data = header_count(s, header[0], names[0]);
  const std::size_t num_input = header_count(s, header[1], names[1]);
  const std::size_t num_output = header_count(s, header[2], names[2]);
  if (num_data == 0) s.fail_at(header[0], "header: num_data is 0, the file holds no rows");
  if (num_input == 0) s.fail_at(header[1], "header: num_input is 0, a row needs an input");
  // Every number takes a byte and is preceded by white space: 2 bytes each at least.
  std::size_t cols = 0, numbers = 0;
  const bool overflow = __builtin_add_overflow(num_input, num_output, &cols) ||
                        __builtin_mul_overflow(num_data, cols, &numbers);
  if (overflow || numbers > s.bytes_left() / 2)
    s.fail_at(header[0], "header: " + std::to_string(num_data) + " rows of " + std::to_string(num_input) + " + " +
                             std::to_string(num_output) + " numbers need " +
                             (overflow ? std::string("more than 2⁶⁴") : std::to_string(numbers)) +
                             " numbers (2 bytes each at least), but only " + std::to_string(s.bytes_left()) +
                             " bytes follow the header");

  const auto [keep_begin, keep_end] = row_range_resolve(options.rows, num_data, t.source);
  t.cols = cols;
  t.target_cols = num_output;
  t.first_row = keep_begin;
  t.file_rows = num_data;
  for (std::size_t j = 0; j < cols; ++j) t.columns.push_back(std::to_string(j));
  t.numbers.reserve((keep_end - keep_begin) * cols);  // ≤ numbers, which the bytes bound
  t.row_origin.reserve(keep_end - keep_begin);

  const double limit = number_magnitude_limit(options.precision);
  FannToken tok;
  for (std::size_t r = 0; r < num_data; ++r) {
    const bool keep = r >= keep_begin && r < keep_end;
    for (std::size_t j = 0; j < cols; ++j) {
      if (!s.next(tok))
        s.fail_at_end("the file ends inside row " + std::to_string(r + 1) + " (after " + std::to_string(j) + " of its " +
                      std::to_string(cols) + " numbers); the header promises " + std::to_string(num_data) +
                      " rows of " + std::to_string(num_input) + " inputs and " + std::to_string(num_output) +
                      " outputs");
      if (!keep) continue;  // counted, not parsed
      if (j == 0) t.row_origin.push_back(tok.line);
      t.numbers.push_back(value_parse(s, tok, limit, options.precision));
    }
    if (keep) ++t.rows;
    if (window) window->release_before(tok.text.data());
  }
  if (s.next(tok))
    s.fail_at(tok, "more numbers than the header's " + std::to_string(num_data) + " rows of " +
                       std::to_string(num_input) + " + " + std::to_string(num_output) +
                       " (fix num_data in the header, or remove what follows)");
  return t;
}

}  // namespace

DataTable parse_fann_data(std::string_view text, const std::string& source, const FannOptions& options) {
  return fann_parse(text, source, options, nullptr);
}

DataTable read_fann_data(const std::string& path, const FannOptions& options) {
  // A range (a shard) is read through a window, so a rank holds its rows, not the whole file.
  if (options.rows)
    if (const auto window = FileWindow::open(path)) return fann_parse(window->text(), path, options, window.get());
  return parse_fann_data(file_read_all(path), path, options);
}

std::optional<std::pair<std::size_t, std::size_t>> fann_token_position(std::string_view text, std::size_t token) {
  const std::string source;
  FannScanner s(text, source);
  FannToken t;
  try {
    for (std::size_t i = 0; s.next(t); ++i)
      if (i == token) return std::pair{t.line, static_cast<std::size_t>(t.text.data() - t.line_start) + 1};
  } catch (const Error&) {
    // A NUL byte before it: the file changed.
  }
  return std::nullopt;
}

}  // namespace bpnn
