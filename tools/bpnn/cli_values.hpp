#pragma once
// Checked option values. Every number on the command line is parsed here from its text, in full,
// so a negative count, a value that would wrap, one out of range or one with trailing text is a
// usage error (Error(argument), exit 2) naming the option and the value — never a silently
// different number. CLI11's own conversions are not used for numbers: they wrap "-1" into a
// size_t and drop empty list items.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>

namespace bpnn::cli {

// A whole number in [min, max]: decimal digits only — no sign, space, fraction, exponent or 0x.
std::uint64_t parse_whole(std::string_view option, std::string_view text, std::uint64_t min,
                          std::uint64_t max);

// A closed or half-open interval of finite numbers; high = ∞ means "no upper bound".
struct RealRange {
  double low = 0;
  bool low_open = false;  // (low, … instead of [low, …
  double high = 0;
  bool high_open = false;  // …, high) instead of …, high]
};

// A finite decimal number in `range` ("0.5", "-2", "1e-3"; not "nan", "inf", hex or a trailing
// unit). A value that overflows a double is rejected.
double parse_real(std::string_view option, std::string_view text, const RealRange& range);

// A comma-separated list of at least `min_items` whole numbers in [1, max], e.g. "4,8,3": no
// empty items, no spaces. The error names the bad item by position.
std::vector<std::size_t> parse_whole_list(std::string_view option, std::string_view text,
                                          std::size_t min_items, std::uint64_t max);

// `text` quoted for a one-line message: at most 40 bytes of it, then "…".
std::string quoted_value(std::string_view text);

// CLI11 registration: the option's text goes through the parser above when it is read, and the
// parsed value is stored in `target`, which must outlive the app.
template <class T>
  requires std::is_integral_v<T>
CLI::Option* add_whole_option(CLI::App& cmd, const std::string& name, T& target,
                              std::uint64_t min, std::uint64_t max, const std::string& help) {
  if (max > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
    throw std::logic_error(name + ": the upper bound does not fit the option's type");
  return cmd
      .add_option_function<std::string>(
          name,
          [&target, name, min, max](const std::string& text) {
            target = static_cast<T>(parse_whole(name, text, min, max));
          },
          help)
      ->type_name("UINT")
      ->default_str(std::to_string(target));
}
// A finite number in `range`, and a comma-separated list as parse_whole_list reads it.
CLI::Option* add_real_option(CLI::App& cmd, const std::string& name, double& target,
                             const RealRange& range, const std::string& help);
CLI::Option* add_whole_list_option(CLI::App& cmd, const std::string& name,
                                   std::vector<std::size_t>& target, std::size_t min_items,
                                   std::uint64_t max, const std::string& help);

}  // namespace bpnn::cli
