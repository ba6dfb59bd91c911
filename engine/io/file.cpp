#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

[[noreturn]] void io_fail(const std::string& path, const char* what, int err) {
  throw Error(ErrorKind::io, path + ": " + what + ": " + std::strerror(err));
}

// Removes the temporary file and closes its descriptor unless released (after the rename).
struct TempFile {
  std::string path;
  int fd = -1;
  bool keep = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!keep && !path.empty()) ::unlink(path.c_str());
  }
};

std::string suffix_random() {
  static constexpr char digits[] = "0123456789abcdef";
  std::random_device device;
  std::uint32_t r = device();
  std::string s(8, '0');
  for (auto& c : s) { c = digits[r & 0xFu]; r >>= 4; }
  return s;
}

}  // namespace

void file_write_atomic(const std::string& path, std::span<const unsigned char> bytes) {
  TempFile tmp;
  for (int attempt = 0; tmp.fd < 0; ++attempt) {
    std::string candidate = path + ".tmp-" + suffix_random();
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      tmp.path = std::move(candidate);
      tmp.fd = fd;
    } else if (errno != EEXIST || attempt >= 100) {
      io_fail(path, "cannot write", errno);
    }
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t put = ::write(tmp.fd, bytes.data() + done, bytes.size() - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      io_fail(path, "cannot write", errno);
    }
    done += static_cast<std::size_t>(put);
  }
  if (::fsync(tmp.fd) != 0) io_fail(path, "cannot write (fsync)", errno);
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) io_fail(path, "cannot write (close)", errno);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) io_fail(path, "cannot rename the temporary file over it", errno);
  tmp.keep = true;

  // Make the rename itself durable. Some file systems cannot fsync a folder (EINVAL); only a real
  // I/O error is reported.
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    const int rc = ::fsync(dir);
    const int err = errno;
    ::close(dir);
    if (rc != 0 && err == EIO) io_fail(path, "cannot sync its folder", err);
  }
}

}  // namespace bpnn
