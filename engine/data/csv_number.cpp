#include "data/csv_number.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

namespace bpnn {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// For a text std::from_chars took whole but called out of range: true when its magnitude is too
// large (overflow), false when too small (underflow). The decimal exponent of the leading nonzero
// digit plus the written exponent tells which: ≥ 0 means |x| ≥ 1.
bool out_of_range_is_overflow(std::string_view s) {
  std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  std::int64_t lead = 0;  // decimal exponent of the leading nonzero digit
  bool seen_nonzero = false, in_fraction = false;
  std::int64_t int_digits_after_lead = 0, fraction_pos = 0;
  for (; i < s.size() && (is_digit(s[i]) || s[i] == '.'); ++i) {
    if (s[i] == '.') { in_fraction = true; continue; }
    if (in_fraction) ++fraction_pos;
    if (!seen_nonzero && s[i] != '0') {
      seen_nonzero = true;
      lead = in_fraction ? -fraction_pos : 0;
    }
    if (seen_nonzero && !in_fraction) ++int_digits_after_lead;
  }
  if (seen_nonzero && int_digits_after_lead > 0) lead = int_digits_after_lead - 1;
  std::int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negative = i < s.size() && s[i] == '-';
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    for (; i < s.size() && is_digit(s[i]); ++i)
      if (exponent < 1'000'000'000) exponent = exponent * 10 + (s[i] - '0');  // saturates
    if (negative) exponent = -exponent;
  }
  return lead + exponent >= 0;
}

}  // namespace

CsvNumber csv_number_parse(std::string_view field, double& value) {
  std::size_t b = 0, e = field.size();
  while (b < e && is_blank(field[b])) ++b;
  while (e > b && is_blank(field[e - 1])) --e;
  if (b == e) return CsvNumber::empty;
  std::string_view s = field.substr(b, e - b);
  std::size_t start = 0;
  // std::from_chars takes no '+'; accept one before a digit or a point, never "+-1".
  if (s[0] == '+' && s.size() > 1 && (is_digit(s[1]) || s[1] == '.')) start = 1;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + s.size(), v);
  if (ptr != s.data() + s.size() || ec == std::errc::invalid_argument) return CsvNumber::not_a_number;
  if (ec == std::errc::result_out_of_range) {
    if (out_of_range_is_overflow(s)) return CsvNumber::overflow;
    value = s[0] == '-' ? -0.0 : 0.0;
    return CsvNumber::ok;
  }
  if (std::isnan(v)) return CsvNumber::nan;
  if (std::isinf(v)) return CsvNumber::infinite;
  value = v;
  return CsvNumber::ok;
}

double number_magnitude_limit(Precision precision) {
  switch (precision) {
    case Precision::f32: return 0x1.ffffffp127;
    case Precision::f64: return std::numeric_limits<double>::infinity();
  }
  return std::numeric_limits<double>::infinity();
}

}  // namespace bpnn
