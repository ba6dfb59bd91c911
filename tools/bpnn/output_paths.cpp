// The CLI's output rule; see output_paths.hpp.
#include "bpnn/output_paths.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "bpnn/error.hpp"
#include "io/output_file.hpp"

namespace bpnn::cli {
namespace {

std::string named(const CommandFile& f) { return f.role + " (" + f.path + ")"; }

}  // namespace

void output_paths_check_distinct(const std::vector<CommandFile>& inputs,
                                 const std::vector<CommandFile>& outputs) {
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    for (const CommandFile& input : inputs)
      if (paths_same_file(outputs[o].path, input.path))
        throw Error(ErrorKind::argument, named(outputs[o]) + " is the same file as " +
                                             named(input) +
                                             ": an output must not overwrite an input");
    for (std::size_t p = 0; p < o; ++p)
      if (paths_same_file(outputs[o].path, outputs[p].path))
        throw Error(ErrorKind::argument, named(outputs[p]) + " and " + named(outputs[o]) +
                                             " are the same file: each output needs its own");
  }
}

bool output_is_stdout(const std::string& path) {
  struct stat out {}, st {};
  return ::fstat(STDOUT_FILENO, &out) == 0 && ::stat(path.c_str(), &st) == 0 &&
         out.st_dev == st.st_dev && out.st_ino == st.st_ino;
}

}  // namespace bpnn::cli
