#pragma once
// Whole-file reads.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace bpnn {

// The file's bytes. Throws Error(io, "PATH: cannot open: <strerror>") or "... cannot read: ...",
// also when the file holds more bytes than this machine has memory (checked before allocating).
std::string file_read_all(const std::string& path);

// A regular file's bytes mapped read-only, for one forward pass over a file much larger than the
// part of it that is kept (a row range, a shard): release_before gives the pages already passed
// back to the system, so the pass keeps about one window of the file resident, not the whole.
// Released pages read back from the file if touched again. The file must not shrink while
// mapped (reading a page past its new end raises SIGBUS), as with any mmap reader.
class FileWindow {
 public:
  // Maps `path`; nullptr when it is not a regular non-empty file or cannot be mapped (the caller
  // then reads it whole). Error(io) when it cannot be opened.
  static std::unique_ptr<FileWindow> open(const std::string& path);
  ~FileWindow();
  FileWindow(const FileWindow&) = delete;
  FileWindow& operator=(const FileWindow&) = delete;

  std::string_view text() const { return {data_, size_}; }
  // Gives back the whole pages before p once at least `window` bytes have been passed since the
  // last release.
  void release_before(const char* p);

 private:
  FileWindow(const char* data, std::size_t size, std::size_t page) : data_(data), size_(size), page_(page) {}
  static constexpr std::size_t window = std::size_t{8} << 20;
  const char* data_;
  std::size_t size_;
  std::size_t page_;
  std::size_t released_ = 0;
};

}  // namespace bpnn
