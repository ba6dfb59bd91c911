#pragma once
// What the FANN .data reader shares with the data sets inside the engine.
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace bpnn {

// Where the whitespace-separated token `token` (0-based; the header's three numbers are tokens
// 0 to 2) of a FANN .data text begins: {line, byte column}, both 1-based; nullopt when the text
// has fewer tokens. Used on error paths only, to point at a value after the table was parsed.
std::optional<std::pair<std::size_t, std::size_t>> fann_token_position(std::string_view text,
                                                                       std::size_t token);

}  // namespace bpnn
