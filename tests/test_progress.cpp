// The CLI's training display (tools/bpnn/progress.hpp): plain epoch lines off a terminal, the
// in-place bar on one, --quiet, --log-every, and the format of the epoch line.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>

#include "bpnn/error.hpp"
#include "bpnn/progress.hpp"

using bpnn::cli::EpochLine;
using bpnn::cli::epoch_line_due;
using bpnn::cli::epoch_line_format;
using bpnn::cli::ProgressDisplay;
using bpnn::cli::Verbosity;

namespace {

// A FILE* whose bytes the test reads back.
struct CapturedStream {
  std::FILE* file = std::tmpfile();
  CapturedStream() { REQUIRE(file != nullptr); }
  CapturedStream(const CapturedStream&) = delete;
  CapturedStream& operator=(const CapturedStream&) = delete;
  ~CapturedStream() { std::fclose(file); }
  std::string text() const {
    std::fflush(file);
    std::rewind(file);
    std::string out;
    char buf[4096];
    for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, file)) > 0;) out.append(buf, got);
    return out;
  }
};

// A clock the test sets by hand.
struct ManualClock {
  double now = 0;
  ProgressDisplay::Clock clock() {
    return [this] { return now; };
  }
};

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

bool has_escape_codes(const std::string& text) {
  return text.find('\x1b') != std::string::npos || text.find('\r') != std::string::npos;
}

EpochLine plain_line(std::size_t epoch, std::size_t epochs) {
  EpochLine line;
  line.epoch = epoch;
  line.epochs = epochs;
  line.train_loss = 0.125;
  line.samples_per_s = 2000;
  return line;
}

}  // namespace

TEST_CASE("the epoch line keeps 'epoch N loss X' and adds the validation and lr fields when present",
          "[progress]") {
  CHECK(epoch_line_format(plain_line(2, 9)) == "epoch 2 loss 0.125 samples/s 2000");
  EpochLine full = plain_line(3, 9);
  full.train_loss = 1.0 / 3;
  full.train_accuracy = 0.5;
  full.val_loss = 0.375;
  full.val_accuracy = 0.75;
  full.learning_rate = 0.01;
  full.samples_per_s = 1234.25;
  full.best = true;
  CHECK(epoch_line_format(full) ==
        "epoch 3 loss 0.333333333 accuracy 0.5000 val_loss 0.375 val_accuracy 0.7500 lr 0.01 "
        "samples/s 1234 best");
  EpochLine regression_with_validation = plain_line(4, 9);
  regression_with_validation.val_loss = 0.25;
  regression_with_validation.learning_rate = 0.001;
  CHECK(epoch_line_format(regression_with_validation) == "epoch 4 loss 0.125 val_loss 0.25 lr 0.001 samples/s 2000");
}

TEST_CASE("off a terminal, epoch lines go to stdout as plain lines and stderr stays empty", "[progress]") {
  CapturedStream out, err;
  ManualClock time;
  {
    ProgressDisplay display(Verbosity::normal, 1, false, out.file, err.file, time.clock());
    display.message("3 samples, 2 inputs");
    for (std::size_t epoch = 1; epoch <= 2; ++epoch) {
      display.epoch_begin(epoch, 2, 100);
      for (std::size_t done = 10; done <= 100; done += 10) {
        time.now += 1;
        display.batch(done, 0.5);
      }
      display.epoch_end(plain_line(epoch, 2));
    }
  }
  CHECK(out.text() ==
        "# 3 samples, 2 inputs\n"
        "epoch 1 loss 0.125 samples/s 2000\n"
        "epoch 2 loss 0.125 samples/s 2000\n");
  CHECK(err.text().empty());
}

TEST_CASE("on a terminal, the bar is redrawn in place at most 10 times a second, with its ETA", "[progress]") {
  CapturedStream out, err;
  ManualClock time;
  ProgressDisplay display(Verbosity::normal, 1, true, out.file, err.file, time.clock());
  display.epoch_begin(1, 3, 1000);
  display.batch(100, 0.5);  // drawn at once; no rate yet, so no ETA
  CHECK(count_of(err.text(), "\r\x1b[2K") == 1);
  CHECK_THAT(err.text(), Catch::Contains("epoch 1/3 [") && Catch::Contains("100/1000") &&
                             Catch::Contains("ETA --"));
  time.now = 0.05;
  display.batch(200, 0.45);  // 50 ms after the last drawing: not redrawn
  CHECK(count_of(err.text(), "\r\x1b[2K") == 1);
  time.now = 1.0;
  display.batch(500, 0.4);  // 500 samples/s; 500 left of this epoch + 2 × 1000 after it = 5 s
  const std::string bar = err.text();
  CHECK(count_of(bar, "\r\x1b[2K") == 2);
  CHECK_THAT(bar, Catch::Contains("500/1000") && Catch::Contains("500 samples/s") &&
                      Catch::Contains("loss 0.4") && Catch::Contains("ETA 0:05"));
  CHECK(bar.find('\n') == std::string::npos);  // in place: never a new line
  CHECK(out.text().empty());

  display.epoch_end(plain_line(1, 3));  // the bar is erased, the summary line goes to stdout
  CHECK(err.text() == bar + "\r\x1b[2K");
  CHECK(out.text() == "epoch 1 loss 0.125 samples/s 2000\n");

  // The next epoch draws again at once; an ETA of an hour or more shows the hours.
  display.epoch_begin(2, 3, 10000);
  time.now = 2.0;
  display.batch(1, 0.4);  // 1 sample/s: 9999 + 10000 s left
  CHECK_THAT(err.text(), Catch::EndsWith("ETA 5:33:19"));
}

TEST_CASE("on a terminal, lines and warnings erase the bar first, and so does the destructor", "[progress]") {
  CapturedStream out, err;
  ManualClock time;
  {
    ProgressDisplay display(Verbosity::normal, 1, true, out.file, err.file, time.clock());
    display.epoch_begin(1, 1, 10);
    display.batch(5, 1.0);
    display.warning("the targets lie in [0, 9]");
    const std::string after_warning = err.text();
    CHECK_THAT(after_warning, Catch::EndsWith("\r\x1b[2Kbpnn: warning: the targets lie in [0, 9]\n"));
    time.now = 1;
    display.batch(6, 1.0);
    display.message("# saved m.st");
    CHECK_THAT(err.text(), Catch::EndsWith("\r\x1b[2K"));
    time.now = 2;
    display.batch(7, 1.0);  // an error ends training here: the bar must not stay behind
  }
  CHECK_THAT(err.text(), Catch::EndsWith("\r\x1b[2K"));
  CHECK(count_of(err.text(), "\r\x1b[2K") == 6);  // 3 drawings, 3 erasures
  CHECK(out.text() == "# saved m.st\n");
}

TEST_CASE("quiet prints nothing, on a terminal or not", "[progress]") {
  for (bool terminal : {false, true}) {
    CapturedStream out, err;
    ManualClock time;
    {
      ProgressDisplay display(Verbosity::quiet, 1, terminal, out.file, err.file, time.clock());
      display.message("# 150 samples");
      display.warning("a warning");
      for (std::size_t epoch = 1; epoch <= 3; ++epoch) {
        display.epoch_begin(epoch, 3, 10);
        time.now += 1;
        display.batch(5, 0.5);
        time.now += 1;
        display.batch(10, 0.5);
        display.epoch_end(plain_line(epoch, 3));
      }
    }
    INFO("terminal " << terminal);
    CHECK(out.text().empty());
    CHECK(err.text().empty());
  }
}

TEST_CASE("log_every N logs epochs 1, 1+N, 1+2N, ... and the last", "[progress]") {
  const auto logged = [](std::size_t epochs, std::size_t every) {
    std::vector<std::size_t> epochs_logged;
    for (std::size_t e = 1; e <= epochs; ++e)
      if (epoch_line_due(e, epochs, every)) epochs_logged.push_back(e);
    return epochs_logged;
  };
  CHECK(logged(25, 10) == std::vector<std::size_t>{1, 11, 21, 25});
  CHECK(logged(21, 10) == std::vector<std::size_t>{1, 11, 21});
  CHECK(logged(4, 1) == std::vector<std::size_t>{1, 2, 3, 4});
  CHECK(logged(4, 0) == std::vector<std::size_t>{1, 2, 3, 4});
  CHECK(logged(3, 100) == std::vector<std::size_t>{1, 3});
  CHECK(logged(1, 5) == std::vector<std::size_t>{1});

  // Through the display, off a terminal: epochs 1, 4, 7 of 7 with N = 3; an early stop at
  // epoch 5 of 9 (line.last) is logged too.
  CapturedStream out, err;
  ProgressDisplay display(Verbosity::normal, 3, false, out.file, err.file);
  for (std::size_t epoch = 1; epoch <= 7; ++epoch) {
    display.epoch_begin(epoch, 7, 4);
    display.epoch_end(plain_line(epoch, 7));
  }
  EpochLine stopped = plain_line(5, 9);
  stopped.last = true;
  display.epoch_end(stopped);
  CHECK(out.text() ==
        "epoch 1 loss 0.125 samples/s 2000\n"
        "epoch 4 loss 0.125 samples/s 2000\n"
        "epoch 7 loss 0.125 samples/s 2000\n"
        "epoch 5 loss 0.125 samples/s 2000\n");
  CHECK_FALSE(has_escape_codes(out.text()));
  CHECK(err.text().empty());
}

TEST_CASE("an epoch line that cannot be written is Error(io)", "[progress]") {
  std::FILE* full = std::fopen("/dev/full", "w");
  if (full == nullptr) {
    WARN("no /dev/full here: skipped");
    return;
  }
  CapturedStream err;
  ProgressDisplay display(Verbosity::normal, 1, false, full, err.file);
  display.epoch_begin(1, 1, 1);
  try {
    display.epoch_end(plain_line(1, 1));
    FAIL("no error");
  } catch (const bpnn::Error& e) {
    CHECK(e.kind() == bpnn::ErrorKind::io);
    CHECK_THAT(e.what(), Catch::Contains("stdout"));
  }
  std::fclose(full);
}
