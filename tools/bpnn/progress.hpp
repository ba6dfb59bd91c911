#pragma once
// What `bpnn train` shows while it trains: one line per epoch, and on a terminal a progress bar
// within the epoch.
//
// - stdout (`out`) carries the epoch lines and the "# ..." information lines, as plain text.
// - stderr (`err`) carries warnings and, only when it is a terminal, the progress bar, redrawn
//   in place ("\r" and the ANSI erase-line "\x1b[2K") at most 10 times a second and erased
//   before any line is printed, so the terminal keeps one summary line per logged epoch.
// - Verbosity::quiet prints nothing at all: errors are the caller's (main's) business.
//
// Which epochs get a line: epoch_line_due below. A ProgressDisplay belongs to one thread.
#include <cstddef>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

namespace bpnn::cli {

struct EpochLine {
  static constexpr double none = std::numeric_limits<double>::quiet_NaN();
  std::size_t epoch = 0;   // 1-based
  std::size_t epochs = 0;  // the run's planned epochs
  double train_loss = none;
  double train_accuracy = none;  // NaN unless the targets are classes
  double val_loss = none;        // NaN without validation data
  double val_accuracy = none;    // NaN without validation data, or without classes
  double test_loss = none;       // train --test: the scores on that file; NaN without
  double test_accuracy = none;
  double learning_rate = none;   // NaN when the optimizer has none (irprop)
  double seconds = 0;            // wall time of this epoch
  double samples_per_s = 0;
  double elapsed = none;  // seconds since the command started, without --test's scoring
  bool best = false;  // the validation loss improved on every earlier epoch's
  bool last = false;  // the run ends here before `epochs` (early stopping): logged like the last
};

// The epoch line, without a newline. Fields appear only when they are finite (best when set):
//   epoch N loss X [accuracy A] [val_loss V] [val_accuracy A] [test_loss T] [test_accuracy A]
//   [lr L] samples/s S [time E] [best]
// X and V with %.9g, accuracies %.4f, L %.6g, S %.4g: "epoch N loss X" is the line's start as it
// always was.
std::string epoch_line_format(const EpochLine& line);

// Whether epoch (1-based, of `epochs`) gets a line with --log-every `log_every` (0 counts as 1):
// epochs 1, 1 + N, 1 + 2N, … and always the last one, so that N = 10 over 25 epochs logs
// 1, 11, 21 and 25.
bool epoch_line_due(std::size_t epoch, std::size_t epochs, std::size_t log_every);

enum class Verbosity { quiet, normal };

// Whether stderr is a terminal that takes the bar's escape codes: isatty, and TERM not "dumb".
bool stderr_is_terminal();

class ProgressDisplay {
 public:
  // Seconds from any fixed origin, never decreasing: the display's clock (injectable for tests).
  using Clock = std::function<double()>;
  static double steady_seconds();  // std::chrono::steady_clock

  // stderr_is_terminal: isatty(fileno(stderr)) in the CLI; out and err: stdout and stderr.
  ProgressDisplay(Verbosity verbosity, std::size_t log_every, bool stderr_is_terminal, std::FILE* out,
                  std::FILE* err, Clock clock = steady_seconds);
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;
  ~ProgressDisplay();  // erases a bar still drawn (training ended by an error mid-epoch)

  // An epoch starts: `samples_total` samples in it.
  void epoch_begin(std::size_t epoch, std::size_t epochs, std::size_t samples_total);
  // samples_done of the epoch's samples are through, at this mean loss so far. On a terminal the
  // bar is redrawn when 0.1 s has passed since the last drawing (and on the first call):
  //   epoch 3/10 [#########...........] 2700/6000 12345 samples/s loss 0.1234 ETA 0:42
  // the bar 10 to 30 cells wide, as the terminal's width leaves room for.
  // ETA: the rest of this epoch and the epochs after it at this epoch's rate so far.
  void batch(std::size_t samples_done, double running_mean_loss);
  // The epoch's summary: its line on `out` when epoch_line_due or line.last; the bar is erased
  // either way.
  // Throws Error(io) when `out` cannot be written (a full disk, a closed pipe).
  void epoch_end(const EpochLine& line);
  // An information line, "# " prepended when it lacks one, on `out`; nothing when quiet.
  void message(std::string_view line);
  // "bpnn: warning: TEXT" on `err`, after erasing the bar; nothing when quiet.
  void warning(std::string_view text);

 private:
  void bar_erase();
  void out_write(const std::string& text);

  Verbosity verbosity_;
  std::size_t log_every_;
  bool terminal_;
  std::FILE* out_;
  std::FILE* err_;
  Clock clock_;
  std::size_t epoch_ = 0, epochs_ = 0, samples_total_ = 0;
  double epoch_start_ = 0, last_draw_ = 0;
  bool drawn_ = false;       // a bar is on the terminal's current line
  bool drew_before_ = false;  // the bar was drawn at least once this epoch
};

}  // namespace bpnn::cli
