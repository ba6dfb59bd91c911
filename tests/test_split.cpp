// Stratified splits keep each class's share on both sides; other targets split at random.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>

#include "bpnn/data.hpp"
#include "bpnn/error.hpp"

namespace {

// n rows whose label cycles through `classes` with the given weights (class c appears weight[c]
// times per cycle), one-hot encoded.
bpnn::Dataset labelled(std::size_t n, const std::vector<std::size_t>& weights) {
  bpnn::Dataset d;
  d.n = n;
  d.inputs = 1;
  d.outputs = weights.size();
  std::vector<std::size_t> cycle;
  for (std::size_t c = 0; c < weights.size(); ++c) cycle.insert(cycle.end(), weights[c], c);
  for (std::size_t r = 0; r < n; ++r) {
    d.x.push_back(static_cast<double>(r));
    for (std::size_t c = 0; c < weights.size(); ++c) d.y.push_back(cycle[r % cycle.size()] == c);
  }
  for (std::size_t c = 0; c < weights.size(); ++c) d.classes.push_back("c" + std::to_string(c));
  return d;
}

std::map<std::size_t, std::size_t> class_counts(const bpnn::Dataset& d) {
  std::map<std::size_t, std::size_t> counts;
  for (std::size_t r = 0; r < d.n; ++r)
    for (std::size_t c = 0; c < d.outputs; ++c)
      if (d.y[r * d.outputs + c] == 1) counts[c]++;
  return counts;
}

}  // namespace

TEST_CASE("a stratified split keeps every class's share on both sides", "[split]") {
  const bpnn::Dataset d = labelled(1000, {7, 2, 1});  // 700, 200, 100 rows
  const auto [train, test] = bpnn::split_dataset_stratified(d, 0.25, 3);
  CHECK(class_counts(test) == std::map<std::size_t, std::size_t>{{0, 175}, {1, 50}, {2, 25}});
  CHECK(class_counts(train) == std::map<std::size_t, std::size_t>{{0, 525}, {1, 150}, {2, 75}});
  CHECK(train.n + test.n == 1000);
  // every row once, each side in file order
  std::vector<double> all(train.x);
  all.insert(all.end(), test.x.begin(), test.x.end());
  std::sort(all.begin(), all.end());
  for (std::size_t r = 0; r < 1000; ++r) REQUIRE(all[r] == static_cast<double>(r));
  CHECK(std::is_sorted(test.x.begin(), test.x.end()));
  // seeded: the same seed the same split, another seed another
  CHECK(bpnn::split_dataset_stratified(d, 0.25, 3).second.x == test.x);
  CHECK(bpnn::split_dataset_stratified(d, 0.25, 4).second.x != test.x);
}

TEST_CASE("a plain random split can miss a rare class, a stratified one cannot", "[split]") {
  const bpnn::Dataset d = labelled(200, {19, 1});  // 10 rows of class 1
  std::size_t misses = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    misses += class_counts(bpnn::split_dataset(d, 0.1, seed).second).count(1) == 0;
    CHECK(class_counts(bpnn::split_dataset_stratified(d, 0.1, seed).second)[1] == 1);
  }
  CHECK(misses > 0);
}

TEST_CASE("targets that are not classes split like split_dataset", "[split]") {
  bpnn::Dataset d;
  d.n = 50;
  d.inputs = d.outputs = 1;
  for (std::size_t r = 0; r < 50; ++r) {
    d.x.push_back(static_cast<double>(r));
    d.y.push_back(0.5 * static_cast<double>(r));
  }
  CHECK(bpnn::split_dataset_stratified(d, 0.2, 9).second.x == bpnn::split_dataset(d, 0.2, 9).second.x);
  CHECK_THROWS_AS(bpnn::split_dataset_stratified(d, 1.0, 9), bpnn::Error);
}

TEST_CASE("dataset_rows gathers the given rows in order and refuses a row past the end", "[split]") {
  const bpnn::Dataset d = labelled(10, {1, 1});
  const bpnn::Dataset picked = bpnn::dataset_rows(d, {7, 2, 7});
  REQUIRE(picked.n == 3);
  CHECK(picked.x == std::vector<double>{7, 2, 7});
  CHECK(picked.y == std::vector<double>{0, 1, 1, 0, 0, 1});
  CHECK(picked.classes == d.classes);
  CHECK(bpnn::dataset_rows(d, {}).n == 0);
  CHECK_THROWS_WITH(bpnn::dataset_rows(d, {3, 10}),
                    Catch::Contains("row 10 of a data set of 10 rows"));
}
