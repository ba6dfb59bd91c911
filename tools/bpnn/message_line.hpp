#pragma once
// Every message the CLI prints on stderr is one printable line: whatever bytes a message carries
// (a CSV field with a newline, an escape sequence, a file name with a control byte, invalid
// UTF-8), they cannot break the line or drive the terminal.
#include <cstddef>
#include <string>
#include <string_view>

namespace bpnn::cli {

// `text` escaped by the engine's one rule (data/message_quote.hpp: \n, \r and \t as those two
// characters, other C0 bytes, DEL and bytes that are not UTF-8 as \xHH, C1 controls, the line
// separators and bidirectional controls as \uNNNN; quotes and backslashes kept), cut after
// `max_bytes` bytes of output (at a character boundary) with "… (N bytes)" naming the original
// length.
std::string message_one_line(std::string_view text, std::size_t max_bytes = 1000);

}  // namespace bpnn::cli
