#include "io/model_metadata.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bpnn/error.hpp"
#include "io/safetensors.hpp"

namespace bpnn {
namespace {

constexpr std::string_view format_keys[] = {"format", "format_version", "sizes", "hidden_act",
                                            "output_act", "loss", "crc32"};

[[noreturn]] void value_fail(const std::string& source, std::string_view key, std::string_view text,
                             const std::string& what) {
  throw Error(ErrorKind::format, source + ": metadata " + name_quote(std::string(key)) + " = " +
                                     name_quote(std::string(text)) + ": " + what);
}

// Splits "a,b,c" at commas; "" gives no parts.
std::vector<std::string_view> comma_split(std::string_view text) {
  std::vector<std::string_view> parts;
  if (text.empty()) return parts;
  for (;;) {
    const auto comma = text.find(',');
    parts.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

}  // namespace

bool model_format_key(std::string_view key) {
  return std::find(std::begin(format_keys), std::end(format_keys), key) != std::end(format_keys) ||
         key.starts_with("scaler.") || key.starts_with("checkpoint.");
}

std::string metadata_numbers_format(std::span<const double> values, std::string_view key) {
  std::string out;
  char buf[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i]))
      throw Error(ErrorKind::argument, "metadata " + name_quote(std::string(key)) + ": value " +
                                           std::to_string(i) + " is not finite");
    const int n = std::snprintf(buf, sizeof buf, "%.17g", values[i]);
    if (i) out += ',';
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::vector<double> metadata_numbers_parse(std::string_view text, const std::string& source, std::string_view key) {
  std::vector<double> values;
  for (std::string_view part : comma_split(text)) {
    double v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || !std::isfinite(v))
      value_fail(source, key, text, "number " + std::to_string(values.size()) + " (" + name_quote(std::string(part)) +
                                        ") is not a finite decimal number; the form is \"%.17g\" values joined by \",\"");
    values.push_back(v);
  }
  return values;
}

std::string metadata_counts_format(std::span<const std::size_t> values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out;
}

std::vector<std::size_t> metadata_counts_parse(std::string_view text, const std::string& source, std::string_view key) {
  std::vector<std::size_t> values;
  for (std::string_view part : comma_split(text)) {
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || (part.size() > 1 && part[0] == '0'))
      value_fail(source, key, text, "count " + std::to_string(values.size()) + " (" + name_quote(std::string(part)) +
                                        ") is not an unsigned decimal integer; the form is \"2,4,1\"");
    values.push_back(v);
  }
  return values;
}

std::string metadata_names_format(const std::vector<std::string>& names, std::string_view key) {
  for (const auto& name : names)
    if (name.find('\0') != std::string::npos)
      throw Error(ErrorKind::argument, "metadata " + name_quote(std::string(key)) + ": name " +
                                           name_quote(name) + " contains a NUL character");
  try {
    return nlohmann::json(names).dump();
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::argument, "metadata " + name_quote(std::string(key)) + ": a name is not valid UTF-8");
  }
}

std::vector<std::string> metadata_names_parse(std::string_view text, const std::string& source, std::string_view key) {
  // A names value is a flat array: refuse anything deeper before the parser sees it.
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text, [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > 1) throw Error(ErrorKind::format, "");
      return true;
    });
  } catch (const nlohmann::json::exception&) {
    value_fail(source, key, text, "not a JSON array of names like [\"a\",\"b\"]");
  } catch (const Error&) {
    value_fail(source, key, text, "not a JSON array of names like [\"a\",\"b\"] (nested)");
  }
  if (!parsed.is_array()) value_fail(source, key, text, "not a JSON array of names like [\"a\",\"b\"]");
  std::vector<std::string> names;
  for (const auto& v : parsed) {
    if (!v.is_string()) value_fail(source, key, text, "name " + std::to_string(names.size()) + " is not a string");
    std::string name = v.get<std::string>();
    if (name.find('\0') != std::string::npos)
      value_fail(source, key, text, "name " + std::to_string(names.size()) + " contains a NUL character");
    names.push_back(std::move(name));
  }
  return names;
}

void metadata_numbers_set(Metadata& m, const std::string& key, std::span<const double> values) {
  m[key] = metadata_numbers_format(values, key);
}

std::optional<std::vector<double>> metadata_numbers_get(const Metadata& m, const std::string& key,
                                                        const std::string& source) {
  const auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return metadata_numbers_parse(it->second, source, key);
}

std::optional<std::vector<std::size_t>> metadata_counts_get(const Metadata& m, const std::string& key,
                                                            const std::string& source) {
  const auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return metadata_counts_parse(it->second, source, key);
}

void metadata_names_set(Metadata& m, const std::string& key, const std::vector<std::string>& names) {
  m[key] = metadata_names_format(names, key);
}

std::optional<std::vector<std::string>> metadata_names_get(const Metadata& m, const std::string& key,
                                                           const std::string& source) {
  const auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return metadata_names_parse(it->second, source, key);
}

}  // namespace bpnn
