// Whole-file reads, the first step of the data path (CSV files, model files).
#include "data/file_read.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpnn/error.hpp"
#include "data/message_quote.hpp"
#include "nn/size_check.hpp"

namespace bpnn {

std::string file_read_all(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(ErrorKind::io, message_path(path) + ": cannot open: " + std::strerror(err));
  }
  std::string bytes;
  // The bytes must fit in memory: a sparse file's length, or a pipe that never ends, is refused
  // before it is allocated.
  const std::size_t memory = physical_memory_bytes();
  const auto too_large = [&] {
    ::close(fd);
    return Error(ErrorKind::io, message_path(path) + ": cannot read: the file is larger than this machine's " +
                                    format_bytes(memory) + " of memory");
  };
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size > memory) throw too_large();
    bytes.reserve(size);
  }
  char chunk[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(ErrorKind::io, message_path(path) + ": cannot read: " + std::strerror(err));
    }
    if (bytes.size() + static_cast<std::size_t>(got) > memory) throw too_large();
    bytes.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return bytes;
}

std::unique_ptr<FileWindow> FileWindow::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(ErrorKind::io, message_path(path) + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  void* map = MAP_FAILED;
  std::size_t size = 0;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    size = static_cast<std::size_t>(st.st_size);
    map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (map == MAP_FAILED) return nullptr;
  ::madvise(map, size, MADV_SEQUENTIAL);
  return std::unique_ptr<FileWindow>(
      new FileWindow(static_cast<const char*>(map), size, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))));
}

FileWindow::~FileWindow() { ::munmap(const_cast<char*>(data_), size_); }

void FileWindow::release_before(const char* p) {
  const std::size_t upto = static_cast<std::size_t>(p - data_) / page_ * page_;
  if (upto < released_ + window) return;
  ::madvise(const_cast<char*>(data_) + released_, upto - released_, MADV_DONTNEED);
  released_ = upto;
}

}  // namespace bpnn
