// Row ranges: see row_range.hpp.
#include "data/row_range.hpp"

#include <limits>

#include "bpnn/error.hpp"
#include "data/message_quote.hpp"

namespace bpnn {
namespace {

constexpr std::size_t to_last_row = std::numeric_limits<std::size_t>::max();

std::string range_text(const RowRange& r) {
  return "[" + std::to_string(r.begin) + ", " + (r.end == to_last_row ? std::string("end") : std::to_string(r.end)) + ")";
}

}  // namespace

void row_range_check(const std::optional<RowRange>& range, const char* reader) {
  if (range && range->begin > range->end)
    throw Error(ErrorKind::argument, std::string(reader) + ": row range " + range_text(*range) + " begins after it ends");
}

std::pair<std::size_t, std::size_t> row_range_resolve(const std::optional<RowRange>& range, std::size_t rows,
                                                      const std::string& source) {
  if (!range) return {0, rows};
  const std::size_t end = range->end == to_last_row ? rows : range->end;
  if (range->begin > end || end > rows)
    throw Error(ErrorKind::data, message_path(source) + ": rows " + range_text(*range) +
                                     " were asked for, but the file holds " + std::to_string(rows) + " data rows");
  return {range->begin, end};
}

}  // namespace bpnn
