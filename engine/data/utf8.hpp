#pragma once
// UTF-8 well-formedness: header names and text cells become JSON strings (model metadata, class
// names), which must be valid UTF-8.
#include <cstddef>
#include <string_view>

namespace bpnn {

// Length (1 to 4) of the well-formed UTF-8 sequence that starts at s[i], or 0 when the bytes there
// are not one (Unicode Table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF, no
// sequence cut short). i < s.size().
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

// Offset of the first byte of s that does not start a well-formed sequence; npos when s is valid.
std::size_t utf8_invalid_offset(std::string_view s);

// The code point of the well-formed sequence of length `length` at s[i].
char32_t utf8_decode(std::string_view s, std::size_t i, std::size_t length);

}  // namespace bpnn
