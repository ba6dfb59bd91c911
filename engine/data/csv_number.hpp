#pragma once
// One CSV field as a double: the number rules shared by the CSV reader and the data sets.
#include <string_view>

#include "bpnn/types.hpp"

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

// The smallest magnitude that overflows `precision` once rounded to it: 2^128 − 2^103 for f32
// (the midpoint between FLT_MAX and 2^128, which rounds to even up to infinity), infinity for
// f64 (every finite double fits). |v| < this fits.
double number_magnitude_limit(Precision precision);

}  // namespace bpnn
