// Renders PlotSpec as SVG: nice round ticks, one polyline per series, a legend box.
#include "bpnn/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "bpnn/error.hpp"

namespace bpnn::cli {
namespace {

constexpr double width = 720, height = 440;
constexpr double left = 70, right = 20, top = 40, bottom = 60;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// A step of 1, 2 or 5 × 10^k giving about `target` intervals over [lo, hi].
double tick_step(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

struct Axis {
  double lo, hi, step;
};

Axis nice_axis(double lo, double hi) {
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double step = tick_step(lo, hi, 6);
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

}  // namespace

std::string svg_line_chart(const PlotSpec& spec) {
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  for (const auto& s : spec.series) {
    if (s.y.size() != spec.x.size())
      throw Error(ErrorKind::argument, "plot: series '" + s.label + "' has a different length than x");
    for (double v : s.y) {
      ymin = std::min(ymin, v);
      ymax = std::max(ymax, v);
    }
  }
  const double xmin_data = spec.x.empty() ? 0 : *std::min_element(spec.x.begin(), spec.x.end());
  const double xmax_data = spec.x.empty() ? 1 : *std::max_element(spec.x.begin(), spec.x.end());
  if (spec.x.empty()) ymin = 0, ymax = 1;
  const Axis xa = nice_axis(xmin_data, xmax_data), ya = nice_axis(ymin, ymax);
  const double pw = width - left - right, ph = height - top - bottom;
  const auto px = [&](double v) { return left + (v - xa.lo) / (xa.hi - xa.lo) * pw; };
  const auto py = [&](double v) { return top + ph - (v - ya.lo) / (ya.hi - ya.lo) * ph; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width) +
                    "\" height=\"" + number(height) + "\" viewBox=\"0 0 " + number(width) + " " +
                    number(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + number(width / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" +
         xml_escape(spec.title) + "</text>\n";
  // grid and ticks
  for (double v = xa.lo; v <= xa.hi + xa.step / 2; v += xa.step) {
    const double x = px(v);
    svg += "<line x1=\"" + number(x) + "\" y1=\"" + number(top) + "\" x2=\"" + number(x) +
           "\" y2=\"" + number(top + ph) + "\" stroke=\"#e4e4e4\"/>\n";
    svg += "<text x=\"" + number(x) + "\" y=\"" + number(top + ph + 18) +
           "\" text-anchor=\"middle\">" + number(v) + "</text>\n";
  }
  for (double v = ya.lo; v <= ya.hi + ya.step / 2; v += ya.step) {
    const double y = py(v);
    svg += "<line x1=\"" + number(left) + "\" y1=\"" + number(y) + "\" x2=\"" + number(left + pw) +
           "\" y2=\"" + number(y) + "\" stroke=\"#e4e4e4\"/>\n";
    svg += "<text x=\"" + number(left - 8) + "\" y=\"" + number(y + 4) +
           "\" text-anchor=\"end\">" + number(std::abs(v) < ya.step * 1e-9 ? 0.0 : v) + "</text>\n";
  }
  // axes and their labels
  svg += "<line x1=\"" + number(left) + "\" y1=\"" + number(top + ph) + "\" x2=\"" +
         number(left + pw) + "\" y2=\"" + number(top + ph) + "\" stroke=\"black\"/>\n";
  svg += "<line x1=\"" + number(left) + "\" y1=\"" + number(top) + "\" x2=\"" + number(left) +
         "\" y2=\"" + number(top + ph) + "\" stroke=\"black\"/>\n";
  svg += "<text x=\"" + number(left + pw / 2) + "\" y=\"" + number(height - 16) +
         "\" text-anchor=\"middle\">" + xml_escape(spec.x_label) + "</text>\n";
  svg += "<text transform=\"translate(18 " + number(top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(spec.y_label) + "</text>\n";
  // curves
  for (const auto& s : spec.series) {
    svg += "<polyline fill=\"none\" stroke=\"" + xml_escape(s.color) + "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < spec.x.size(); ++i)
      svg += number(px(spec.x[i])) + "," + number(py(s.y[i])) + " ";
    svg += "\"/>\n";
  }
  // legend: in whichever of the four corners or the right middle covers the fewest points
  const double lw = 140, lh = 10 + 20 * static_cast<double>(spec.series.size());
  double lx = 0, ly = 0;
  std::size_t fewest = SIZE_MAX;
  const double spots[5][2] = {{left + pw - lw - 10, top + 10},
                              {left + pw - lw - 10, top + (ph - lh) / 2},
                              {left + pw - lw - 10, top + ph - lh - 10},
                              {left + 10, top + 10},
                              {left + 10, top + ph - lh - 10}};
  for (const auto& spot : spots) {
    std::size_t covered = 0;
    for (const auto& series : spec.series)
      for (std::size_t i = 0; i < spec.x.size(); ++i) {
        const double x = px(spec.x[i]), y = py(series.y[i]);
        covered += x >= spot[0] && x <= spot[0] + lw && y >= spot[1] && y <= spot[1] + lh;
      }
    if (covered < fewest) {
      fewest = covered;
      lx = spot[0];
      ly = spot[1];
    }
  }
  svg += "<rect x=\"" + number(lx) + "\" y=\"" + number(ly) + "\" width=\"" + number(lw) +
         "\" height=\"" + number(lh) + "\" fill=\"white\" stroke=\"#999\"/>\n";
  for (std::size_t i = 0; i < spec.series.size(); ++i) {
    const double y = ly + 18 + 20 * static_cast<double>(i);
    svg += "<line x1=\"" + number(lx + 10) + "\" y1=\"" + number(y - 4) + "\" x2=\"" +
           number(lx + 40) + "\" y2=\"" + number(y - 4) + "\" stroke=\"" +
           xml_escape(spec.series[i].color) + "\" stroke-width=\"2\"/>\n";
    svg += "<text x=\"" + number(lx + 48) + "\" y=\"" + number(y) + "\">" +
           xml_escape(spec.series[i].label) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace bpnn::cli
