#pragma once
// What every fuzz target checks besides the sanitizers: bad input may only end in a bpnn::Error
// of an expected kind whose message is one short line naming the source; anything else (another
// exception, Error(internal), a message with control bytes or an unbounded echo) is a finding and
// aborts, so libFuzzer records the input as a crash.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>

#include "bpnn/error.hpp"

namespace bpnn::fuzz {

// Longer messages echo too much of the input (the rule: quote at most a short prefix).
constexpr std::size_t message_limit = 4096;

[[noreturn]] inline void finding(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "\n== bpnn fuzz finding: %.*s\n%.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
  std::abort();
}

inline const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::argument: return "argument";
    case ErrorKind::data: return "data";
    case ErrorKind::io: return "io";
    case ErrorKind::format: return "format";
    case ErrorKind::nonfinite: return "nonfinite";
    case ErrorKind::internal: return "internal";
    case ErrorKind::busy: return "busy";
  }
  return "unknown";
}

// Where a message must say the error is: in the source, at a LINE:COLUMN of it, or (IDX) in it
// or at a "byte N" or "record N" of it.
enum class Where { source, line_column, byte_or_record };

// "LINE:COLUMN: " at the start of `s`, both positive decimal numbers.
inline bool starts_with_line_column(std::string_view s) {
  for (int part = 0; part < 2; ++part) {
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    if (digits == 0 || s[0] == '0' || digits >= s.size() || s[digits] != ':') return false;
    s.remove_prefix(digits + 1);
  }
  return !s.empty() && s[0] == ' ';
}

// "byte N: " or "record N: " at the start of `s`, N a decimal number.
inline bool starts_with_byte_or_record(std::string_view s) {
  for (std::string_view word : {std::string_view("byte "), std::string_view("record ")}) {
    if (s.substr(0, word.size()) != word) continue;
    s.remove_prefix(word.size());
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    return digits > 0 && s.substr(digits, 2) == ": ";
  }
  return false;
}

// An Error raised by bad input: of one of `allowed` kinds, starting with "SOURCE: " or
// "SOURCE:LINE:COLUMN: ", on one line (no control bytes), at most message_limit bytes.
inline void error_check(const Error& e, std::initializer_list<ErrorKind> allowed, std::string_view source,
                        Where where) {
  const std::string_view msg = e.what();
  bool kind_ok = false;
  for (ErrorKind k : allowed) kind_ok = kind_ok || k == e.kind();
  if (!kind_ok) finding(std::string("Error of kind ") + kind_name(e.kind()), msg);
  const bool named = msg.size() > source.size() + 1 && msg.substr(0, source.size()) == source && msg[source.size()] == ':';
  const std::string_view rest = named ? msg.substr(source.size() + 1) : std::string_view();
  if (!named || (where == Where::source && rest.substr(0, 1) != " ") ||
      (where == Where::line_column && !starts_with_line_column(rest)) ||
      (where == Where::byte_or_record && rest.substr(0, 1) != " " && !starts_with_byte_or_record(rest)))
    finding("error message does not start with " + std::string(source) +
                (where == Where::source ? ": " : where == Where::line_column ? ":LINE:COLUMN: " : ": or :byte N: or :record N: "),
            msg);
  for (unsigned char c : msg)
    if (c < 0x20 || c == 0x7f) finding("error message holds a control byte " + std::to_string(c), msg);
  if (msg.size() > message_limit)
    finding("error message of " + std::to_string(msg.size()) + " bytes (limit " + std::to_string(message_limit) + ")",
            msg);
}

// Runs `body`; an Error is checked as above, any other exception is a finding.
template <class Body>
void expect_only_errors(Body&& body, std::initializer_list<ErrorKind> allowed, std::string_view source,
                        Where where) {
  try {
    body();
  } catch (const Error& e) {
    error_check(e, allowed, source, where);
  } catch (const std::exception& e) {
    finding("exception other than bpnn::Error", e.what());
  }
}

// A file in memory under a path the engine can open: the loaders take paths, and a memfd keeps
// the fuzz loop off the disk.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("bpnn-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) finding("setup", "memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { ::close(fd_); }

  // Replaces the contents with `bytes`; returns the path to open.
  const std::string& hold(const std::uint8_t* bytes, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) finding("setup", "ftruncate failed");
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(fd_, bytes + done, size - done, static_cast<off_t>(done));
      if (n <= 0) finding("setup", "pwrite failed");
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace bpnn::fuzz
