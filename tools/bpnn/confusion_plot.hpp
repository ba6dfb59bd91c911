#pragma once
// The confusion matrix as an SVG heat map (`bpnn eval --plot FILE.svg`): one square per (true,
// predicted) pair, rows = true class top to bottom, columns = predicted class left to right, in
// the model's class order; each square holds its count, and its colour is the count's share of
// the true class's rows (white 0 % to dark blue 100 %, so the diagonal reads as recall whatever
// the class sizes), with a colour bar. Counts are white on dark squares, black on light ones,
// grey for 0. Axis titles "true" and "predicted"; class names on both axes (cut after 24
// characters with "…"; the column names turned upright when they do not fit a square). The
// squares shrink from 90 px to 16 px as the classes grow (2 to 50 and beyond), never below what
// the largest count needs.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "bpnn/evaluate.hpp"

namespace bpnn::cli {

// counts: n × n row-major (row = true, column = predicted), names: n class names, n ≥ 1.
// Throws Error(argument) when the sizes disagree.
std::string confusion_matrix_svg(std::span<const std::size_t> counts, const std::vector<std::string>& names,
                                 const std::string& title);

// The heat map of a classifier's evaluation, written by the output rule (io/output_file.hpp).
// Throws Error(argument) when `e` is not a classifier's (no classes, no confusion matrix),
// Error(io) naming the path when it cannot be written.
void confusion_plot_write(const std::string& path, const Evaluation& e, const std::vector<std::string>& names,
                          const std::string& title);

}  // namespace bpnn::cli
