// Learning-rate schedules; see schedule.hpp and include/bpnn/train.hpp.
#include "train/schedule.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorKind::argument, what); }

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

std::vector<std::string_view> fields_of(std::string_view text) {
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    const std::size_t colon = text.find(':', start);
    fields.push_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) return fields;
    start = colon + 1;
  }
}

std::size_t whole_field(std::string_view text, std::string_view field, std::string_view what) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc{} || end != field.data() + field.size() || v > max_epochs)
    fail("schedule \"" + std::string(text) + "\": " + std::string(what) + " must be a whole number up to " +
         std::to_string(max_epochs) + ", not \"" + std::string(field) + "\"");
  return v;
}

double real_field(std::string_view text, std::string_view field, std::string_view what) {
  double v = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc{} || end != field.data() + field.size() || !std::isfinite(v))
    fail("schedule \"" + std::string(text) + "\": " + std::string(what) + " must be a number, not \"" +
         std::string(field) + "\"");
  return v;
}

}  // namespace

void schedule_validate(const Schedule& s) {
  switch (s.kind) {
    case ScheduleKind::constant:
    case ScheduleKind::cosine:
      return;
    case ScheduleKind::step:
      if (s.step_epochs == 0 || s.step_epochs > max_epochs) fail("schedule step: EPOCHS must be at least 1");
      if (!(s.gamma > 0 && s.gamma <= 1)) fail("schedule step: GAMMA must be in (0, 1], not " + number(s.gamma));
      return;
    case ScheduleKind::plateau:
      if (s.patience > max_epochs) fail("schedule plateau: PATIENCE must be at most " + std::to_string(max_epochs));
      if (!(s.factor > 0 && s.factor < 1)) fail("schedule plateau: FACTOR must be in (0, 1), not " + number(s.factor));
      return;
  }
  fail("schedule: unknown kind");
}

Schedule parse_schedule(std::string_view text) {
  const std::vector<std::string_view> f = fields_of(text);
  Schedule s;
  if (f[0] == "constant" && f.size() == 1) {
    s.kind = ScheduleKind::constant;
  } else if (f[0] == "cosine" && f.size() == 1) {
    s.kind = ScheduleKind::cosine;
  } else if (f[0] == "step" && f.size() == 3) {
    s.kind = ScheduleKind::step;
    s.step_epochs = whole_field(text, f[1], "EPOCHS");
    s.gamma = real_field(text, f[2], "GAMMA");
  } else if (f[0] == "plateau" && f.size() == 3) {
    s.kind = ScheduleKind::plateau;
    s.patience = whole_field(text, f[1], "PATIENCE");
    s.factor = real_field(text, f[2], "FACTOR");
  } else {
    fail("schedule \"" + std::string(text) +
         "\": expected constant, step:EPOCHS:GAMMA, cosine or plateau:PATIENCE:FACTOR");
  }
  schedule_validate(s);
  return s;
}

std::string to_string(const Schedule& s) {
  switch (s.kind) {
    case ScheduleKind::constant: return "constant";
    case ScheduleKind::cosine: return "cosine";
    case ScheduleKind::step: return "step:" + std::to_string(s.step_epochs) + ":" + number(s.gamma);
    case ScheduleKind::plateau: return "plateau:" + std::to_string(s.patience) + ":" + number(s.factor);
  }
  return "?";
}

LearningRateSchedule::LearningRateSchedule(const Schedule& schedule, double base, std::size_t epochs)
    : schedule_(schedule), base_(base), epochs_(epochs) {
  state_.rate = base;
  state_.best = std::numeric_limits<double>::infinity();
}

double LearningRateSchedule::rate(std::size_t epoch) const {
  switch (schedule_.kind) {
    case ScheduleKind::constant:
      return base_;
    case ScheduleKind::step:
      return base_ * std::pow(schedule_.gamma, static_cast<double>(epoch / schedule_.step_epochs));
    case ScheduleKind::cosine:
      return base_ * 0.5 *
             (1 + std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(epochs_)));
    case ScheduleKind::plateau:
      return state_.rate;
  }
  return base_;
}

void LearningRateSchedule::observe(double loss) {
  if (schedule_.kind != ScheduleKind::plateau) return;
  if (loss < state_.best * (1 - plateau_threshold)) {
    state_.best = loss;
    state_.bad_epochs = 0;
  } else {
    ++state_.bad_epochs;
  }
  if (state_.bad_epochs > schedule_.patience) {
    const double reduced = state_.rate * schedule_.factor;
    if (state_.rate - reduced > plateau_min_change) state_.rate = reduced;
    state_.bad_epochs = 0;
  }
}

}  // namespace bpnn
