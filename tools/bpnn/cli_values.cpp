// Checked option values; see cli_values.hpp.
#include "bpnn/cli_values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <system_error>

#include "bpnn/error.hpp"

namespace bpnn::cli {
namespace {

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// The characters of a plain decimal number: this keeps out "inf", "nan", hex and spaces before
// std::from_chars sees the text.
bool plain_decimal(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
      return false;
  return true;
}

std::string whole_range_text(std::uint64_t min, std::uint64_t max) {
  return "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
}

// The shortest text that reads back as `v`.
std::string number_text(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "?";
}

std::string real_range_text(const RealRange& r) {
  return std::string("a finite number in ") + (r.low_open ? "(" : "[") + number_text(r.low) + ", " +
         (std::isinf(r.high) ? "∞" : number_text(r.high)) +
         (r.high_open || std::isinf(r.high) ? ")" : "]");
}

// The value of `text` when it is a whole number in [min, max]; empty otherwise.
std::optional<std::uint64_t> whole_in_range(std::string_view text, std::uint64_t min,
                                            std::uint64_t max) {
  if (!all_digits(text)) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;  // too large
  if (value < min || value > max) return std::nullopt;
  return value;
}

}  // namespace

std::string quoted_value(std::string_view text) {
  constexpr std::size_t max_bytes = 40;
  if (text.size() <= max_bytes) return "'" + std::string(text) + "'";
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return "'" + std::string(text.substr(0, cut)) + "…' (" + std::to_string(text.size()) + " bytes)";
}

std::uint64_t parse_whole(std::string_view option, std::string_view text, std::uint64_t min,
                          std::uint64_t max) {
  if (const auto value = whole_in_range(text, min, max)) return *value;
  throw Error(ErrorKind::argument, std::string(option) + " " + quoted_value(text) + ": expected " +
                                       whole_range_text(min, max));
}

double parse_real(std::string_view option, std::string_view text, const RealRange& range) {
  double value = 0;
  bool ok = plain_decimal(text);
  if (ok) {
    const char* first = text.data() + (text.front() == '+' ? 1 : 0);
    const auto [end, ec] = std::from_chars(first, text.data() + text.size(), value);
    ok = ec == std::errc() && end == text.data() + text.size() && std::isfinite(value) &&
         (range.low_open ? value > range.low : value >= range.low) &&
         (range.high_open ? value < range.high : value <= range.high);
  }
  if (ok) return value;
  throw Error(ErrorKind::argument, std::string(option) + " " + quoted_value(text) + ": expected " +
                                       real_range_text(range));
}

std::vector<std::size_t> parse_whole_list(std::string_view option, std::string_view text,
                                          std::size_t min_items, std::uint64_t max) {
  const std::string prefix = std::string(option) + " " + quoted_value(text) + ": ";
  std::vector<std::size_t> values;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    const std::string position = "item " + std::to_string(values.size() + 1);
    if (item.empty())
      throw Error(ErrorKind::argument,
                  prefix + position + " is empty; expected " + whole_range_text(1, max));
    const auto value = whole_in_range(item, 1, max);
    if (!value)
      throw Error(ErrorKind::argument, prefix + position + " is " + quoted_value(item) +
                                           "; expected " + whole_range_text(1, max));
    values.push_back(static_cast<std::size_t>(*value));
    if (comma == text.size()) break;
    start = comma + 1;
  }
  if (values.size() < min_items)
    throw Error(ErrorKind::argument, prefix + "expected at least " + std::to_string(min_items) +
                                         " comma-separated items, each " +
                                         whole_range_text(1, max));
  return values;
}

CLI::Option* add_real_option(CLI::App& cmd, const std::string& name, double& target,
                             const RealRange& range, const std::string& help) {
  const std::string default_text = number_text(target);
  return cmd
      .add_option_function<std::string>(
          name,
          [&target, name, range](const std::string& text) {
            target = parse_real(name, text, range);
          },
          help)
      ->type_name("FLOAT")
      ->default_str(default_text);
}

CLI::Option* add_whole_list_option(CLI::App& cmd, const std::string& name,
                                   std::vector<std::size_t>& target, std::size_t min_items,
                                   std::uint64_t max, const std::string& help) {
  return cmd
      .add_option_function<std::string>(
          name,
          [&target, name, min_items, max](const std::string& text) {
            target = parse_whole_list(name, text, min_items, max);
          },
          help)
      ->type_name("N,N,...");
}

}  // namespace bpnn::cli
