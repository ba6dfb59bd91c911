// One printable line per message; see message_line.hpp.
#include "bpnn/message_line.hpp"

#include <cstdio>

namespace bpnn::cli {
namespace {

// The length of the valid UTF-8 sequence at the start of `s` that encodes a printable
// character (not a C0/C1 control or DEL), or 0.
std::size_t printable_utf8_length(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  if (lead >= 0x20 && lead < 0x7F) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    if (lead == 0xC2) low = 0xA0;  // U+0080…U+009F are the C1 controls
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  return length;
}

std::string escaped_byte(unsigned char c) {
  switch (c) {
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      return buf;
    }
  }
}

}  // namespace

std::string message_one_line(std::string_view text, std::size_t max_bytes) {
  std::string line;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = printable_utf8_length(text.substr(i));
    const std::string piece = length ? std::string(text.substr(i, length))
                                     : escaped_byte(static_cast<unsigned char>(text[i]));
    if (line.size() + piece.size() > max_bytes) {
      line += "… (" + std::to_string(text.size()) + " bytes)";
      break;
    }
    line += piece;
    i += length ? length : 1;
  }
  return line;
}

}  // namespace bpnn::cli
