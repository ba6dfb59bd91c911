// bpnn: train and run back-propagation networks from the command line.
// Errors print one line "bpnn: message" on stderr and exit with a code from exit_codes.hpp.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "bpnn/error.hpp"
#include "bpnn/version.hpp"
#include "bpnn/commands.hpp"
#include "bpnn/exit_codes.hpp"

int main(int argc, char** argv) {
  using namespace bpnn::cli;
  CLI::App app{"bpnn — train dense back-propagation neural networks on the CPU, fast"};
  app.set_version_flag("--version", "bpnn " BPNN_VERSION_STRING);
  app.require_subcommand(1);
  int exit_code = exit_ok;
  demo_command_register(app, exit_code);
  train_command_register(app, exit_code);
  predict_command_register(app, exit_code);
  bench_command_register(app, exit_code);
  export_command_register(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "bpnn: %s (see bpnn --help)\n", e.what());
    return exit_usage;
  } catch (const bpnn::Error& e) {
    std::fprintf(stderr, "bpnn: %s\n", e.what());
    return exit_code_for(e.kind());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "bpnn: out of memory\n");
    return exit_memory;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bpnn: internal error: %s\n", e.what());
    return exit_internal;
  }
  return exit_code;
}
