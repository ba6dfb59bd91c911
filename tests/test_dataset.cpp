// Data sets from CSV tables: target columns, one-hot labels, named inputs, the seeded split.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>

#include "bpnn/data.hpp"
#include "io_test_util.hpp"

using bpnn::CsvOptions;
using bpnn::Dataset;
using bpnn::ErrorKind;
using bpnn::parse_csv;
using bpnn_test::error_of;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Strings = std::vector<std::string>;

TEST_CASE("dataset: the last columns are the targets", "[data][dataset]") {
  auto t = parse_csv("a,b,t1,t2\n1,2,3,4\n5,6,7,8\n", "t.csv");
  Dataset d = bpnn::dataset_from_targets(t, 2);
  CHECK(d.n == 2);
  CHECK(d.inputs == 2);
  CHECK(d.outputs == 2);
  CHECK(d.x == std::vector<double>{1, 2, 5, 6});
  CHECK(d.y == std::vector<double>{3, 4, 7, 8});
  CHECK(d.input_names == Strings{"a", "b"});
  CHECK(d.output_names == Strings{"t1", "t2"});
  CHECK(d.classes.empty());

  auto e = error_of([&] { bpnn::dataset_from_targets(t, 4); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK(std::string(e.what()) ==
        "t.csv:1:1: expected at least 5 columns (inputs, then 4 target columns), the table has 4");
  CHECK(error_of([&] { bpnn::dataset_from_targets(t, 0); }).kind() == ErrorKind::argument);
}

TEST_CASE("dataset: a text column cannot be a number input or target", "[data][dataset]") {
  auto t = parse_csv("a,s,b\n1,x,2\n", "t.csv", CsvOptions{"s"});
  auto e = error_of([&] { bpnn::dataset_from_targets(t, 1); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK_THAT(e.what(), StartsWith("t.csv:1:1: column \"s\" holds text"));
}

TEST_CASE("dataset: a text label becomes one-hot targets in sorted class order", "[data][dataset]") {
  auto t = parse_csv("w,species,z\n1,versicolor,2\n3,setosa,4\n5,virginica,6\n7,setosa,8\n", "t.csv",
                     CsvOptions{"species"});
  Dataset d = bpnn::dataset_from_label(t, "species");
  CHECK(d.n == 4);
  CHECK(d.inputs == 2);
  CHECK(d.input_names == Strings{"w", "z"});
  CHECK(d.x == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(d.classes == Strings{"setosa", "versicolor", "virginica"});
  CHECK(d.outputs == 3);
  CHECK(d.output_names == d.classes);
  CHECK(d.y == std::vector<double>{0, 1, 0,  //
                                   1, 0, 0,  //
                                   0, 0, 1,  //
                                   1, 0, 0});

  SECTION("a fixed class list sets the order") {
    Dataset f = bpnn::dataset_from_label(t, "species", {"virginica", "setosa", "versicolor", "other"});
    CHECK(f.classes == Strings{"virginica", "setosa", "versicolor", "other"});
    CHECK(f.y == std::vector<double>{0, 0, 1, 0,  //
                                     0, 1, 0, 0,  //
                                     1, 0, 0, 0,  //
                                     0, 1, 0, 0});
  }
  SECTION("the label by 0-based index") {
    CHECK(bpnn::dataset_from_label(t, "1").y == d.y);
  }
  SECTION("an unknown label column") {
    auto e = error_of([&] { bpnn::dataset_from_label(t, "colour"); });
    CHECK(e.kind() == ErrorKind::data);
    CHECK_THAT(e.what(), StartsWith("t.csv:1:1: no label column \"colour\" (columns: w, species, z)"));
  }
}

TEST_CASE("dataset: numeric labels sort by value", "[data][dataset]") {
  auto t = parse_csv("x,y\n0.5,2\n0.25,10\n0.125,1\n1,2\n", "t.csv");
  Dataset d = bpnn::dataset_from_label(t, "y");
  CHECK(d.classes == Strings{"1", "2", "10"});  // lexicographic would give 1, 10, 2
  CHECK(d.y == std::vector<double>{0, 1, 0,  //
                                   0, 0, 1,  //
                                   1, 0, 0,  //
                                   0, 1, 0});
  // A fixed list may spell a number differently: it matches by value.
  Dataset f = bpnn::dataset_from_label(t, "y", {"10", "2.0", "1e0"});
  CHECK(f.y == std::vector<double>{0, 1, 0,  //
                                   1, 0, 0,  //
                                   0, 0, 1,  //
                                   0, 1, 0});
  // Text labels that all read as numbers sort by value too.
  auto s = parse_csv("x,c\n1,10\n2,9\n3,-1\n", "t.csv", CsvOptions{"c"});
  CHECK(bpnn::dataset_from_label(s, "c").classes == Strings{"-1", "9", "10"});
}

TEST_CASE("dataset: a label outside a fixed class list is an error at its cell", "[data][dataset]") {
  bpnn_test::TempDir dir;
  const auto path = dir.write("iris.csv", "a,b,species\n1,2,setosa\n\n3,4,  versicolor\n5,6,virginica\n");
  auto t = bpnn::read_csv(path, CsvOptions{"species"});
  auto e = error_of([&] { bpnn::dataset_from_label(t, "species", {"setosa", "virginica"}); });
  CHECK(e.kind() == ErrorKind::data);
  CHECK_THAT(e.what(), StartsWith(path + ":4:7: unknown class \"versicolor\" in column \"species\""));
  CHECK_THAT(e.what(), Contains("expected one of: setosa, virginica"));

  // A table parsed from memory keeps the line; the byte column cannot be recovered, so it reads 1.
  auto m = parse_csv("a,b\n1,2\n3,4\n", "mem.csv");
  auto em = error_of([&] { bpnn::dataset_from_label(m, "b", {"2"}); });
  CHECK_THAT(em.what(), StartsWith("mem.csv:3:1: unknown class \"4\""));
  CHECK(error_of([&] { bpnn::dataset_from_label(m, "b", {"2", "2"}); }).kind() == ErrorKind::argument);
}

TEST_CASE("dataset: inputs by header name, in the model's order, ignoring other columns", "[data][dataset]") {
  auto t = parse_csv("extra,b,label,a\n9,2,x,1\n8,4,y,3\n", "t.csv", CsvOptions{"label"});
  Dataset d = bpnn::dataset_inputs(t, {"a", "b"}, 2);
  CHECK(d.n == 2);
  CHECK(d.inputs == 2);
  CHECK(d.outputs == 0);
  CHECK(d.y.empty());
  CHECK(d.input_names == Strings{"a", "b"});
  CHECK(d.x == std::vector<double>{1, 2, 3, 4});

  SECTION("without the names in a header: the first columns") {
    auto h = parse_csv("1,2,3\n4,5,6\n", "t.csv");
    Dataset f = bpnn::dataset_inputs(h, {"a", "b"}, 2);
    CHECK(f.x == std::vector<double>{1, 2, 4, 5});
    CHECK(f.input_names == Strings{"0", "1"});
    auto e = error_of([&] { bpnn::dataset_inputs(h, {}, 4); });
    CHECK(e.kind() == ErrorKind::data);
    CHECK(std::string(e.what()) == "t.csv:1:1: expected at least 4 input columns, the table has 3");
  }
  SECTION("a text column among the first columns is refused") {
    auto e = error_of([&] { bpnn::dataset_inputs(t, {}, 3); });
    CHECK_THAT(e.what(), StartsWith("t.csv:1:1: column \"label\" holds text"));
  }
  SECTION("names and count must agree") {
    CHECK(error_of([&] { bpnn::dataset_inputs(t, {"a"}, 2); }).kind() == ErrorKind::argument);
  }
}

namespace {

// n rows whose single input is the row index, with a one-hot-like target.
Dataset rows_indexed(std::size_t n) {
  Dataset d;
  d.n = n;
  d.inputs = 1;
  d.outputs = 2;
  d.input_names = {"i"};
  d.output_names = {"even", "odd"};
  for (std::size_t i = 0; i < n; ++i) {
    d.x.push_back(static_cast<double>(i));
    d.y.push_back(i % 2 == 0);
    d.y.push_back(i % 2 == 1);
  }
  return d;
}

std::vector<double> column(const Dataset& d) { return d.x; }

}  // namespace

TEST_CASE("dataset: the split is seeded, deterministic and a partition", "[data][dataset]") {
  const Dataset data = rows_indexed(150);
  auto [train, test] = bpnn::split_dataset(data, 0.2, 42);
  CHECK(test.n == 30);
  CHECK(train.n == 120);
  CHECK(train.x.size() == 120);
  CHECK(test.y.size() == 60);
  CHECK(train.input_names == data.input_names);
  CHECK(test.output_names == data.output_names);
  // Each part keeps the file order, and together they hold every row once.
  CHECK(std::is_sorted(train.x.begin(), train.x.end()));
  CHECK(std::is_sorted(test.x.begin(), test.x.end()));
  std::set<double> all(train.x.begin(), train.x.end());
  all.insert(test.x.begin(), test.x.end());
  CHECK(all.size() == 150);
  // Targets travel with their rows.
  for (std::size_t r = 0; r < test.n; ++r) CHECK(test.y[2 * r + 1] == static_cast<double>(static_cast<int>(test.x[r]) % 2));

  auto again = bpnn::split_dataset(data, 0.2, 42);
  CHECK(column(again.second) == column(test));
  CHECK(column(bpnn::split_dataset(data, 0.2, 43).second) != column(test));

  // The standard fixes mt19937_64's output, and the shuffle is bpnn's own: these rows are the
  // same on every platform and standard library. (Cross-checked against an independent Python
  // mt19937_64 running the same Fisher-Yates and bounded draw.)
  CHECK(column(bpnn::split_dataset(rows_indexed(10), 0.3, 7).second) == std::vector<double>{0, 4, 7});
  CHECK(column(test) == std::vector<double>{0,  9,  10, 11, 12, 14,  19,  30,  41,  42,
                                            47, 48, 50, 53, 77, 80,  82,  86,  90,  102,
                                            104, 111, 115, 116, 119, 120, 122, 129, 134, 148});
}

TEST_CASE("dataset: split sizes round, never empty a part, and check the fraction", "[data][dataset]") {
  CHECK(bpnn::split_dataset(rows_indexed(10), 0.0, 1).second.n == 0);
  CHECK(bpnn::split_dataset(rows_indexed(10), 0.01, 1).second.n == 1);   // rounds to 0, kept at 1
  CHECK(bpnn::split_dataset(rows_indexed(10), 0.25, 1).second.n == 3);   // 2.5 rounds up
  CHECK(bpnn::split_dataset(rows_indexed(10), 0.99, 1).second.n == 9);   // the train part keeps a row
  CHECK(bpnn::split_dataset(rows_indexed(1), 0.5, 1).first.n == 1);
  CHECK(error_of([] { bpnn::split_dataset(rows_indexed(4), 1.0, 1); }).kind() == ErrorKind::argument);
  CHECK(error_of([] { bpnn::split_dataset(rows_indexed(4), -0.1, 1); }).kind() == ErrorKind::argument);
}

TEST_CASE("dataset: the mt19937_64 the split relies on is the standard one", "[data][dataset]") {
  std::mt19937_64 rng;  // default seed 5489
  rng.discard(9999);
  CHECK(rng() == 9981545732273789042ull);  // [rand.predef]
}
