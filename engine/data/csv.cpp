// CSV files → DataTable: one pass over the bytes, RFC 4180 quoting, numbers by std::from_chars.
//
// Grammar accepted (bytes):
//   file   = [BOM] { blank-line | record } ;  blank-line = {' ' | '\t'} ("\n" | "\r\n")
//   record = field { ',' field } ("\n" | "\r\n" | end of text)
//   field  = {' '|'\t'} '"' { any byte but '"' | '""' } '"' {' '|'\t'}   (quoted)
//          | { any byte but ',' '\n' '\r' '"' }                         (unquoted)
// NUL bytes are rejected anywhere. Numeric cells go straight from the bytes into the table;
// only header names and text-column cells become std::strings, and those must be valid UTF-8
// (they end up in JSON: model metadata, class names).
//
// Memory: the file's bytes, plus at most one double per two bytes of the file for the cells (a
// row of c fields takes 2c bytes at least), reserved once from an upper bound of the rows.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <system_error>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"
#include "data/csv_internal.hpp"
#include "data/csv_number.hpp"
#include "data/file_read.hpp"
#include "data/message_quote.hpp"
#include "data/row_range.hpp"
#include "data/utf8.hpp"
#include "nn/size_check.hpp"

namespace bpnn {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_delimiter(char c) { return c == ',' || c == '\n' || c == '\r'; }

bool is_index(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A field as found in the text; nothing is copied.
struct CsvField {
  const char* start;          // first byte after leading blanks (the opening quote if quoted)
  std::size_t line;           // 1-based line of `start`
  const char* line_start;     // first byte of that line
  std::string_view content;   // unquoted: the raw bytes; quoted: between the quotes, "" kept
  bool quoted = false;
  bool escaped = false;       // quoted and holding at least one ""
};

// A record read whole (the first two rows, needed to detect a header).
struct CsvRecord {
  std::vector<CsvField> fields;                // the first ones (see record_read's `keep`)
  std::size_t count;                           // how many the record holds
  std::size_t line;                            // where the record starts
  const char* end;                             // the line end (or end of text) after it
  std::size_t end_line;
  const char* end_line_start;
};

class CsvParser {
 public:
  CsvParser(std::string_view text, const std::string& source, Precision precision = Precision::f64)
      : begin_(text.data()), end_(text.data() + text.size()), p_(begin_), line_start_(begin_),
        source_(source), precision_(precision), magnitude_limit_(number_magnitude_limit(precision)) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") p_ += 3;  // UTF-8 byte order mark (Excel)
  }

  std::size_t line() const { return line_; }
  const char* begin() const { return begin_; }
  const char* end() const { return end_; }
  const char* pos() const { return p_; }
  Precision precision() const { return precision_; }
  // |v| < this fits the target precision.
  double limit() const { return magnitude_limit_; }

  // "SOURCE:LINE:COLUMN: what", the column counted in bytes from the line's first byte.
  [[noreturn]] void fail(std::size_t line, const char* line_start, const char* at,
                         const std::string& what) const {
    throw Error(ErrorKind::data, message_path(source_) + ":" + std::to_string(line) + ":" +
                                     std::to_string(at - line_start + 1) + ": " + what);
  }
  [[noreturn]] void fail_at(const CsvField& f, const std::string& what) const {
    fail(f.line, f.line_start, f.start, what);
  }

  // Skips blank lines; false at the end of the text, else p_ is at a record's first byte.
  bool record_begin() {
    for (;;) {
      const char* q = p_;
      while (q < end_ && is_blank(*q)) ++q;
      if (q == end_) { p_ = end_; return false; }
      if (*q == '\n') { newline(q + 1); continue; }
      if (*q == '\r' && q + 1 < end_ && q[1] == '\n') { newline(q + 2); continue; }
      return true;
    }
  }

  // Reads one field of any kind; p_ ends on a delimiter or the end of the text.
  CsvField field_read() {
    const char* q = p_;
    while (q < end_ && is_blank(*q)) ++q;
    CsvField f{q, line_, line_start_, {}, false, false};
    if (q < end_ && *q == '"') {
      const char* open = q++;
      const char* content = q;
      for (;;) {
        if (q == end_) fail(f.line, f.line_start, open, "unterminated quote: no closing '\"' before the end of the file");
        const char c = *q;
        if (c == '"') {
          if (q + 1 < end_ && q[1] == '"') { f.escaped = true; q += 2; continue; }
          break;
        }
        if (c == '\n') newline_inside(q + 1);
        else if (c == '\0') fail(line_, line_start_, q, "NUL byte");
        ++q;
      }
      f.content = std::string_view(content, q - content);
      f.quoted = true;
      ++q;
      while (q < end_ && is_blank(*q)) ++q;
      if (q < end_ && !is_delimiter(*q))
        fail(line_, line_start_, q, "unexpected character after a closing quote");
    } else {
      for (; q < end_; ++q) {
        const char c = *q;
        if (is_delimiter(c)) break;
        if (c == '"') fail(line_, line_start_, q, "quote inside an unquoted field (quote the whole field)");
        if (c == '\0') fail(line_, line_start_, q, "NUL byte");
      }
      f.content = std::string_view(p_, q - p_);
    }
    p_ = q;
    return f;
  }

  // The common case, a plain finite number followed by a delimiter: parsed in place. Returns false
  // and leaves p_ alone for anything else (the caller then reads the field the general way).
  bool field_number_fast(double& value) {
    const char* q = p_;
    while (q < end_ && is_blank(*q)) ++q;
    if (q + 1 < end_ && *q == '+' && q[1] != '-') ++q;
    // Integers of up to 15 digits (pixels, counts, labels) are exact doubles: add them up here,
    // which is several times faster than std::from_chars.
    {
      const char* d = q + (q < end_ && *q == '-');
      const char* digits = d;
      std::uint64_t n = 0;
      while (d < end_ && d - digits < 16 && static_cast<unsigned char>(*d - '0') < 10) n = n * 10 + (*d++ - '0');
      if (d > digits && d - digits < 16 && (d == end_ || is_delimiter(*d))) {
        value = static_cast<double>(n);
        if (digits != q) value = -value;
        p_ = d;
        return true;
      }
    }
    // Integers of 15 digits fit every precision; anything else must stay below the limit (which
    // also turns NaN and infinities away to the general path and its messages).
    auto [ptr, ec] = std::from_chars(q, end_, value);
    if (ec != std::errc() || !(std::fabs(value) < magnitude_limit_)) return false;
    while (ptr < end_ && is_blank(*ptr)) ++ptr;
    if (ptr < end_ && !is_delimiter(*ptr)) return false;
    p_ = ptr;
    return true;
  }

  // After a field: true when a ',' leads to another field of the same record; false when the
  // record ended (the line end is consumed). record_end() then tells where it ended.
  bool field_next() {
    last_end_ = p_;
    last_end_line_ = line_;
    last_end_line_start_ = line_start_;
    if (p_ == end_) return false;
    if (*p_ == ',') { ++p_; return true; }
    if (*p_ == '\n') { newline(p_ + 1); return false; }
    if (p_ + 1 < end_ && p_[1] == '\n') { newline(p_ + 2); return false; }
    fail(line_, line_start_, p_, "carriage return not followed by a line feed");
  }

  // Keeps the first `keep` fields and counts the rest, so a ragged row is not held whole.
  CsvRecord record_read(std::size_t keep = std::numeric_limits<std::size_t>::max()) {
    CsvRecord r{{}, 0, line_, nullptr, 0, nullptr};
    do {
      const CsvField f = field_read();
      if (r.fields.size() < keep) r.fields.push_back(f);
      ++r.count;
    } while (field_next());
    r.end = last_end_;
    r.end_line = last_end_line_;
    r.end_line_start = last_end_line_start_;
    return r;
  }

  // p_ is at the first extra field of a row that should have `expected` fields: count the rest
  // and fail there.
  [[noreturn]] void fail_too_many(std::size_t expected) {
    const char* at = p_;
    std::size_t line = line_;
    const char* line_start = line_start_;
    std::size_t got = expected;
    do { field_read(); ++got; } while (field_next());
    fail(line, line_start, at, ragged(expected, got));
  }
  [[noreturn]] void fail_too_few(std::size_t expected, std::size_t got) const {
    fail(last_end_line_, last_end_line_start_, last_end_, ragged(expected, got));
  }

  static std::string ragged(std::size_t expected, std::size_t got) {
    return "expected " + std::to_string(expected) + " fields, got " + std::to_string(got);
  }

 private:
  void newline(const char* next) {
    p_ = next;
    ++line_;
    line_start_ = next;
  }
  void newline_inside(const char* next) {  // a line break inside a quoted field
    ++line_;
    line_start_ = next;
  }

  const char* begin_;
  const char* end_;
  const char* p_;
  std::size_t line_ = 1;
  const char* line_start_;
  const char* last_end_ = nullptr;
  std::size_t last_end_line_ = 1;
  const char* last_end_line_start_ = nullptr;
  const std::string& source_;
  Precision precision_;
  double magnitude_limit_;
};

// The field's text: "" escapes undone when quoted, surrounding blanks trimmed when not.
std::string field_text(const CsvField& f) {
  std::string_view s = f.content;
  if (!f.quoted) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return std::string(s);
  }
  if (!f.escaped) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (s[i] == '"') ++i;  // "" → "
  }
  return out;
}

bool field_is_number(const CsvField& f) {
  if (f.escaped) return false;
  double v;
  CsvNumber r = csv_number_parse(f.content, v);
  return r != CsvNumber::empty && r != CsvNumber::not_a_number;
}

double field_number(const CsvParser& p, const CsvField& f) {
  double v = 0;
  CsvNumber r = f.escaped ? CsvNumber::not_a_number : csv_number_parse(f.content, v);
  switch (r) {
    case CsvNumber::ok:
      if (!(std::fabs(v) < p.limit()))
        p.fail_at(f, "value " + message_quote(field_text(f)) + " is out of range for " +
                         std::string(to_string(p.precision())));
      return v;
    case CsvNumber::empty: p.fail_at(f, "empty field where a number was expected");
    case CsvNumber::not_a_number: p.fail_at(f, "field " + message_quote(field_text(f)) + " is not a number");
    case CsvNumber::nan: p.fail_at(f, "NaN is not allowed: " + message_quote(field_text(f)));
    case CsvNumber::infinite: p.fail_at(f, "infinite value is not allowed: " + message_quote(field_text(f)));
    case CsvNumber::overflow:
      p.fail_at(f, "value " + message_quote(field_text(f)) + " is out of range for a double");
  }
  p.fail_at(f, "unreadable number");
}

// Refuses a field whose bytes are not UTF-8, at the first bad byte. `what` names the field.
void field_check_utf8(const CsvParser& p, const CsvField& f, const char* what) {
  const std::size_t bad = utf8_invalid_offset(f.content);
  if (bad == std::string_view::npos) return;
  // The content starts on the field's line (after blanks or the opening quote); a quoted field may
  // break lines before the bad byte.
  std::size_t line = f.line;
  const char* line_start = f.line_start;
  const char* at = f.content.data() + bad;
  for (const char* q = f.content.data(); q < at; ++q)
    if (*q == '\n') ++line, line_start = q + 1;
  p.fail(line, line_start, at, std::string(what) + " " + message_quote(field_text(f)) + " is not valid UTF-8");
}

// A text-column cell: non-empty, valid UTF-8.
std::string field_text_cell(const CsvParser& p, const CsvField& f) {
  std::string s = field_text(f);
  if (s.empty()) p.fail_at(f, "empty field in the text column");
  field_check_utf8(p, f, "text column cell");
  return s;
}

// The first row is a header when (a) the text column is named and the row holds that name, or
// (b) with a second row: some field is not a number where the second row's field is one, or
// (c) with one row only: some field (the text column's aside) is not a number.
bool header_detect(const CsvRecord& first, const CsvRecord* second, const CsvOptions& options) {
  const auto& name = options.text_column;
  if (name && !is_index(*name))
    for (const auto& f : first.fields)
      if (field_text(f) == *name) return true;
  if (second) {
    const std::size_t n = std::min(first.fields.size(), second->fields.size());
    for (std::size_t j = 0; j < n; ++j)
      if (!field_is_number(first.fields[j]) && field_is_number(second->fields[j])) return true;
    return false;
  }
  for (std::size_t j = 0; j < first.fields.size(); ++j) {
    if (name && is_index(*name) && *name == std::to_string(j)) continue;
    if (!field_is_number(first.fields[j])) return true;
  }
  return false;
}

// The text column named by `name`; an error at the first record's first field (the header, or the
// first row) when there is none.
std::size_t text_column_resolve(const DataTable& t, const std::string& name, const CsvParser& p,
                                const CsvRecord& first) {
  const CsvField& at = first.fields[0];
  for (std::size_t j = 0; t.has_header && j < t.columns.size(); ++j)
    if (t.columns[j] == name) return j;
  if (is_index(name)) {
    std::size_t j = 0;
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), j);
    if (ec == std::errc() && j < t.cols) return j;
    p.fail_at(at, "text column " + message_quote(name) + " is out of range: the file has " +
                      std::to_string(t.cols) + " columns");
  }
  p.fail_at(at, "no column named " + message_quote(name) +
                    (t.has_header ? " in the header" : " (the file has no header row)"));
}

// A record held whole must have the table's field count.
void record_check_count(const DataTable& t, const CsvParser& p, const CsvRecord& r) {
  if (r.count > t.cols) {
    const CsvField& extra = r.fields[t.cols];
    p.fail_at(extra, CsvParser::ragged(t.cols, r.count));
  }
  if (r.count < t.cols)
    p.fail(r.end_line, r.end_line_start, r.end, CsvParser::ragged(t.cols, r.count));
}

// A record held whole → one table row.
void row_append(DataTable& t, const CsvParser& p, const CsvRecord& r) {
  record_check_count(t, p, r);
  for (std::size_t j = 0; j < t.cols; ++j) {
    if (t.text_column && j == *t.text_column) {
      t.text.push_back(field_text_cell(p, r.fields[j]));
      t.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
    } else {
      t.numbers.push_back(field_number(p, r.fields[j]));
    }
  }
  t.row_origin.push_back(r.line);
  ++t.rows;
}

// An upper bound of the records left in `rest`, to reserve for: each record starts a line that
// is not empty, and each holds `cols` fields of one byte or more with a comma between two and a
// line end after all but the last, so r records take r·2·cols − 1 bytes at least.
// (`lines`: false skips the pass over the lines, which would bring every page of a file read
// through a window into memory at once; the bound by bytes alone remains.)
std::size_t records_bound(std::string_view rest, std::size_t cols, bool lines_too = true) {
  const std::size_t by_bytes = checked_add(rest.size(), 1, "CSV size") / checked_mul(cols, 2, "CSV columns");
  if (!lines_too) return by_bytes;
  const auto starts_record = [&](std::size_t i) {
    return i < rest.size() && rest[i] != '\n' && !(rest[i] == '\r' && i + 1 < rest.size() && rest[i + 1] == '\n');
  };
  std::size_t lines = starts_record(0) ? 1 : 0;
  for (std::size_t i = rest.find('\n'); i != std::string_view::npos; i = rest.find('\n', i + 1))
    lines += starts_record(i + 1);
  return std::min(lines, by_bytes);
}

}  // namespace

namespace {

// The parser's one pass; with a window, the pages of the records already read are given back.
DataTable csv_parse(std::string_view text, const std::string& source, const CsvOptions& options, FileWindow* window) {
  row_range_check(options.rows, "read_csv");
  DataTable t;
  t.source = source;
  t.format = TableFormat::csv;
  CsvParser p(text, t.source, options.precision);
  if (!p.record_begin()) p.fail(1, p.begin(), p.begin(), "empty file: no rows");
  const CsvRecord first = p.record_read();
  std::optional<CsvRecord> second;
  // The second row needs no more fields than the first (plus one, to point at the first extra).
  if (p.record_begin()) second = p.record_read(first.fields.size() + 1);

  t.cols = first.fields.size();
  t.has_header = header_detect(first, second ? &*second : nullptr, options);
  if (t.has_header) t.header_line = first.line;
  t.columns.reserve(t.cols);
  for (std::size_t j = 0; j < t.cols; ++j) {
    if (t.has_header) field_check_utf8(p, first.fields[j], "header name");
    t.columns.push_back(t.has_header ? field_text(first.fields[j]) : std::to_string(j));
  }
  if (t.has_header && !second)
    p.fail(first.line, first.fields[0].line_start, first.fields[0].start,
           "the file holds a header row but no data rows");
  if (options.text_column) t.text_column = text_column_resolve(t, *options.text_column, p, first);

  // Rows [keep_begin, keep_end) of the file's data rows are kept (all of them without a range).
  const std::size_t keep_begin = options.rows ? options.rows->begin : 0;
  const std::size_t keep_end = options.rows ? options.rows->end : std::numeric_limits<std::size_t>::max();
  t.first_row = keep_begin;
  std::size_t file_row = 0;  // data rows seen so far
  const auto keeps = [&](std::size_t row) { return row >= keep_begin && row < keep_end; };

  // Room for every row at once (a memchr-speed pass saves the vectors' regrowth), bounded by both
  // the non-blank lines and the bytes left, so neither blank lines nor line breaks inside quotes
  // make it exceed one double per two bytes of the file; and by the range. (Reserved, not touched:
  // only the rows kept become resident.)
  std::size_t rows_bound = checked_add(
      (t.has_header ? 0 : 1) + (second ? 1 : 0),
      records_bound(std::string_view(p.pos(), static_cast<std::size_t>(p.end() - p.pos())), t.cols, !window),
      "CSV rows");
  if (options.rows) rows_bound = std::min(rows_bound, keep_end - keep_begin);
  t.numbers.reserve(checked_mul(rows_bound, t.cols, "CSV cells"));
  t.row_origin.reserve(rows_bound);
  if (t.text_column) t.text.reserve(rows_bound);

  const CsvRecord* const early[] = {t.has_header ? nullptr : &first, second ? &*second : nullptr};
  for (const CsvRecord* r : early) {
    if (!r) continue;
    if (keeps(file_row)) row_append(t, p, *r);
    else record_check_count(t, p, *r);
    ++file_row;
  }

  const std::size_t cols = t.cols;
  const std::size_t text_col = t.text_column.value_or(cols);
  while (p.record_begin()) {
    const std::size_t line = p.line();
    std::size_t j = 0;
    if (!keeps(file_row)) {  // counted and checked for quotes and width, not parsed
      for (;; ++j) {
        if (j == cols) p.fail_too_many(cols);
        p.field_read();
        if (!p.field_next()) break;
      }
      if (j + 1 < cols) p.fail_too_few(cols, j + 1);
      ++file_row;
      if (window) window->release_before(p.pos());
      continue;
    }
    for (;; ++j) {
      if (j == cols) p.fail_too_many(cols);
      if (j == text_col) {
        t.text.push_back(field_text_cell(p, p.field_read()));
        t.numbers.push_back(std::numeric_limits<double>::quiet_NaN());
      } else {
        double v;
        if (!p.field_number_fast(v)) v = field_number(p, p.field_read());
        t.numbers.push_back(v);
      }
      if (!p.field_next()) break;
    }
    if (j + 1 < cols) p.fail_too_few(cols, j + 1);
    t.row_origin.push_back(line);
    ++t.rows;
    ++file_row;
    if (window) window->release_before(p.pos());
  }
  row_range_resolve(options.rows, file_row, source);  // the range lies within the rows
  t.file_rows = file_row;
  return t;
}

}  // namespace

DataTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& options) {
  return csv_parse(text, source, options, nullptr);
}

DataTable read_csv(const std::string& path, const CsvOptions& options) {
  // A range (a shard) is read through a window, so a rank holds its rows, not the whole file.
  if (options.rows)
    if (const auto window = FileWindow::open(path)) return csv_parse(window->text(), path, options, window.get());
  return parse_csv(file_read_all(path), path, options);
}

std::optional<std::pair<std::size_t, std::size_t>> csv_field_position(std::string_view text,
                                                                  std::size_t line,
                                                                  std::size_t field) {
  // Physical line `line` starts after line − 1 '\n' bytes, quoted or not.
  std::size_t pos = 0;
  for (std::size_t l = 1; l < line; ++l) {
    pos = text.find('\n', pos);
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  const std::string source;
  CsvParser p(text.substr(pos), source);
  try {
    for (std::size_t j = 0;; ++j) {
      const CsvField f = p.field_read();
      if (j == field)
        return std::pair{line + f.line - 1, static_cast<std::size_t>(f.start - f.line_start) + 1};
      if (!p.field_next()) return std::nullopt;
    }
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace bpnn
