// Property: a random valid table written as CSV text in any of the spellings the reader accepts
// reads back as exactly that table — names and text byte for byte, numbers bit for bit, and each
// row's line.
#include <catch2/catch.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bpnn/data.hpp"

namespace {

using Rng = std::mt19937_64;

std::size_t uniform(Rng& rng, std::size_t lo, std::size_t hi) {  // in [lo, hi]
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}
bool chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }

std::uint64_t bits_of(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// A finite double drawn from the shapes data holds: small integers, decimals, any bit pattern,
// signed zeros, subnormals, the extremes.
double number_random(Rng& rng) {
  switch (uniform(rng, 0, 7)) {
    case 0: return static_cast<double>(static_cast<std::int64_t>(uniform(rng, 0, 2000)) - 1000);
    case 1: return static_cast<double>(uniform(rng, 0, 999999)) / 1000.0;
    case 2: return chance(rng, 0.5) ? 0.0 : -0.0;
    case 3: return std::ldexp(static_cast<double>(uniform(rng, 1, 1u << 20)), -1074 + static_cast<int>(uniform(rng, 0, 30)));
    case 4: return chance(rng, 0.5) ? 1.7976931348623157e308 : -2.2250738585072014e-308;
    case 5: return std::ldexp(std::uniform_real_distribution<double>(-1, 1)(rng), static_cast<int>(uniform(rng, 0, 200)) - 100);
    default: {
      for (;;) {
        const std::uint64_t b = rng();
        double v;
        std::memcpy(&v, &b, sizeof v);
        if (std::isfinite(v)) return v;
      }
    }
  }
}

// One of the spellings that reads back as exactly v.
std::string number_spell(Rng& rng, double v) {
  char buf[64];
  switch (uniform(rng, 0, 4)) {
    case 0: std::snprintf(buf, sizeof buf, "%.17g", v); break;
    case 1: std::snprintf(buf, sizeof buf, "%.16E", v); break;
    case 2: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 1, v);
      *end = '\0';
      break;
    }
    case 3:
      if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
      else std::snprintf(buf, sizeof buf, "%.17g", v);
      break;
    default: std::snprintf(buf, sizeof buf, "%.25g", v); break;
  }
  std::string s = buf;
  if (s[0] != '-' && chance(rng, 0.2)) s = "+" + s;
  if (chance(rng, 0.15)) s = std::string(uniform(rng, 1, 2), ' ') + s + (chance(rng, 0.5) ? "\t" : "");
  if (chance(rng, 0.1)) s = "\"" + s + "\"";
  return s;
}

// Text that never reads as a number (it starts with a letter) and holds the bytes that need
// quoting: commas, quotes, line breaks, blanks, and multi-byte UTF-8.
std::string text_random(Rng& rng) {
  static const char* const pieces[] = {"a", "Z", "q", " ", ",", "\"", "\n", "\r\n", "\t", "7", ".",
                                       "\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80", "-", "\"\""};
  static const char* const first[] = {"x", "b", "Id", "\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC"};
  std::string s = first[uniform(rng, 0, std::size(first) - 1)];
  for (std::size_t i = uniform(rng, 0, 8); i > 0; --i) s += pieces[uniform(rng, 0, std::size(pieces) - 1)];
  return s;
}

bool needs_quotes(const std::string& s) {
  if (s.empty()) return false;
  if (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t') return true;
  return s.find_first_of(",\"\r\n") != std::string::npos;
}

// The field as CSV: quoted (quotes doubled) when it must be, and now and then when it need not.
std::string text_spell(Rng& rng, const std::string& s) {
  if (!needs_quotes(s) && !chance(rng, 0.3)) return s;
  std::string out = "\"";
  for (char c : s) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::size_t newlines_in(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

struct Generated {
  std::string text;
  bpnn::CsvOptions options;
  bpnn::CsvTable expect;
};

Generated table_random(Rng& rng) {
  Generated g;
  bpnn::CsvTable& t = g.expect;
  t.source = "prop.csv";
  t.cols = uniform(rng, 1, 7);
  t.rows = uniform(rng, 1, 12);
  t.has_header = chance(rng, 0.7);
  if (chance(rng, 0.5)) t.text_column = uniform(rng, 0, t.cols - 1);
  // Without a named text column, a header is only seen over a numeric column.
  if (t.has_header && t.text_column && t.cols == 1) t.text_column.reset();

  for (std::size_t j = 0; j < t.cols; ++j)
    t.columns.push_back(t.has_header ? text_random(rng) + "_" + std::to_string(j) : std::to_string(j));
  if (t.text_column)
    g.options.text_column = t.has_header && chance(rng, 0.7) ? t.columns[*t.text_column]
                                                             : std::to_string(*t.text_column);
  // (Header names end in "_<index>", so none can pass for the index or for another name.)

  std::size_t line = 1;
  auto line_end = [&] {
    g.text += chance(rng, 0.5) ? "\r\n" : "\n";
    ++line;
  };
  auto blank_lines = [&] {
    while (chance(rng, 0.2)) {
      static const char* const blanks[] = {"", " ", "\t", "  \t"};
      g.text += blanks[uniform(rng, 0, 3)];
      line_end();
    }
  };
  if (chance(rng, 0.1)) g.text += "\xEF\xBB\xBF";
  blank_lines();
  if (t.has_header) {
    t.header_line = line;
    for (std::size_t j = 0; j < t.cols; ++j) {
      const std::string f = text_spell(rng, t.columns[j]);
      g.text += (j ? "," : "") + f;
      line += newlines_in(f);
    }
    line_end();
    blank_lines();
  }
  for (std::size_t r = 0; r < t.rows; ++r) {
    t.row_origin.push_back(line);
    for (std::size_t j = 0; j < t.cols; ++j) {
      std::string f;
      if (t.text_column && j == *t.text_column) {
        t.text.push_back(text_random(rng));
        t.numbers.push_back(std::nan(""));
        f = text_spell(rng, t.text.back());
      } else {
        t.numbers.push_back(number_random(rng));
        f = number_spell(rng, t.numbers.back());
      }
      g.text += (j ? "," : "") + f;
      line += newlines_in(f);
    }
    if (r + 1 < t.rows || chance(rng, 0.7)) {
      line_end();
      if (r + 1 < t.rows) blank_lines();
    }
  }
  if (chance(rng, 0.2)) g.text += "\n  \n";
  return g;
}

}  // namespace

TEST_CASE("csv property: random valid tables read back exactly", "[data][csv][property]") {
  Rng rng(20261129);
  for (int trial = 0; trial < 400; ++trial) {
    const Generated g = table_random(rng);
    const bpnn::CsvTable& want = g.expect;
    INFO("trial " << trial << ", text:\n" << g.text);
    const bpnn::CsvTable got = bpnn::parse_csv(g.text, "prop.csv", g.options);
    REQUIRE(got.source == want.source);
    REQUIRE(got.has_header == want.has_header);
    REQUIRE(got.header_line == want.header_line);
    REQUIRE(got.columns == want.columns);
    REQUIRE(got.rows == want.rows);
    REQUIRE(got.cols == want.cols);
    REQUIRE(got.text_column == want.text_column);
    REQUIRE(got.text == want.text);
    REQUIRE(got.row_origin == want.row_origin);
    REQUIRE(got.numbers.size() == want.numbers.size());
    for (std::size_t i = 0; i < want.numbers.size(); ++i) {
      INFO("cell " << i);
      if (std::isnan(want.numbers[i])) REQUIRE(std::isnan(got.numbers[i]));
      else REQUIRE(bits_of(got.numbers[i]) == bits_of(want.numbers[i]));
    }
  }
}
