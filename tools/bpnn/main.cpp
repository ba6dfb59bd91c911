// bpnn: train and run back-propagation networks from the command line.
// Errors print one line "bpnn: message" on stderr and exit with a code from exit_codes.hpp.
// stderr carries nothing else but "bpnn: warning: ..." lines and, on a terminal, train's progress bar;
// epoch lines and results go to stdout.
#include <cstdio>
#include <exception>
#include <new>
#include <string_view>

#include <CLI/CLI.hpp>

#include "bpnn/error.hpp"
#include "bpnn/version.hpp"
#include "bpnn/commands.hpp"
#include "bpnn/exit_codes.hpp"
#include "bpnn/message_line.hpp"

namespace {

// Prints "bpnn: <prefix><message><suffix>" as one printable line on stderr.
void print_error(std::string_view prefix, std::string_view message, std::string_view suffix = {}) {
  const std::string line = bpnn::cli::message_one_line(message);
  std::fprintf(stderr, "bpnn: %.*s%s%.*s\n", static_cast<int>(prefix.size()), prefix.data(),
               line.c_str(), static_cast<int>(suffix.size()), suffix.data());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bpnn::cli;
  CLI::App app{"bpnn — train dense back-propagation neural networks on the CPU, fast"};
  app.set_version_flag("--version", "bpnn " BPNN_VERSION_STRING);
  app.require_subcommand(1);
  int exit_code = exit_ok;
  try {
    demo_command_register(app, exit_code);
    train_command_register(app, exit_code);
    predict_command_register(app, exit_code);
    bench_command_register(app, exit_code);
    export_command_register(app, exit_code);
    check_grad_command_register(app, exit_code);
    eval_command_register(app, exit_code);
    sweep_command_register(app, exit_code);
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error("", e.what(), " (see bpnn --help)");
    return exit_usage;
  } catch (const bpnn::Error& e) {
    print_error("", e.what());
    return exit_code_for(e.kind());
  } catch (const std::bad_alloc&) {
    print_error("", "out of memory");
    return exit_memory;
  } catch (const std::exception& e) {
    print_error("internal error: ", e.what());
    return exit_internal;
  }
  return exit_code;
}
