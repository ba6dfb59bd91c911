// The epoch lines and the terminal's progress bar; see progress.hpp.
#include "bpnn/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "bpnn/error.hpp"

namespace bpnn::cli {
namespace {

constexpr double redraw_interval_s = 0.1;
constexpr const char* erase_line = "\r\x1b[2K";

template <class... Args>
void append(std::string& out, const char* format, Args... args) {
  char buf[128];
  std::snprintf(buf, sizeof buf, format, args...);
  out += buf;
}

// "1:05:09", "4:02", or "--" for a time that is not known yet.
std::string duration_format(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 3.6e8) return "--";
  const auto s = static_cast<unsigned long long>(std::llround(seconds));
  std::string out;
  if (s >= 3600)
    append(out, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
  else
    append(out, "%llu:%02llu", s / 60, s % 60);
  return out;
}

// Columns of the terminal behind `stream`; 80 when it cannot be asked.
std::size_t terminal_columns(std::FILE* stream) {
  winsize size{};
  if (ioctl(fileno(stream), TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) return size.ws_col;
  return 80;
}

}  // namespace

std::string epoch_line_format(const EpochLine& line) {
  std::string out;
  append(out, "epoch %zu loss %.9g", line.epoch, line.train_loss);
  if (std::isfinite(line.train_accuracy)) append(out, " accuracy %.4f", line.train_accuracy);
  if (std::isfinite(line.val_loss)) append(out, " val_loss %.9g", line.val_loss);
  if (std::isfinite(line.val_accuracy)) append(out, " val_accuracy %.4f", line.val_accuracy);
  if (std::isfinite(line.test_loss)) append(out, " test_loss %.9g", line.test_loss);
  if (std::isfinite(line.test_accuracy)) append(out, " test_accuracy %.4f", line.test_accuracy);
  if (std::isfinite(line.learning_rate)) append(out, " lr %.6g", line.learning_rate);
  append(out, " samples/s %.4g", line.samples_per_s);
  if (std::isfinite(line.elapsed)) append(out, " time %.3f", line.elapsed);
  if (line.best) out += " best";
  return out;
}

bool epoch_line_due(std::size_t epoch, std::size_t epochs, std::size_t log_every) {
  if (epoch == 0) return false;
  return epoch == epochs || (epoch - 1) % std::max<std::size_t>(log_every, 1) == 0;
}

bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return isatty(fileno(stderr)) != 0 && !(term != nullptr && std::string_view(term) == "dumb");
}

double ProgressDisplay::steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ProgressDisplay::ProgressDisplay(Verbosity verbosity, std::size_t log_every, bool stderr_is_terminal,
                                 std::FILE* out, std::FILE* err, Clock clock)
    : verbosity_(verbosity),
      log_every_(std::max<std::size_t>(log_every, 1)),
      terminal_(stderr_is_terminal),
      out_(out),
      err_(err),
      clock_(std::move(clock)) {}

ProgressDisplay::~ProgressDisplay() { bar_erase(); }

void ProgressDisplay::epoch_begin(std::size_t epoch, std::size_t epochs, std::size_t samples_total) {
  epoch_ = epoch;
  epochs_ = epochs;
  samples_total_ = samples_total;
  drew_before_ = false;
  if (verbosity_ == Verbosity::quiet || !terminal_) return;
  epoch_start_ = clock_();
}

void ProgressDisplay::batch(std::size_t samples_done, double running_mean_loss) {
  if (verbosity_ == Verbosity::quiet || !terminal_) return;
  const double now = clock_();
  if (drew_before_ && now - last_draw_ < redraw_interval_s) return;
  last_draw_ = now;
  drew_before_ = true;

  const std::size_t total = std::max<std::size_t>(samples_total_, 1);
  const std::size_t done = std::min(samples_done, total);
  const double elapsed = now - epoch_start_;
  const double rate = elapsed > 0 && done > 0 ? static_cast<double>(done) / elapsed : 0;
  const double left = static_cast<double>(total - done) +
                      static_cast<double>(epochs_ > epoch_ ? epochs_ - epoch_ : 0) * static_cast<double>(total);
  const double eta = rate > 0 ? left / rate : std::nan("");

  std::string head, tail;
  append(head, "epoch %zu/%zu ", epoch_, epochs_);
  append(tail, " %zu/%zu", done, total);
  if (rate > 0) append(tail, rate >= 100 ? " %.0f samples/s" : " %.3g samples/s", rate);
  if (std::isfinite(running_mean_loss)) append(tail, " loss %.4g", running_mean_loss);
  tail += " ETA " + duration_format(eta);
  // The bar takes what the line leaves beside the longest fields (" 1234567 samples/s loss
  // 1.234e-05 ETA 1:00:00", 44 characters), 10 to 30 cells, the same all epoch long.
  const std::size_t used = head.size() + 2 + 2 * std::to_string(total).size() + 1 + 44;
  const std::size_t columns = terminal_columns(err_) - 1;
  const std::size_t cells = std::clamp<std::size_t>(columns > used ? columns - used : 0, 10, 30);
  const auto full = static_cast<std::size_t>(static_cast<double>(cells) * static_cast<double>(done) /
                                             static_cast<double>(total));
  const std::string bar = "[" + std::string(full, '#') + std::string(cells - full, '.') + "]";
  const std::string text = erase_line + head + bar + tail;
  std::fputs(text.c_str(), err_);
  std::fflush(err_);
  drawn_ = true;
}

void ProgressDisplay::epoch_end(const EpochLine& line) {
  if (verbosity_ == Verbosity::quiet) return;
  bar_erase();
  if (line.last || epoch_line_due(line.epoch, line.epochs, log_every_))
    out_write(epoch_line_format(line) + "\n");
}

void ProgressDisplay::message(std::string_view line) {
  if (verbosity_ == Verbosity::quiet) return;
  bar_erase();
  std::string text = line.starts_with('#') ? std::string(line) : "# " + std::string(line);
  out_write(text + "\n");
}

void ProgressDisplay::warning(std::string_view text) {
  if (verbosity_ == Verbosity::quiet) return;
  bar_erase();
  std::fprintf(err_, "bpnn: warning: %.*s\n", static_cast<int>(text.size()), text.data());
  std::fflush(err_);
}

void ProgressDisplay::bar_erase() {
  if (!drawn_) return;
  std::fputs(erase_line, err_);
  std::fflush(err_);
  drawn_ = false;
}

void ProgressDisplay::out_write(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0)
    throw Error(ErrorKind::io, "stdout: write failed");
}

}  // namespace bpnn::cli
