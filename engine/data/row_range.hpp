#pragma once
// Row ranges (RowRange, bpnn/data.hpp): what every reader checks of the range it was given.
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "bpnn/data.hpp"

namespace bpnn {

// Error(argument) "<reader>: row range ..." when the range begins after it ends.
void row_range_check(const std::optional<RowRange>& range, const char* reader);

// The rows [begin, end) of a file holding `rows` data rows: {0, rows} without a range, the end
// resolved when it is "to the last row". Error(data) "SOURCE: rows [b, e) were asked for, but the
// file holds N data rows" when they are not all there.
std::pair<std::size_t, std::size_t> row_range_resolve(const std::optional<RowRange>& range, std::size_t rows,
                                                      const std::string& source);

}  // namespace bpnn
