#include "io/output_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "bpnn/error.hpp"

namespace bpnn {
namespace {

constexpr const char* temp_infix = ".tmp-";
constexpr std::size_t temp_digits = 8;
constexpr int link_hops_max = 40;  // as the kernel's MAXSYMLINKS

[[noreturn]] void io_fail(const std::string& path, const std::string& what, int err) {
  throw Error(ErrorKind::io, path + ": " + what + ": " + std::strerror(err));
}

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Whether the symlink at `link` lives under /proc (a descriptor link such as /proc/self/fd/1,
// reached also as /dev/stdout or /dev/fd/1): its "target" names an open file, not a path to
// replace.
bool link_is_descriptor(const std::string& link) {
  char resolved[PATH_MAX];
  if (::realpath(folder_of(link).c_str(), resolved) == nullptr) return false;
  return std::strncmp(resolved, "/proc/", 6) == 0;
}

std::string link_read(const std::string& link, const std::string& path) {
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t n = ::readlink(link.c_str(), buf.data(), buf.size());
    if (n < 0) io_fail(path, "cannot resolve the symlink " + link, errno);
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (buf.size() >= (std::size_t{1} << 16)) io_fail(path, "cannot resolve the symlink " + link, ENAMETOOLONG);
    buf.resize(buf.size() * 2);
  }
}

struct Resolved {
  OutputKind kind;
  std::string target;    // replace: the final path the rename goes to; direct: the path as given
  bool append = false;   // direct to a regular file through a descriptor link
};

// The output rule's decision for `path` (see output_file.hpp).
Resolved output_resolve(const std::string& path) {
  if (path.empty()) io_fail("\"\"", "cannot write", ENOENT);
  struct stat st {};
  bool exists = false;
  if (::stat(path.c_str(), &st) == 0) {
    exists = true;
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return {OutputKind::direct, path};
    if (S_ISDIR(st.st_mode)) io_fail(path, "cannot write", EISDIR);
  } else if (errno != ENOENT) {
    io_fail(path, "cannot write", errno);
  }
  // A regular file or a new path: follow the symlinks to the file the rename must replace. A
  // descriptor link on the way (/dev/stdout) is written in place, whatever it leads to (a file,
  // or a socket when the caller's stdout is one).
  std::string target = path;
  for (int hops = 0;; ++hops) {
    struct stat lst {};
    if (::lstat(target.c_str(), &lst) != 0) {
      if (errno == ENOENT) break;
      io_fail(path, "cannot write", errno);
    }
    if (!S_ISLNK(lst.st_mode)) break;
    if (hops == link_hops_max) io_fail(path, "cannot write", ELOOP);
    if (link_is_descriptor(target)) {
      if (exists) return {OutputKind::direct, path, S_ISREG(st.st_mode)};
      io_fail(path, "cannot write", ENOENT);  // a descriptor link to nothing
    }
    std::string next = link_read(target, path);
    if (next.empty() || next[0] != '/') next = folder_of(target) + "/" + next;
    target = std::move(next);
  }
  if (exists && !S_ISREG(st.st_mode))
    throw Error(ErrorKind::io, path + ": cannot write: not a regular file, character device or FIFO");
  const std::string folder = folder_of(target);
  struct stat fst {};
  if (::stat(folder.c_str(), &fst) != 0) io_fail(path, "cannot write", errno);
  if (!S_ISDIR(fst.st_mode)) io_fail(path, "cannot write", ENOTDIR);
  return {OutputKind::replace, target};
}

bool temp_name_of(const std::string& name, const std::string& base) {
  const std::string prefix = base + temp_infix;
  if (name.size() != prefix.size() + temp_digits || name.compare(0, prefix.size(), prefix) != 0) return false;
  for (std::size_t i = prefix.size(); i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Removes TARGET.tmp-XXXXXXXX files whose writer is gone: a writer holds flock(LOCK_EX) on its
// temporary file until it renames or removes it, and the kernel drops the lock when the writer
// dies. A file is removed only while this process holds its lock and the name still refers to
// the locked inode. Best effort: a leftover that cannot be removed stays.
void leftovers_remove(const std::string& target) {
  const std::string folder = folder_of(target), base = base_of(target);
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (!temp_name_of(name, base)) continue;
    const std::string leftover = folder + "/" + name;
    const int fd = ::open(leftover.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && S_ISREG(held.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        ::lstat(leftover.c_str(), &named) == 0 && named.st_dev == held.st_dev && named.st_ino == held.st_ino)
      ::unlink(leftover.c_str());
    ::close(fd);
  }
  ::closedir(dir);
}

std::string suffix_random() {
  static constexpr char digits[] = "0123456789abcdef";
  std::random_device device;
  std::uint32_t r = device();
  std::string s(temp_digits, '0');
  for (auto& c : s) { c = digits[r & 0xFu]; r >>= 4; }
  return s;
}

// Creates TARGET.tmp-XXXXXXXX exclusively and takes its lock. A cleaner of another save may grab
// a fresh file between open and flock and remove it: then the lock fails, or the file has no name
// left, and another name is tried.
int temp_create(const std::string& target, const std::string& path, std::string& temp) {
  for (int attempt = 0;; ++attempt) {
    if (attempt >= 100) io_fail(path, "cannot write", EEXIST);
    std::string candidate = target + temp_infix + suffix_random();
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      io_fail(path, "cannot write", errno);
    }
    struct stat held {}, named {};
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &held) == 0 && held.st_nlink > 0 &&
        ::lstat(candidate.c_str(), &named) == 0 && named.st_dev == held.st_dev && named.st_ino == held.st_ino) {
      temp = std::move(candidate);
      return fd;
    }
    ::close(fd);
  }
}

void folder_sync(const std::string& target, const std::string& path) {
  // Make the rename itself durable. Some file systems cannot fsync a folder (EINVAL); only a real
  // I/O error is reported.
  const int dir = ::open(folder_of(target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  const int rc = ::fsync(dir);
  const int err = errno;
  ::close(dir);
  if (rc != 0 && err == EIO) io_fail(path, "cannot sync its folder", err);
}

}  // namespace

struct OutputFile::State {
  std::string path;    // as given
  Resolved resolved;
  std::string temp;    // replace: the temporary file while it exists
  int fd = -1;
  bool committed = false;

  ~State() {
    if (fd >= 0) ::close(fd);
    if (!temp.empty()) ::unlink(temp.c_str());
  }
};

OutputKind output_kind(const std::string& path) { return output_resolve(path).kind; }

bool paths_same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  const bool a_exists = ::stat(a.c_str(), &sa) == 0, b_exists = ::stat(b.c_str(), &sb) == 0;
  if (a_exists != b_exists) return false;
  if (a_exists) {
    if (S_ISCHR(sa.st_mode) || S_ISFIFO(sa.st_mode) || S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  }
  // Neither exists yet: compare where their writes would land.
  auto landing = [](const std::string& p) {
    std::string target = p;
    try {
      target = output_resolve(p).target;
    } catch (const Error&) {
    }
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(std::filesystem::absolute(target, ec), ec);
    return ec ? std::filesystem::path(target).lexically_normal() : canonical;
  };
  return landing(a) == landing(b);
}

OutputFile::OutputFile(const std::string& path) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.path = path;
  s.resolved = output_resolve(path);
  if (s.resolved.kind == OutputKind::direct) {
    s.fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | (s.resolved.append ? O_APPEND : 0));
    if (s.fd < 0) io_fail(path, "cannot write", errno);
    return;
  }
  leftovers_remove(s.resolved.target);
  s.fd = temp_create(s.resolved.target, path, s.temp);
  // A replaced file keeps its permission bits (a private 0600 model stays private).
  struct stat old {};
  if (::stat(s.resolved.target.c_str(), &old) == 0 && S_ISREG(old.st_mode))
    (void)::fchmod(s.fd, old.st_mode & 07777);
}

OutputFile::OutputFile(OutputFile&&) noexcept = default;
OutputFile& OutputFile::operator=(OutputFile&&) noexcept = default;
OutputFile::~OutputFile() = default;

void OutputFile::write(std::span<const unsigned char> bytes) {
  State& s = *state_;
  if (s.committed || s.fd < 0) throw Error(ErrorKind::internal, s.path + ": write after commit");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t put = ::write(s.fd, bytes.data() + done, bytes.size() - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      io_fail(s.path, "cannot write", errno);
    }
    done += static_cast<std::size_t>(put);
  }
}

void OutputFile::write(std::string_view text) {
  write(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

void OutputFile::commit() {
  State& s = *state_;
  if (s.committed || s.fd < 0) throw Error(ErrorKind::internal, s.path + ": commit twice");
  if (s.resolved.kind == OutputKind::direct) {
    const int fd = s.fd;
    s.fd = -1;
    if (::close(fd) != 0) io_fail(s.path, "cannot write (close)", errno);
    s.committed = true;
    return;
  }
  if (::fsync(s.fd) != 0) io_fail(s.path, "cannot write (fsync)", errno);
  if (::rename(s.temp.c_str(), s.resolved.target.c_str()) != 0)
    io_fail(s.path, "cannot rename the temporary file over it", errno);
  s.temp.clear();  // the name is now the target's
  const int fd = s.fd;
  s.fd = -1;
  s.committed = true;
  const int closed = ::close(fd);  // also drops the lock
  if (closed != 0) io_fail(s.path, "cannot write (close)", errno);
  folder_sync(s.resolved.target, s.path);
}

OutputKind OutputFile::kind() const { return state_->resolved.kind; }
const std::string& OutputFile::path() const { return state_->path; }

void output_file_write(const std::string& path, std::span<const unsigned char> bytes) {
  OutputFile out(path);
  out.write(bytes);
  out.commit();
}

void output_file_write(const std::string& path, std::string_view text) {
  OutputFile out(path);
  out.write(text);
  out.commit();
}

}  // namespace bpnn
