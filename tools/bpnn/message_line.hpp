#pragma once
// Every message the CLI prints on stderr is one printable line: whatever bytes a message carries
// (a CSV field with a newline, an escape sequence, a file name with a control byte, invalid
// UTF-8), they cannot break the line or drive the terminal.
#include <cstddef>
#include <string>
#include <string_view>

namespace bpnn::cli {

// `text` with \n, \r and \t written as those two characters, every other control byte (C0, DEL,
// the C1 controls U+0080…U+009F) and every byte that is not part of valid UTF-8 written as \xHH,
// and cut after `max_bytes` bytes of output (at a character boundary) with "… (N bytes)" naming
// the original length.
std::string message_one_line(std::string_view text, std::size_t max_bytes = 1000);

}  // namespace bpnn::cli
