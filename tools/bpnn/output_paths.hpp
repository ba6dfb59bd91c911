#pragma once
// The CLI's rule for the files a command writes: no output may be the same file as an input
// (training data, --init-from, ...) or as another output. How each output is written (temporary
// file and rename, or straight to a device) is the model-I/O layer's business.
#include <string>
#include <vector>

namespace bpnn::cli {

// A file a command reads or writes, with the words that name it in messages ("--output").
struct CommandFile {
  std::string role;
  std::string path;
};

// Throws Error(argument) naming both when an output is the same file as an input or as another
// output, by bpnn::paths_same_file (the same inode, symlinks and hard links included, or for
// paths that do not exist yet the same place; devices and FIFOs are streams and may repeat).
void output_paths_check_distinct(const std::vector<CommandFile>& inputs,
                                 const std::vector<CommandFile>& outputs);

// True when writing `path` writes where this process's stdout goes (-o /dev/stdout, or the
// file stdout is redirected to): the command then keeps its progress lines off stdout.
bool output_is_stdout(const std::string& path);

}  // namespace bpnn::cli
