// bpnn bench: the benchmark workloads (or a custom network) for users, with Google Benchmark's
// console and JSON output, so that compare.py can compare two runs.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bpnn/cli_values.hpp"
#include "bpnn/commands.hpp"
#include "bpnn/error.hpp"
#include "data/file_read.hpp"
#include "io/output_file.hpp"
#include "nn/size_check.hpp"

#if BPNN_HAVE_MPI
#include <chrono>

#include "mpi/mpi_exchange.hpp"
#include "mpi/mpi_session.hpp"
#include "mpi_job_end.hpp"
#include "train/gradient_exchange.hpp"
#endif
#ifdef BPNN_HAVE_BENCHMARK
#include "fma_peak.hpp"
#include "gemm_reference.hpp"
#include "workloads.hpp"
#endif

namespace bpnn::cli {
namespace {

struct BenchOptions {
  std::vector<std::string> workloads;
  std::vector<std::size_t> layers;
  std::size_t batch = 1;
  std::string precision = "f32";
  std::vector<std::size_t> threads{1};
  std::string json_path;
  double min_time = 0.5;
  std::size_t repetitions = 1;
  double peak_gflops = 0;  // > 0: fixed f32 peak per core (f64: half of it)
  bool compare_blas = false;
  bool smoke = false;
};

#if defined(BPNN_HAVE_BENCHMARK) && BPNN_HAVE_MPI
// One rank's part of a workload trained data-parallel: the rows of its blocks of the synthetic
// data (the workload's generator run through, the other rows dropped) and a trainer on them
// (trainer_make_sharded), so no rank holds the whole data. Collective.
struct ShardedWorkloadRun {
  ShardedWorkloadRun(const bench::Workload& w, GradientExchange& exchange) : net(bench::WorkloadRun::config_for(w)) {
    const TrainConfig train = bench::workload_train_config(w);
    const ShardLayout layout = shard_layout_make(net.config(), train, w.samples);
    const RowRange mine = layout.rank_file_rows(static_cast<std::size_t>(exchange.rank()),
                                                static_cast<std::size_t>(exchange.ranks()));
    bench::workload_rows_fill(w, mine.begin, mine.end, x, y);
    trainer = trainer_make_sharded(net, train, exchange, layout, x.data(), y.data(), mine.end - mine.begin);
    if (w.precision == Precision::f32) {  // converted into the trainer's own f32 rows: these are unused
      x = {};
      y = {};
    }
  }
  Network net;
  std::vector<double> x, y;  // this rank's rows (an f64 trainer uses them in place)
  std::unique_ptr<Trainer> trainer;
};

// `mpirun -np P bpnn bench`: each mini-batch workload trained data-parallel for a fixed number of
// epochs (the same on every rank; Google Benchmark's adaptive iterations would differ between
// ranks), each rank generating and holding only its blocks' rows, after rank 0 alone has trained
// it as one process with P x threads threads on the whole data (the other ranks wait). Rank 0 prints samples/s of both, their ratio, and the fraction of the MPI run's
// time rank 0 spent in messages (sending, or waiting for other ranks).
void run_bench_mpi_on(MpiExchange& exchange, const std::vector<bench::Workload>& selected, bool smoke) {
  const int ranks = exchange.ranks();
  const int epochs = smoke ? 1 : 3;
  const auto timed = [&](bench::WorkloadRun& run) {
    run.trainer->run_epoch();  // warm-up: buffers, pages, threads
    const auto start = std::chrono::steady_clock::now();
    for (int e = 0; e < epochs; ++e) run.trainer->run_epoch();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (exchange.rank() == 0)
    std::printf("%-34s %14s %14s %8s %14s\n", "workload (MPI)", "samples/s", "1 process", "ratio", "comm_fraction");
  for (bench::Workload w : selected) {
    if (w.batch < static_cast<std::size_t>(ranks)) continue;  // per-sample workloads cannot be split
    double single = 0;
    if (exchange.rank() == 0) {  // the same workload, one process with all the ranks' threads
      bench::Workload one = w;
      one.threads = w.threads * ranks;
      bench::WorkloadRun run(one);
      single = static_cast<double>(epochs) * static_cast<double>(w.samples) / timed(run);
    }
    exchange.first_rank_with(false);  // the other ranks wait here
    ShardedWorkloadRun run(w, exchange);  // this rank's rows only
    run.trainer->run_epoch();
    const double waited = exchange.wait_seconds();
    const auto start = std::chrono::steady_clock::now();
    for (int e = 0; e < epochs; ++e) run.trainer->run_epoch();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = static_cast<double>(epochs) * static_cast<double>(w.samples) / seconds;
    if (exchange.rank() == 0) {
      const std::string name = "train/" + w.name + "/ranks:" + std::to_string(ranks) + "/threads:" + std::to_string(w.threads);
      std::printf("%-34s %14.1f %14.1f %8.3f %14.3f\n", name.c_str(), rate, single, rate / single,
                  (exchange.wait_seconds() - waited) / seconds);
    }
  }
  // BPNN_REPORT_PEAK_MEMORY=1 (as for `bpnn train`): each rank's peak resident memory on stderr
  // (rank 0's includes the 1-process run on the whole data)
  if (const char* report_memory = std::getenv("BPNN_REPORT_PEAK_MEMORY");
      report_memory != nullptr && std::string(report_memory) == "1")
    std::fprintf(stderr, "# rank %d: peak resident memory %.0f kB (VmHWM)\n", exchange.rank(),
                 bench::peak_rss_bytes() / 1024);
}

void run_bench_mpi(const std::vector<bench::Workload>& selected, bool smoke) {
  MpiSession session;
  MpiExchange exchange(MPI_COMM_WORLD);
  try {
    run_bench_mpi_on(exchange, selected, smoke);
  } catch (...) {  // a rank that fails leaves the others waiting in a step: end the job
    mpi_job_end_current(exchange.rank());
    throw;
  }
}
#endif

#ifdef BPNN_HAVE_BENCHMARK
void run_bench(const BenchOptions& o) {
  std::vector<int> threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (std::size_t t : o.threads) threads.push_back(t == 0 ? cores : static_cast<int>(t));

  std::vector<bench::Workload> selected;
  if (!o.layers.empty()) {
    NetworkConfig check;
    check.sizes = o.layers;
    validate(check);
    for (int t : threads) {
      std::string name;
      for (std::size_t s : o.layers) name += (name.empty() ? "" : "-") + std::to_string(s);
      bench::Workload w{name + "/batch:" + std::to_string(o.batch), o.layers, o.batch,
                        parse_precision(o.precision), t, 0};
      w.samples = bench::workload_default_samples(w.sizes, w.batch);
      selected.push_back(w);
    }
  } else {
    auto all = bench::workloads_standard(threads);
    const std::size_t standard = all.size();
    const auto scaling = bench::workloads_scaling(threads);
    all.insert(all.end(), scaling.begin(), scaling.end());
    const auto named = [&](const std::string& name) {
      return std::find(o.workloads.begin(), o.workloads.end(), name) != o.workloads.end();
    };
    for (std::size_t i = 0; i < all.size(); ++i)
      if ((o.workloads.empty() && i < standard) || named(all[i].name) ||
          (i >= standard && named("scaling")))
        selected.push_back(all[i]);
    for (const std::string& name : o.workloads)
      if (name != "scaling" &&
          std::none_of(all.begin(), all.end(), [&](const bench::Workload& w) { return w.name == name; }))
        throw Error(ErrorKind::argument,
                    "--workload " + name +
                        ": unknown (choose seed, seed_f64, small, mnist, wide, seed_sweep, "
                        "small_sweep, or scaling: deep, shallow, small_batch, large_input, mlp512)");
  }
  if (o.smoke) bench::workloads_make_smoke(selected);
#if BPNN_HAVE_MPI
  if (mpi_launched()) {
    run_bench_mpi(selected, o.smoke);
    return;
  }
#endif

  // Google Benchmark writes the JSON itself: to a temporary file, copied to --json through
  // bpnn's output rule afterwards (checked first, so a bad path fails before the benchmarks).
  if (!o.json_path.empty()) output_kind(o.json_path);
  const auto peak = o.peak_gflops > 0
                        ? std::make_shared<bench::PeakTracker>(
                              bench::FmaPeak{o.peak_gflops, o.peak_gflops / 2, "fixed"})
                        : std::make_shared<bench::PeakTracker>();
  bench::workloads_describe(*peak);
  bench::workloads_register(selected, peak);
  if (o.compare_blas) {
    if (!bench::gemm_have_openblas)
      std::fprintf(stderr, "bpnn: warning: built without OpenBLAS (Debian libopenblas-dev); "
                           "--compare-blas shows bpnn's kernels only\n");
    bench::gemm_describe_openblas();
    bench::gemm_register(selected, peak);
  }

  const std::string json_temp =
      o.json_path.empty() ? "" : (std::filesystem::temp_directory_path() /
                                  ("bpnn-bench-" + std::to_string(::getpid()) + ".json")).string();
  std::vector<std::string> args{"bpnn bench",
                                "--benchmark_min_time=" + std::to_string(o.smoke ? 0.0 : o.min_time)};
  if (o.repetitions > 1) args.push_back("--benchmark_repetitions=" + std::to_string(o.repetitions));
  if (!o.json_path.empty()) {
    args.push_back("--benchmark_out=" + json_temp);
    args.push_back("--benchmark_out_format=json");
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  benchmark::Initialize(&argc, argv.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!o.json_path.empty()) {
    std::string json;
    try {
      json = file_read_all(json_temp);
    } catch (...) {
      std::filesystem::remove(json_temp);
      throw;
    }
    std::filesystem::remove(json_temp);
    output_file_write(o.json_path, std::string_view(json));
  }
}
#endif

}  // namespace

void bench_command_register(CLI::App& app, int& exit_code) {
#ifdef BPNN_HAVE_BENCHMARK
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure training throughput: samples/s, GFLOP/s and the fraction of the FMA peak");
  cmd->add_option("--workload", o->workloads,
                  "Named workloads: seed (2-4-1 per-sample), seed_f64, small (64-32-10 per-sample), "
                  "mnist (784-256-10 batch 64), wide (1024-4096-4096-1024 batch 256), seed_sweep (64 "
                  "seed networks per-sample, train_many), small_sweep (16 × 64-32-10 per-sample); "
                  "default all of these; a sweep's samples_per_s counts member-samples. The "
                  "thread-scaling check, on request: deep (256x5-10 batch 64), shallow "
                  "(2048-4096-10 batch 32), small_batch (784-1024-10 batch 16), large_input "
                  "(8192-512-10 batch 64), mlp512 (784-512-512-10 batch 128), or scaling for all five")
      ->delimiter(',');
  add_whole_list_option(*cmd, "--layers", o->layers, 2, max_layer_width,
                        "A custom network instead, e.g. 784,512,10")
      ->excludes("--workload");
  add_whole_option(*cmd, "--batch", o->batch, 1, 1'000'000'000, "Batch of the custom network");
  cmd->add_option("--precision", o->precision, "f32|f64, for the custom network")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "f64"}));
  cmd->add_option_function<std::string>(
         "--threads",
         [o](const std::string& text) {
           o->threads.clear();
           std::size_t start = 0;
           for (;;) {  // a comma-separated list of 0 (all cores) … 65536
             const std::size_t comma = text.find(',', start);
             o->threads.push_back(parse_whole("--threads", std::string_view(text).substr(start, comma - start), 0, 65536));
             if (comma == std::string::npos) break;
             start = comma + 1;
           }
         },
         "Thread counts to run, e.g. 1,2 (0 = all cores)")
      ->type_name("LIST")
      ->default_str("1");
  cmd->add_option("--json", o->json_path, "Also write Google Benchmark JSON here (for compare.py)");
  add_real_option(*cmd, "--min-time", o->min_time, {.low = 0, .high = 3600},
                  "Seconds to run each benchmark at least");
  add_whole_option(*cmd, "--repetitions", o->repetitions, 1, 1000,
                   "Run each benchmark N times; the JSON then has mean, median, stddev and cv "
                   "aggregates, which compare.py's U-test needs (use 9 or more)");
  add_real_option(*cmd, "--peak", o->peak_gflops,
                  {.low = 0, .low_open = true, .high = std::numeric_limits<double>::infinity()},
                  "Fix the f32 FMA peak of one core in GFLOP/s (f64: half) instead of measuring "
                  "it: the best of 5 FMA-chain runs at the start and again before each benchmark");
  cmd->add_flag("--compare-blas", o->compare_blas,
                "Also time the forward GEMM of every layer in bpnn's kernel and in OpenBLAS sgemm "
                "(when built with libopenblas-dev) at the same shapes");
  cmd->add_flag("--smoke", o->smoke, "One short iteration of each, to check they run");
  cmd->footer(std::string("Counters:\n  peak_fraction = ") + bench::peak_fraction_definition +
              ".\n  peak_suspect=true in the label when peak_fraction > 1 (never clamped).\n  rss_ratio = " +
              bench::rss_ratio_definition + ".\n  " + bench::cores_peak_definition + ".");
  cmd->callback([o, &exit_code] {
    run_bench(*o);
    exit_code = 0;
  });
#else
  (void)app;
  (void)exit_code;
#endif
}

}  // namespace bpnn::cli
