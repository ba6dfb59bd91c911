#pragma once
// Each subcommand registers its options on the app and sets `exit_code` when it runs.
#include <CLI/CLI.hpp>

namespace bpnn::cli {

void demo_command_register(CLI::App& app, int& exit_code);
void train_command_register(CLI::App& app, int& exit_code);
void predict_command_register(CLI::App& app, int& exit_code);
void bench_command_register(CLI::App& app, int& exit_code);
void export_command_register(CLI::App& app, int& exit_code);
void check_grad_command_register(CLI::App& app, int& exit_code);
void eval_command_register(CLI::App& app, int& exit_code);
void sweep_command_register(CLI::App& app, int& exit_code);

}  // namespace bpnn::cli
