#pragma once
// One CSV field as a double: the number rules shared by the CSV reader and the data sets.
#include <string_view>

namespace bpnn {

enum class CsvNumber {
  ok,            // a finite double (underflow rounds to a subnormal or a signed zero)
  empty,         // nothing but spaces
  not_a_number,  // anything std::from_chars does not take whole
  nan,           // "nan", "-nan", "nan(...)"
  infinite,      // "inf", "infinity"
  overflow,      // finite in the text but beyond ±DBL_MAX, e.g. "1e999"
};

// field: decimal or exponent notation, an optional sign ('+' too), spaces or tabs on either side.
// Sets value only when the result is ok.
CsvNumber csv_number_parse(std::string_view field, double& value);

}  // namespace bpnn
