// The output rule (io/output_file.hpp): regular files and new paths are replaced atomically
// through a locked temporary file (symlinks resolved, the link kept), devices and FIFOs are
// written in place, anything else is Error(io); leftovers of killed writers are cleaned up.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bpnn/model_io.hpp"
#include "bpnn/network.hpp"
#include "io/output_file.hpp"
#include "io_test_util.hpp"

using bpnn::ErrorKind;
using bpnn::OutputKind;
using bpnn_test::error_of;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

namespace {

std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> sorted_entries(const bpnn_test::TempDir& dir) {
  auto entries = dir.entries();
  std::sort(entries.begin(), entries.end());
  return entries;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_CASE("output file: a new path and a regular file are replaced through a temporary file", "[io][output_file]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("out.txt");
  CHECK(bpnn::output_kind(path) == OutputKind::replace);
  bpnn::output_file_write(path, std::string_view("first"));
  CHECK(text_of(path) == "first");
  ::chmod(path.c_str(), 0600);
  const ino_t before = inode_of(path);
  bpnn::output_file_write(path, std::string_view("second"));
  CHECK(text_of(path) == "second");
  CHECK(inode_of(path) != before);  // renamed over, not rewritten in place
  CHECK((fs::status(path).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(sorted_entries(dir) == std::vector<std::string>{"out.txt"});

  SECTION("nothing appears before commit, and nothing is left without it") {
    {
      bpnn::OutputFile out(path);
      out.write(std::string_view("third"));
      CHECK(text_of(path) == "second");
      CHECK(dir.entries().size() == 2);  // out.txt and its temporary file
    }
    CHECK(text_of(path) == "second");
    CHECK(sorted_entries(dir) == std::vector<std::string>{"out.txt"});
  }
  SECTION("streaming writes, then commit") {
    bpnn::OutputFile out(path);
    out.write(std::string_view("a,b\n"));
    out.write(std::string_view("1,2\n"));
    out.commit();
    CHECK(text_of(path) == "a,b\n1,2\n");
    CHECK(error_of([&] { out.write(std::string_view("x")); }).kind() == ErrorKind::internal);
  }
}

TEST_CASE("output file: a symlink stays a link and its target is replaced", "[io][output_file]") {
  bpnn_test::TempDir dir;
  fs::create_directory(dir.file("real"));
  const auto target = dir.file("real/model.st");
  bpnn::output_file_write(target, std::string_view("old"));
  fs::create_symlink("real/model.st", dir.file("link1"));  // relative, from the link's folder
  fs::create_symlink(dir.file("link1"), dir.file("link2"));  // a chain
  bpnn::output_file_write(dir.file("link2"), std::string_view("new"));
  CHECK(fs::is_symlink(dir.file("link1")));
  CHECK(fs::is_symlink(dir.file("link2")));
  CHECK(fs::read_symlink(dir.file("link1")) == "real/model.st");
  CHECK(text_of(target) == "new");
  CHECK(sorted_entries(dir) == std::vector<std::string>{"link1", "link2", "real"});

  SECTION("a dangling link: its target is created") {
    fs::create_symlink("real/fresh.st", dir.file("dangling"));
    bpnn::output_file_write(dir.file("dangling"), std::string_view("made"));
    CHECK(fs::is_symlink(dir.file("dangling")));
    CHECK(text_of(dir.file("real/fresh.st")) == "made");
  }
  SECTION("save_model through a link") {
    bpnn::NetworkConfig c;
    c.sizes = {2, 1};
    bpnn::save_model(bpnn::Network(c), dir.file("link2"));
    CHECK(fs::is_symlink(dir.file("link1")));
    CHECK(bpnn::load_model(target).config().sizes == c.sizes);
  }
  SECTION("a loop of links is Error(io)") {
    fs::create_symlink("loop_b", dir.file("loop_a"));
    fs::create_symlink("loop_a", dir.file("loop_b"));
    auto e = error_of([&] { bpnn::output_file_write(dir.file("loop_a"), std::string_view("x")); });
    CHECK(e.kind() == ErrorKind::io);
  }
}

TEST_CASE("output file: a FIFO is written in place", "[io][output_file]") {
  bpnn_test::TempDir dir;
  const auto fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(bpnn::output_kind(fifo) == OutputKind::direct);
  std::string received;
  std::thread reader([&] { received = text_of(fifo); });
  bpnn::output_file_write(fifo, std::string_view("through the pipe"));
  reader.join();
  CHECK(received == "through the pipe");
  struct stat st {};
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK(dir.entries() == std::vector<std::string>{"pipe"});
}

TEST_CASE("output file: /dev/null stays a character device", "[io][output_file]") {
  CHECK(bpnn::output_kind("/dev/null") == OutputKind::direct);
  bpnn::output_file_write("/dev/null", std::string_view("discarded"));
  bpnn::NetworkConfig c;
  c.sizes = {2, 1};
  bpnn::save_model(bpnn::Network(c), "/dev/null");
  struct stat st {};
  REQUIRE(::lstat("/dev/null", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  // A link to a device is written through, too.
  bpnn_test::TempDir dir;
  fs::create_symlink("/dev/null", dir.file("null"));
  bpnn::output_file_write(dir.file("null"), std::string_view("x"));
  CHECK(fs::is_symlink(dir.file("null")));
  // /dev/stdout is a terminal, a pipe, a socket or a redirected file here: in place in every case.
  CHECK(bpnn::output_kind("/dev/stdout") == OutputKind::direct);
}

TEST_CASE("output file: /dev/fd/N of a redirected file appends to that file in place", "[io][output_file]") {
  // As `bpnn train ... -o /dev/stdout > log`: the shell's file gets the output after what the
  // process already printed, and is not replaced by another inode.
  bpnn_test::TempDir dir;
  const auto log = dir.write("log", "epoch 1\n");
  const ino_t before = inode_of(log);
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const std::string through = "/dev/fd/" + std::to_string(fd);
  CHECK(bpnn::output_kind(through) == OutputKind::direct);
  bpnn::output_file_write(through, std::string_view("model\n"));
  ::close(fd);
  CHECK(text_of(log) == "epoch 1\nmodel\n");
  CHECK(inode_of(log) == before);
  CHECK(dir.entries() == std::vector<std::string>{"log"});
}

TEST_CASE("output file: a folder, a socket or a missing folder is Error(io)", "[io][output_file]") {
  bpnn_test::TempDir dir;
  fs::create_directory(dir.file("folder"));
  auto e = error_of([&] { bpnn::output_file_write(dir.file("folder"), std::string_view("x")); });
  CHECK(e.kind() == ErrorKind::io);
  CHECK(std::string(e.what()) == dir.file("folder") + ": cannot write: " + std::strerror(EISDIR));
  CHECK(fs::is_directory(dir.file("folder")));
  CHECK(error_of([&] { bpnn::output_kind(dir.file("folder")); }).kind() == ErrorKind::io);

  const auto socket_path = dir.file("sock");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() < sizeof addr.sun_path) {
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    e = error_of([&] { bpnn::output_file_write(socket_path, std::string_view("x")); });
    CHECK(e.kind() == ErrorKind::io);
    CHECK_THAT(e.what(), Contains("not a regular file, character device or FIFO"));
  }
  ::close(fd);

  e = error_of([&] { bpnn::output_file_write(dir.file("none/out"), std::string_view("x")); });
  CHECK(e.kind() == ErrorKind::io);
  CHECK(std::string(e.what()) == dir.file("none/out") + ": cannot write: " + std::strerror(ENOENT));
}

TEST_CASE("output file: leftovers of killed writers go, files still being written stay", "[io][output_file]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("m.st");
  // As kill -9 leaves it: a temporary file nobody holds a lock on.
  dir.write("m.st.tmp-0123abcd", "half a model");
  // A writer still at work: the lock is held (by this test, through its own descriptor).
  const auto busy = dir.write("m.st.tmp-89abcdef", "being written");
  const int held = ::open(busy.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);
  // Names that are not this target's temporary files.
  dir.write("m.st.tmp-0123abc", "seven digits");
  dir.write("m.st.tmp-0123ABCD", "uppercase");
  dir.write("other.st.tmp-01234567", "another target's");
  fs::create_directory(dir.file("m.st.tmp-fedcba98"));  // not a regular file

  bpnn::output_file_write(path, std::string_view("model"));
  CHECK(sorted_entries(dir) == std::vector<std::string>{"m.st", "m.st.tmp-0123ABCD", "m.st.tmp-0123abc",
                                                        "m.st.tmp-89abcdef", "m.st.tmp-fedcba98",
                                                        "other.st.tmp-01234567"});
  CHECK(text_of(busy) == "being written");
  ::close(held);  // the writer is gone now: the next save removes its file
  bpnn::output_file_write(path, std::string_view("model 2"));
  CHECK(!fs::exists(busy));
  CHECK(text_of(path) == "model 2");
}

TEST_CASE("output file: a writer killed with SIGKILL mid-write leaves a file the next save removes", "[io][output_file]") {
  bpnn_test::TempDir dir;
  const auto path = dir.file("m.st");
  bpnn::output_file_write(path, std::string_view("old"));
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the writer: open, write half, die without any cleanup
    bpnn::OutputFile out(path);
    out.write(std::string_view("half a mod"));
    ::kill(::getpid(), SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  REQUIRE(dir.entries().size() == 2);  // m.st and the dead writer's m.st.tmp-XXXXXXXX
  CHECK(text_of(path) == "old");
  bpnn::output_file_write(path, std::string_view("new"));
  CHECK(dir.entries() == std::vector<std::string>{"m.st"});
  CHECK(text_of(path) == "new");
}

TEST_CASE("output file: a temporary file is locked while it is written", "[io][output_file]") {
  bpnn_test::TempDir dir;
  bpnn::OutputFile out(dir.file("m.st"));
  out.write(std::string_view("partial"));
  std::string temp;
  for (const auto& name : dir.entries())
    if (name.rfind("m.st.tmp-", 0) == 0) temp = dir.file(name);
  REQUIRE(!temp.empty());
  const int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(::flock(fd, LOCK_EX | LOCK_NB) != 0);  // the writer holds it
  ::close(fd);
  // A second writer of the same target leaves it alone.
  bpnn::output_file_write(dir.file("m.st"), std::string_view("other"));
  CHECK(fs::exists(temp));
  out.commit();
  CHECK(text_of(dir.file("m.st")) == "partial");
  CHECK(!fs::exists(temp));
}

TEST_CASE("output file: paths_same_file sees through links and spellings", "[io][output_file]") {
  bpnn_test::TempDir dir;
  const auto data = dir.write("data.csv", "a,b\n");
  fs::create_symlink(data, dir.file("alias.csv"));
  fs::create_hard_link(data, dir.file("hard.csv"));
  CHECK(bpnn::paths_same_file(data, dir.file("alias.csv")));
  CHECK(bpnn::paths_same_file(data, dir.file("hard.csv")));
  CHECK(bpnn::paths_same_file(data, dir.file("./sub/../data.csv")) == false);  // no folder "sub"
  fs::create_directory(dir.file("sub"));
  CHECK(bpnn::paths_same_file(data, dir.file("sub/../data.csv")));
  CHECK(bpnn::paths_same_file(dir.file("new.st"), dir.file("sub/../new.st")));
  CHECK(!bpnn::paths_same_file(dir.file("new.st"), dir.file("new2.st")));
  CHECK(!bpnn::paths_same_file(data, dir.file("new.st")));
  CHECK(!bpnn::paths_same_file("/dev/null", "/dev/null"));
}
