// Whole-file reads, the first step of the data path (CSV files, model files).
#include "data/file_read.hpp"

#include <fcntl.h>
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

}  // namespace bpnn
