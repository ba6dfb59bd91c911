// The confusion matrix as a heat map; see confusion_plot.hpp.
#include "bpnn/confusion_plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "bpnn/error.hpp"
#include "bpnn/svg_plot.hpp"
#include "io/output_file.hpp"

namespace bpnn::cli {
namespace {

constexpr std::size_t name_max_code_points = 24;
constexpr double title_font = 15, axis_font = 13;

struct Rgb {
  double r, g, b;
};

// White → mid blue → dark blue (ColorBrewer "Blues" ends and middle), t in [0, 1].
Rgb blues(double t) {
  constexpr std::array<Rgb, 3> stops{{{247, 251, 255}, {107, 174, 214}, {8, 48, 107}}};
  t = std::clamp(t, 0.0, 1.0);
  const std::size_t i = t < 0.5 ? 0 : 1;
  const double f = (t - 0.5 * static_cast<double>(i)) * 2;
  const Rgb& a = stops[i];
  const Rgb& b = stops[i + 1];
  return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}

std::string hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<unsigned>(std::lround(c.r)),
                static_cast<unsigned>(std::lround(c.g)), static_cast<unsigned>(std::lround(c.b)));
  return buf;
}

// Relative brightness 0 (black) … 1 (white), Rec. 601 weights: enough to pick the text colour.
double brightness(Rgb c) { return (0.299 * c.r + 0.587 * c.g + 0.114 * c.b) / 255; }

// The name cut after name_max_code_points code points, "…" marking the cut.
std::string name_short(const std::string& name) {
  std::size_t points = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if ((static_cast<unsigned char>(name[i]) & 0xC0) == 0x80) continue;
    if (points++ == name_max_code_points) return name.substr(0, i) + "…";
  }
  return name;
}

std::string text(double x, double y, const std::string& anchor, double size, std::string_view content,
                 const std::string& extra = "") {
  return "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" text-anchor=\"" + anchor +
         "\" font-size=\"" + svg_number(size) + "\"" + extra + ">" + svg_escape(content) + "</text>\n";
}

}  // namespace

std::string confusion_matrix_svg(std::span<const std::size_t> counts, const std::vector<std::string>& names,
                                 const std::string& title) {
  const std::size_t n = names.size();
  if (n == 0 || counts.size() != n * n)
    throw Error(ErrorKind::argument, "confusion plot: " + std::to_string(counts.size()) + " counts for " +
                                         std::to_string(n) + " classes (need classes², at least 1)");
  std::vector<std::string> labels;
  for (const std::string& name : names) labels.push_back(name_short(name));
  const std::size_t largest = *std::max_element(counts.begin(), counts.end());
  const double digits = static_cast<double>(std::to_string(largest).size());

  // Square size: 600 px over the classes, 16 to 90 px, and room for the widest count at 8 px.
  const double cell = std::max(std::clamp(std::floor(600 / static_cast<double>(n)), 16.0, 90.0),
                               std::ceil(svg_text_width(std::string(static_cast<std::size_t>(digits), '0'), 8) + 4));
  const double count_font = std::min({16.0, cell * 0.42, (cell - 4) / (0.6 * digits)});
  const double label_font = std::clamp(cell * 0.7, 9.0, 12.0);
  double widest = 0;
  for (const std::string& label : labels) widest = std::max(widest, svg_text_width(label, label_font));
  const bool columns_upright = widest > cell - 4;

  const double grid = cell * static_cast<double>(n);
  const double left = 30 + 10 + widest + 8;  // "true", then the row names ending 8 px before the grid
  const double top = 48;
  const double column_labels = columns_upright ? widest + 8 : label_font + 8;
  const double bottom = column_labels + 36;  // then "predicted"
  const double colour_bar_x = left + grid + 24, colour_bar_w = 14;
  const double content_width = colour_bar_x + colour_bar_w + 60;
  const double width = std::max(content_width, svg_text_width(title, title_font) + 40);
  const double height = top + grid + bottom;
  const auto at = [&](std::size_t i) { return static_cast<double>(i) * cell; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(width) +
                    "\" height=\"" + svg_number(height) + "\" viewBox=\"0 0 " + svg_number(width) + " " +
                    svg_number(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += text(width / 2, 26, "middle", title_font, title);
  svg += "<g transform=\"translate(" + svg_number((width - content_width) / 2) + " 0)\">\n";  // centred

  // the squares and their counts
  for (std::size_t t = 0; t < n; ++t) {
    std::size_t row_total = 0;
    for (std::size_t p = 0; p < n; ++p) row_total += counts[t * n + p];
    for (std::size_t p = 0; p < n; ++p) {
      const std::size_t count = counts[t * n + p];
      const double share = row_total ? static_cast<double>(count) / static_cast<double>(row_total) : 0;
      const Rgb fill = blues(share);
      const double x = left + at(p), y = top + at(t);
      svg += "<rect x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" width=\"" + svg_number(cell) +
             "\" height=\"" + svg_number(cell) + "\" fill=\"" + hex(fill) +
             "\" stroke=\"white\" stroke-width=\"1\"><title>" + svg_escape("true " + names[t] + ", predicted " +
             names[p] + ": " + std::to_string(count)) + "</title></rect>\n";
      const std::string colour = count == 0 ? "#a0a0a0" : brightness(fill) < 0.55 ? "white" : "black";
      svg += text(x + cell / 2, y + cell / 2 + count_font * 0.35, "middle", count_font, std::to_string(count),
                  " fill=\"" + colour + "\"");
    }
  }
  svg += "<rect x=\"" + svg_number(left) + "\" y=\"" + svg_number(top) + "\" width=\"" + svg_number(grid) +
         "\" height=\"" + svg_number(grid) + "\" fill=\"none\" stroke=\"#808080\"/>\n";

  // class names: rows on the left, columns below (upright when they do not fit a square)
  for (std::size_t i = 0; i < n; ++i) {
    svg += text(left - 8, top + at(i) + cell / 2 + label_font * 0.35, "end", label_font, labels[i]);
    const double cx = left + at(i) + cell / 2, cy = top + grid + 8;
    if (columns_upright)
      svg += "<text transform=\"translate(" + svg_number(cx + label_font * 0.35) + " " + svg_number(cy) +
             ") rotate(-90)\" text-anchor=\"end\" font-size=\"" + svg_number(label_font) + "\">" +
             svg_escape(labels[i]) + "</text>\n";
    else
      svg += text(cx, cy + label_font, "middle", label_font, labels[i]);
  }
  svg += text(left + grid / 2, top + grid + column_labels + 20, "middle", axis_font, "predicted",
              " font-weight=\"bold\"");
  svg += "<text transform=\"translate(20 " + svg_number(top + grid / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"" + svg_number(axis_font) +
         "\" font-weight=\"bold\">true</text>\n";

  // colour bar: share of the true class's rows, 0 % at the bottom to 100 % at the top
  svg += "<defs><linearGradient id=\"share\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
         "<stop offset=\"0\" stop-color=\"" + hex(blues(0)) + "\"/><stop offset=\"0.5\" stop-color=\"" +
         hex(blues(0.5)) + "\"/><stop offset=\"1\" stop-color=\"" + hex(blues(1)) + "\"/></linearGradient></defs>\n";
  svg += "<rect x=\"" + svg_number(colour_bar_x) + "\" y=\"" + svg_number(top) + "\" width=\"" +
         svg_number(colour_bar_w) + "\" height=\"" + svg_number(grid) +
         "\" fill=\"url(#share)\" stroke=\"#808080\"/>\n";
  for (int percent : {0, 50, 100})
    svg += text(colour_bar_x + colour_bar_w + 4, top + grid * (1 - percent / 100.0) + 4, "start", 11,
                std::to_string(percent) + "%");
  svg += "<text transform=\"translate(" + svg_number(colour_bar_x + colour_bar_w + 44) + " " +
         svg_number(top + grid / 2) + ") rotate(-90)\" text-anchor=\"middle\" font-size=\"11\">" +
         "share of the true class</text>\n";
  svg += "</g>\n</svg>\n";
  return svg;
}

void confusion_plot_write(const std::string& path, const Evaluation& e, const std::vector<std::string>& names,
                          const std::string& title) {
  if (!e.classifier || e.n_classes == 0 || e.confusion.size() != e.n_classes * e.n_classes)
    throw Error(ErrorKind::argument,
                "--plot: the confusion matrix needs a classifier (a softmax output, or sigmoid outputs "
                "with 0/1 targets); this model scores as regression");
  output_file_write(path, confusion_matrix_svg(e.confusion, names, title));
}

}  // namespace bpnn::cli
