#pragma once
// Text from a file or a caller made safe for a one-line error message: control bytes escaped,
// bytes that are not UTF-8 shown as \xNN, and the echo capped.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bpnn {

// The bytes echoed from one value at most.
inline constexpr std::size_t message_echo_bytes = 40;

// Appends at most max_bytes of s (whole characters) to out, escaped: \\ \" \n \r \t; other bytes
// below 0x20 and 0x7f as \xNN; bytes that are not UTF-8 as \xNN; C1 controls, the line and
// paragraph separators and the bidirectional controls as \uNNNN; other UTF-8 as is. Returns true
// when s was cut.
bool message_escape_append(std::string& out, std::string_view s, std::size_t max_bytes);

// A file name as the start of a message ("PATH:LINE:COLUMN: ..."): escaped like the above but
// never cut, and with its backslashes and double quotes kept as they are.
std::string message_path(std::string_view path);

// s between double quotes, escaped, followed by "…" when cut: "abc" or "abcdef…"….
std::string message_quote(std::string_view s, std::size_t max_bytes = message_echo_bytes);

// names escaped (each capped) and joined by ", ": at most max_names of them, then
// ", … (N more)".
std::string message_list(const std::vector<std::string>& names, std::size_t max_names = 10);

}  // namespace bpnn
