#pragma once
// What the CSV reader shares with the data sets inside the engine.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bpnn {

// Where field `field` (0-based) of the record starting on `line` (1-based) begins, its leading
// blanks skipped: {line, byte column}, both 1-based (the line moves on when an earlier field of the
// record spans lines); nullopt when the text has no such field. Used on error paths only, to point
// at a cell after the table has been parsed.
std::optional<std::pair<std::size_t, std::size_t>> csv_field_position(std::string_view text,
                                                                      std::size_t line,
                                                                      std::size_t field);

}  // namespace bpnn
