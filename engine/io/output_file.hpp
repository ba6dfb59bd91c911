#pragma once
// Every file bpnn writes — models, checkpoints, history CSV, plots, JSON, exports, `-o` of any
// command — goes through OutputFile (or output_file_write for a whole buffer), under one rule
// decided when the output is opened:
//
// - A regular file, or a path that does not exist yet (its folder must): the bytes go to a new
//   temporary file PATH.tmp-XXXXXXXX beside it (8 random hex digits; created exclusively, mode
//   0666 & ~umask or the replaced file's permission bits, held under flock(LOCK_EX) while it is
//   written), which commit() fsyncs, renames
//   over PATH and whose folder it then fsyncs: a crash leaves the old file or the new one, never
//   half of one. A symlink is resolved first (any chain of links, relative ones from the link's
//   folder): the link stays a link and its final target is replaced (or created). Opening also
//   removes leftovers PATH.tmp-XXXXXXXX of earlier writers that were killed mid-write — those no
//   process holds an flock on — and never one that is still being written.
// - A character device or a FIFO (/dev/null, /dev/stdout on a terminal or a pipe, a named pipe):
//   opened and written directly, never replaced. So is whatever a descriptor link under /proc
//   leads to (/dev/stdout, /dev/fd/N, /proc/self/fd/N when the shell redirected it to a file or a
//   socket); a regular file reached that way is written at its end (O_APPEND), after what the
//   process already wrote there.
// - Anything else (a folder, a socket, a block device): Error(io) before anything is written.
//
// Errors are Error(io, "PATH: what: strerror(errno)") naming the path as given. A temporary file
// is removed on every failure and when an OutputFile is destroyed without commit().
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace bpnn {

enum class OutputKind {
  replace,  // regular file or new path: temporary file + rename
  direct,   // character device, FIFO, or a /proc descriptor link: written in place
};

// The rule's decision for `path`, without writing anything: OutputKind, or Error(io) for a folder,
// a socket, a block device, a path whose folder does not exist, or one that cannot be examined.
// The CLI calls it on every output before it starts work (exit 4 early, not after training).
OutputKind output_kind(const std::string& path);

// Whether a and b are the same file for the "no output may equal an input or another output"
// rule: both exist and are the same inode (after following symlinks), or neither exists and they
// resolve to the same path. Character devices and FIFOs never count as the same file (two outputs
// may both go to /dev/null or /dev/stdout; a FIFO can be read and written).
bool paths_same_file(const std::string& a, const std::string& b);

// A streaming output. Nothing is visible at PATH until commit() (for OutputKind::replace).
class OutputFile {
 public:
  // Opens per the rule above (removing unlocked leftovers first); Error(io) when it cannot.
  explicit OutputFile(const std::string& path);
  OutputFile(OutputFile&&) noexcept;
  OutputFile& operator=(OutputFile&&) noexcept;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  // Without commit(): the temporary file is removed and PATH is left as it was (a device or FIFO
  // keeps what was already written to it). Never throws.
  ~OutputFile();

  // Appends bytes (retrying short writes and EINTR); Error(io) on failure.
  void write(std::span<const unsigned char> bytes);
  void write(std::string_view text);

  // Makes the output final: fsync, rename over PATH, fsync of the folder (replace), or closes the
  // device (direct). Error(io) on failure (the temporary file is then removed). Writing after
  // commit() is Error(internal).
  void commit();

  OutputKind kind() const;
  const std::string& path() const;  // as given to the constructor

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// OutputFile(path), write(bytes), commit(): a whole output in one call.
void output_file_write(const std::string& path, std::span<const unsigned char> bytes);
void output_file_write(const std::string& path, std::string_view text);

}  // namespace bpnn
