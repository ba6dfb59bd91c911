// The CLI's output rule; see output_paths.hpp.
#include "bpnn/output_paths.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "bpnn/error.hpp"

namespace bpnn::cli {
namespace {

// What identifies a file: device and inode when it exists, else its normalised absolute path.
struct FileIdentity {
  bool exists = false;
  bool stream = false;  // a character device or a FIFO
  dev_t device = 0;
  ino_t inode = 0;
  std::filesystem::path normal_path;
};

FileIdentity file_identity(const std::string& path) {
  FileIdentity id;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    id.exists = true;
    id.stream = S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode);
    id.device = st.st_dev;
    id.inode = st.st_ino;
  }
  std::error_code absolute_error, canonical_error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, absolute_error);
  id.normal_path = std::filesystem::weakly_canonical(absolute, canonical_error);
  if (absolute_error || canonical_error) id.normal_path = absolute.lexically_normal();
  return id;
}

bool same_file(const FileIdentity& a, const FileIdentity& b) {
  if (a.stream || b.stream) return false;
  if (a.exists || b.exists)
    return a.exists && b.exists && a.device == b.device && a.inode == b.inode;
  return a.normal_path == b.normal_path;
}

std::string named(const CommandFile& f) { return f.role + " (" + f.path + ")"; }

}  // namespace

void output_paths_check_distinct(const std::vector<CommandFile>& inputs,
                                 const std::vector<CommandFile>& outputs) {
  std::vector<FileIdentity> input_ids, output_ids;
  for (const CommandFile& f : inputs) input_ids.push_back(file_identity(f.path));
  for (const CommandFile& f : outputs) output_ids.push_back(file_identity(f.path));
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (same_file(output_ids[o], input_ids[i]))
        throw Error(ErrorKind::argument, named(outputs[o]) + " is the same file as " +
                                             named(inputs[i]) +
                                             ": an output must not overwrite an input");
    for (std::size_t p = 0; p < o; ++p)
      if (same_file(output_ids[o], output_ids[p]))
        throw Error(ErrorKind::argument, named(outputs[p]) + " and " + named(outputs[o]) +
                                             " are the same file: each output needs its own");
  }
}

bool output_is_stdout(const std::string& path) {
  struct stat out {
  }, st{};
  return ::fstat(STDOUT_FILENO, &out) == 0 && ::stat(path.c_str(), &st) == 0 &&
         out.st_dev == st.st_dev && out.st_ino == st.st_ino;
}

}  // namespace bpnn::cli
