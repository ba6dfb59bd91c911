#pragma once
// A line chart as a standalone SVG: curves against a shared x axis, with axes, ticks and a legend.
#include <string>
#include <vector>

namespace bpnn::cli {

struct PlotSeries {
  std::string label;
  std::string color;  // any SVG colour
  std::vector<double> y;
};

struct PlotSpec {
  std::string title, x_label, y_label;
  std::vector<double> x;
  std::vector<PlotSeries> series;  // each y has x.size() points
};

// Returns the SVG document. Throws bpnn::Error(argument) when a series' length differs from x.
std::string svg_line_chart(const PlotSpec& spec);

}  // namespace bpnn::cli
