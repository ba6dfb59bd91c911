#pragma once
// Line charts as standalone SVG: curves against a shared x axis, with axes, ticks and a legend;
// one chart, or several stacked under one title. Also the small SVG text helpers the CLI's other
// pictures (confusion_plot.hpp) share.
#include <string>
#include <string_view>
#include <vector>

namespace bpnn::cli {

struct PlotSeries {
  std::string label;
  std::string color;  // any SVG colour
  std::vector<double> y;
  // Circles at the points instead of a line (a marked point: NaN everywhere else).
  bool points_only = false;
};

// A non-finite y (or one ≤ 0 on a log axis) is a gap: the line stops there and goes on after it.
// A point with no neighbour on either side is drawn as a dot, so a one-epoch run still shows.
struct PlotSpec {
  std::string title, x_label, y_label;
  std::vector<double> x;
  std::vector<PlotSeries> series;  // each y has x.size() points
  bool log_y = false;    // y on a logarithmic axis with ticks at powers of ten
  bool x_whole = false;  // x ticks only at whole numbers (epochs)
};

// Returns the SVG document (720×440). Throws bpnn::Error(argument) when a series' length differs
// from x.
std::string svg_line_chart(const PlotSpec& spec);

// The panels stacked top to bottom (720 wide, 320 high each) under `title`; each panel's own
// title, when not empty, is a subtitle above it. Throws as svg_line_chart.
std::string svg_line_charts(const std::string& title, const std::vector<PlotSpec>& panels);

// v as SVG writes numbers ("%.6g": no locale, no exponent for ordinary coordinates).
std::string svg_number(double v);
// Text with <, >, & and " escaped, for element content and attribute values.
std::string svg_escape(std::string_view text);
// Width in pixels that `text` takes in a sans-serif font of `font_size`, estimated (0.6 em per
// character, counting UTF-8 code points): for margins and for choosing where labels fit.
double svg_text_width(std::string_view text, double font_size);

}  // namespace bpnn::cli
