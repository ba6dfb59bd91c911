// One-line echoes of untrusted text; see message_quote.hpp.
#include "data/message_quote.hpp"

#include <cstdio>

#include "data/utf8.hpp"

namespace bpnn {
namespace {

// Code points that end or reorder a line on some terminals though they are valid UTF-8.
bool is_invisible_control(char32_t c) {
  return (c >= 0x80 && c <= 0x9F) ||                    // C1 controls (NEL, CSI, ...)
         c == 0x2028 || c == 0x2029 ||                  // line and paragraph separators
         c == 0x061C || c == 0x200E || c == 0x200F ||   // bidirectional marks
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);  // embeddings, isolates
}

void hex_append(std::string& out, const char* format, unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, format, value);
  out += buf;
}

// message_escape_append, with `\` and `"` escaped only when quote_syntax is true.
bool escape_append(std::string& out, std::string_view s, std::size_t max_bytes, bool quote_syntax) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t length = c < 0x80 ? 1 : utf8_sequence_length(s, i);
    if (i + (length ? length : 1) > max_bytes) return true;
    if (length == 0) {  // not UTF-8: the byte alone
      hex_append(out, "\\x%02x", c);
      ++i;
      continue;
    }
    if (length == 1) {
      switch (c) {
        case '\\': out += quote_syntax ? "\\\\" : "\\"; break;
        case '"': out += quote_syntax ? "\\\"" : "\""; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7f) hex_append(out, "\\x%02x", c);
          else out += static_cast<char>(c);
      }
    } else {
      const char32_t code = utf8_decode(s, i, length);
      if (is_invisible_control(code)) hex_append(out, "\\u%04x", static_cast<unsigned>(code));
      else out.append(s.substr(i, length));
    }
    i += length;
  }
  return false;
}

}  // namespace

bool message_escape_append(std::string& out, std::string_view s, std::size_t max_bytes) {
  return escape_append(out, s, max_bytes, true);
}

std::string message_path(std::string_view path) {
  std::string out;
  escape_append(out, path, path.size(), false);
  return out;
}

std::string message_quote(std::string_view s, std::size_t max_bytes) {
  std::string out = "\"";
  const bool cut = message_escape_append(out, s, max_bytes);
  out += '"';
  if (cut) out += "\xE2\x80\xA6";  // …
  return out;
}

std::string message_list(const std::vector<std::string>& names, std::size_t max_names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < max_names; ++i) {
    if (i) out += ", ";
    if (message_escape_append(out, names[i], message_echo_bytes)) out += "\xE2\x80\xA6";
  }
  if (names.size() > max_names) out += ", \xE2\x80\xA6 (" + std::to_string(names.size() - max_names) + " more)";
  return out;
}

}  // namespace bpnn
