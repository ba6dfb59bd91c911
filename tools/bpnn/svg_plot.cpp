// Renders PlotSpec as SVG: nice round ticks (or decades on a log axis), one polyline per run of
// finite points of each series, a legend box where it covers the fewest points.
#include "bpnn/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "bpnn/error.hpp"

namespace bpnn::cli {
namespace {

constexpr double chart_width = 720;
constexpr double title_height = 30;  // the document title's band above the panels
constexpr double single_panel_height = 410, stacked_panel_height = 320;
constexpr double margin_right = 20, margin_bottom = 60, margin_top = 10, subtitle_height = 20;
constexpr double font_size = 12;

// A step of 1, 2 or 5 × 10^k giving about `target` intervals over [lo, hi].
double tick_step(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

// An axis in its own units (log10 of the value on a log axis), its labelled ticks and its
// unlabelled minor grid lines.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks, minor;  // positions in axis units
  std::vector<std::string> labels;   // one per tick
};

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// [lo, hi] widened to nice multiples of a 1-2-5 step; one value v alone spans [0, 2v] (or
// [v − 0.5, v + 0.5] for v ≤ 0), so a single positive loss does not get a negative axis.
Axis linear_axis(double lo, double hi, bool whole) {
  if (!(hi > lo)) {
    if (lo > 0) lo = 0, hi *= 2;
    else lo -= 0.5, hi += 0.5;
  }
  double step = tick_step(lo, hi, 6);
  if (whole) step = std::max(step, 1.0);
  Axis a{std::floor(lo / step) * step, std::ceil(hi / step) * step, false, {}, {}, {}};
  for (double v = a.lo; v <= a.hi + step / 2; v += step) {
    const double tick = std::abs(v) < step * 1e-9 ? 0.0 : v;
    a.ticks.push_back(tick);
    a.labels.push_back(tick_label(tick));
  }
  return a;
}

// Decades from 10^floor(log10 lo) to 10^ceil(log10 hi), every k-th labelled so that at most 8
// are; 2×…9× grid lines between them when there are at most 5 decades.
Axis log_axis(double lo, double hi) {
  double first = std::floor(std::log10(lo)), last = std::ceil(std::log10(hi));
  if (last <= first) last = first + 1;
  const double every = std::ceil((last - first) / 8);
  first = std::floor(first / every) * every;
  last = std::ceil(last / every) * every;
  Axis a{first, last, true, {}, {}, {}};
  for (double k = first; k <= last + 0.5; k += every) {
    a.ticks.push_back(k);
    a.labels.push_back(k >= -4 && k <= 5 ? tick_label(std::pow(10.0, k))
                                         : "1e" + std::to_string(static_cast<long>(k)));
  }
  if (last - first <= 5)
    for (double k = first; k < last; ++k)
      for (int m = 2; m <= 9; ++m) a.minor.push_back(k + std::log10(m));
  return a;
}

struct Frame {
  double x, y, w, h;
};

// Whether v can be drawn on an axis (finite; positive on a log axis).
bool drawable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

void check_lengths(const PlotSpec& spec) {
  for (const auto& s : spec.series)
    if (s.y.size() != spec.x.size())
      throw Error(ErrorKind::argument, "plot: series '" + s.label + "' has a different length than x");
}

std::string line(double x1, double y1, double x2, double y2, const std::string& stroke,
                 const std::string& extra = "") {
  return "<line x1=\"" + svg_number(x1) + "\" y1=\"" + svg_number(y1) + "\" x2=\"" + svg_number(x2) +
         "\" y2=\"" + svg_number(y2) + "\" stroke=\"" + stroke + "\"" + extra + "/>\n";
}

std::string text(double x, double y, const std::string& anchor, std::string_view content,
                 const std::string& extra = "") {
  return "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" text-anchor=\"" + anchor +
         "\"" + extra + ">" + svg_escape(content) + "</text>\n";
}

// One chart inside `frame`: subtitle, grid, ticks, axes, axis labels, curves, legend.
void panel_draw(std::string& svg, const PlotSpec& spec, Frame frame) {
  check_lengths(spec);
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  for (const auto& s : spec.series)
    for (double v : s.y)
      if (drawable(v, spec.log_y)) {
        ymin = std::min(ymin, v);
        ymax = std::max(ymax, v);
      }
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  for (double v : spec.x)
    if (std::isfinite(v)) {
      xmin = std::min(xmin, v);
      xmax = std::max(xmax, v);
    }
  if (!(xmin <= xmax)) xmin = 0, xmax = 1;
  const bool have_y = ymin <= ymax;
  const Axis xa = linear_axis(xmin, xmax, spec.x_whole);
  const Axis ya = !have_y     ? linear_axis(spec.log_y ? 1 : 0, spec.log_y ? 10 : 1, false)
                  : spec.log_y ? log_axis(ymin, ymax)
                               : linear_axis(ymin, ymax, false);
  const auto to_y_axis = [&](double v) { return ya.log ? std::log10(v) : v; };

  double widest_label = 0;
  for (const auto& label : ya.labels) widest_label = std::max(widest_label, svg_text_width(label, font_size));
  const double left = std::max(70.0, 34 + widest_label);
  const double top = frame.y + margin_top + (spec.title.empty() ? 0 : subtitle_height);
  const double pl = frame.x + left, pw = frame.w - left - margin_right;
  const double ph = frame.y + frame.h - margin_bottom - top;
  const auto px = [&](double v) { return pl + (v - xa.lo) / (xa.hi - xa.lo) * pw; };
  const auto py = [&](double v) { return top + ph - (to_y_axis(v) - ya.lo) / (ya.hi - ya.lo) * ph; };
  const auto py_axis = [&](double a) { return top + ph - (a - ya.lo) / (ya.hi - ya.lo) * ph; };

  if (!spec.title.empty())
    svg += text(pl + pw / 2, top - 8, "middle", spec.title, " font-size=\"13\" font-weight=\"bold\"");
  for (double a : ya.minor) svg += line(pl, py_axis(a), pl + pw, py_axis(a), "#f0f0f0");
  for (std::size_t i = 0; i < xa.ticks.size(); ++i) {
    const double x = px(xa.ticks[i]);
    svg += line(x, top, x, top + ph, "#e4e4e4");
    svg += line(x, top + ph, x, top + ph + 4, "black");
    svg += text(x, top + ph + 18, "middle", xa.labels[i]);
  }
  for (std::size_t i = 0; i < ya.ticks.size(); ++i) {
    const double y = py_axis(ya.ticks[i]);
    svg += line(pl, y, pl + pw, y, "#e4e4e4");
    svg += line(pl - 4, y, pl, y, "black");
    svg += text(pl - 8, y + 4, "end", ya.labels[i]);
  }
  svg += line(pl, top + ph, pl + pw, top + ph, "black");
  svg += line(pl, top, pl, top + ph, "black");
  svg += text(pl + pw / 2, top + ph + 40, "middle", spec.x_label);
  svg += "<text transform=\"translate(" + svg_number(frame.x + 18) + " " + svg_number(top + ph / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + svg_escape(spec.y_label) + "</text>\n";

  // curves: one polyline per run of drawable points; a lone point (or points_only) as a dot
  for (const auto& s : spec.series) {
    const std::string color = svg_escape(s.color);
    const auto ok = [&](std::size_t i) { return std::isfinite(spec.x[i]) && drawable(s.y[i], spec.log_y); };
    for (std::size_t i = 0; i < spec.x.size();) {
      if (!ok(i)) {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < spec.x.size() && ok(end)) ++end;
      if (s.points_only || end - i == 1) {
        for (std::size_t j = i; j < end; ++j)
          svg += "<circle cx=\"" + svg_number(px(spec.x[j])) + "\" cy=\"" + svg_number(py(s.y[j])) +
                 "\" r=\"" + (s.points_only ? "5" : "3") + "\" fill=\"" + color + "\"/>\n";
      } else {
        svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\" points=\"";
        for (std::size_t j = i; j < end; ++j)
          svg += svg_number(px(spec.x[j])) + "," + svg_number(py(s.y[j])) + (j + 1 < end ? " " : "");
        svg += "\"/>\n";
      }
      i = end;
    }
  }
  if (spec.series.empty()) return;

  // legend: in whichever of the four corners or the right middle covers the fewest points
  double widest = 0;
  for (const auto& s : spec.series) widest = std::max(widest, svg_text_width(s.label, font_size));
  const double lw = std::min(pw - 20, 58 + widest), lh = 10 + 20 * static_cast<double>(spec.series.size());
  double lx = 0, ly = 0;
  std::size_t fewest = SIZE_MAX;
  const double spots[5][2] = {{pl + pw - lw - 10, top + 10},
                              {pl + pw - lw - 10, top + (ph - lh) / 2},
                              {pl + pw - lw - 10, top + ph - lh - 10},
                              {pl + 10, top + 10},
                              {pl + 10, top + ph - lh - 10}};
  for (const auto& spot : spots) {
    std::size_t covered = 0;
    for (const auto& series : spec.series)
      for (std::size_t i = 0; i < spec.x.size(); ++i) {
        if (!std::isfinite(spec.x[i]) || !drawable(series.y[i], spec.log_y)) continue;
        const double x = px(spec.x[i]), y = py(series.y[i]);
        covered += x >= spot[0] && x <= spot[0] + lw && y >= spot[1] && y <= spot[1] + lh;
      }
    if (covered < fewest) {
      fewest = covered;
      lx = spot[0];
      ly = spot[1];
    }
  }
  svg += "<rect x=\"" + svg_number(lx) + "\" y=\"" + svg_number(ly) + "\" width=\"" + svg_number(lw) +
         "\" height=\"" + svg_number(lh) + "\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#999\"/>\n";
  for (std::size_t i = 0; i < spec.series.size(); ++i) {
    const PlotSeries& s = spec.series[i];
    const double y = ly + 18 + 20 * static_cast<double>(i);
    if (s.points_only)
      svg += "<circle cx=\"" + svg_number(lx + 25) + "\" cy=\"" + svg_number(y - 4) +
             "\" r=\"5\" fill=\"" + svg_escape(s.color) + "\"/>\n";
    else
      svg += line(lx + 10, y - 4, lx + 40, y - 4, svg_escape(s.color), " stroke-width=\"2\"");
    svg += text(lx + 48, y, "start", s.label);
  }
}

std::string document_begin(double height, const std::string& title) {
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(chart_width) +
                    "\" height=\"" + svg_number(height) + "\" viewBox=\"0 0 " + svg_number(chart_width) +
                    " " + svg_number(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += text(chart_width / 2, 24, "middle", title, " font-size=\"15\"");
  return svg;
}

}  // namespace

std::string svg_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string svg_escape(std::string_view s) {
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

double svg_text_width(std::string_view text, double size) {
  std::size_t code_points = 0;
  for (char c : text) code_points += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return 0.6 * size * static_cast<double>(code_points);
}

std::string svg_line_chart(const PlotSpec& spec) {
  PlotSpec untitled = spec;
  untitled.title.clear();  // the title heads the document instead of the panel
  std::string svg = document_begin(title_height + single_panel_height, spec.title);
  panel_draw(svg, untitled, {0, title_height, chart_width, single_panel_height});
  svg += "</svg>\n";
  return svg;
}

std::string svg_line_charts(const std::string& title, const std::vector<PlotSpec>& panels) {
  for (const auto& panel : panels) check_lengths(panel);
  const double n = static_cast<double>(panels.size());
  std::string svg = document_begin(title_height + stacked_panel_height * n, title);
  for (std::size_t i = 0; i < panels.size(); ++i)
    panel_draw(svg, panels[i],
               {0, title_height + stacked_panel_height * static_cast<double>(i), chart_width, stacked_panel_height});
  svg += "</svg>\n";
  return svg;
}

}  // namespace bpnn::cli
