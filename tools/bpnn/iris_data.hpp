#pragma once
// The iris data set (Fisher 1936; 150 flowers, 4 measurements, 3 species), bundled as CSV text
// from tools/data/iris.csv so the demo runs anywhere.
#include <string_view>

namespace bpnn::cli {

std::string_view iris_csv();

}  // namespace bpnn::cli
