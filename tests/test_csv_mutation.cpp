// Property: whatever bytes a CSV file holds, the reader and the data sets either succeed or throw
// an Error(data) located at FILE:LINE:COLUMN on one printable line — never another exception,
// never a location outside the file. Inputs are valid tables mutated byte by byte.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"

namespace {

using Rng = std::mt19937_64;

std::size_t uniform(Rng& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

const char* const seeds[] = {
    "a,b,y\n0.1,0.2,1\n0.3,0.4,0\n",
    "w,species,z\n1,setosa,2\n3,\"vir,gin\"\"ica\",4\r\n\n5,\"x\ny\",6\n",
    "1,2,3\n4,5,6\n",
    "\xEF\xBB\xBF\"h\xC3\xA9\",\"b\"\n+1, 2e3 \n-0,.5\n",
    "x,label\n1,a\n2,b\n3,a\n4,c\n",
};

// Bytes a hostile file is made of: the CSV syntax, blanks, line ends, control bytes, bytes that
// are not UTF-8, the pieces of numbers.
const char alphabet[] = {',', '"', '\n', '\r', ' ', '\t', '\0', '\x1b', '\x7f', '\xff', '\xC3', '\xA9',
                         '\x80', 'e', '-', '+', '.', '0', '9', 'n', 'a', 'i', 'x', 'y'};

std::string mutate(Rng& rng, std::string s) {
  for (std::size_t k = uniform(rng, 1, 4); k > 0; --k) {
    const std::size_t at = s.empty() ? 0 : uniform(rng, 0, s.size() - 1);
    const char c = alphabet[uniform(rng, 0, sizeof alphabet - 1)];
    switch (uniform(rng, 0, 3)) {
      case 0: if (!s.empty()) s[at] = c; break;
      case 1: s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c); break;
      case 2: if (!s.empty()) s.erase(at, uniform(rng, 1, 3)); break;
      default: s.insert(at, s.substr(at, uniform(rng, 1, 8))); break;  // repeat a stretch
    }
  }
  return s;
}

std::size_t lines_in(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')) + 1;
}

// "t.csv:LINE:COLUMN: " with LINE within the text and COLUMN ≥ 1, then one printable line.
void check_located(const bpnn::Error& e, const std::string& text) {
  const std::string m = e.what();
  INFO("message: " << m);
  REQUIRE(e.kind() == bpnn::ErrorKind::data);
  REQUIRE(m.rfind("t.csv:", 0) == 0);
  std::size_t line = 0, column = 0, i = 6;
  while (i < m.size() && m[i] >= '0' && m[i] <= '9') line = line * 10 + static_cast<std::size_t>(m[i++] - '0');
  REQUIRE((i < m.size() && m[i] == ':'));
  ++i;
  while (i < m.size() && m[i] >= '0' && m[i] <= '9') column = column * 10 + static_cast<std::size_t>(m[i++] - '0');
  REQUIRE(m.compare(i, 2, ": ") == 0);
  CHECK(line >= 1);
  CHECK(line <= lines_in(text));
  CHECK(column >= 1);
  for (unsigned char c : m) REQUIRE((c >= 0x20 && c != 0x7f));
}

}  // namespace

TEST_CASE("csv property: mutated files give a table or a located one-line Error(data)", "[data][csv][property]") {
  Rng rng(8);
  std::size_t parsed = 0, refused = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    const std::string text = mutate(rng, seeds[uniform(rng, 0, std::size(seeds) - 1)]);
    INFO("trial " << trial << ", text: " << text);
    bpnn::CsvOptions options;
    if (uniform(rng, 0, 2) == 0) options.text_column = uniform(rng, 0, 1) ? "1" : "species";
    if (uniform(rng, 0, 1)) options.precision = bpnn::Precision::f32;
    try {
      const bpnn::CsvTable t = bpnn::parse_csv(text, "t.csv", options);
      ++parsed;
      REQUIRE(t.numbers.size() == t.rows * t.cols);
      REQUIRE(t.row_origin.size() == t.rows);
      for (std::size_t line : t.row_origin) REQUIRE(line <= lines_in(text));
      // The data sets over the table: each succeeds or gives a located Error(data).
      const auto located = [&](auto&& make) {
        try {
          make();
        } catch (const bpnn::Error& e) {
          if (e.kind() != bpnn::ErrorKind::argument) check_located(e, text);
        }
      };
      located([&] { bpnn::dataset_from_targets(t, 1); });
      located([&] { bpnn::dataset_from_label(t, t.columns.back()); });
      located([&] { bpnn::dataset_from_label(t, t.columns.back(), {"a", "1"}); });
      located([&] { bpnn::dataset_inputs(t, {"a", "b"}, 2); });
    } catch (const bpnn::Error& e) {
      ++refused;
      check_located(e, text);
    }
  }
  // Both outcomes are exercised.
  CHECK(parsed > 200);
  CHECK(refused > 2000);
}
