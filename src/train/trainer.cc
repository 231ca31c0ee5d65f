#include "train/trainer.h"

#include <fmt/chrono.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "backends/device_selection.h"
#include "config/resolve_run_config.h"
#include "dist/communicator.h"
#include "dist/device_communicator.h"
#include "dist/watched_communicator.h"
#include "io/tensorboard_events.h"
#include "tasks/training_task.h"
#include "train/checkpoint.h"
#include "train/checkpoint_policy.h"
#include "train/gradient_buckets.h"
#include "train/lr_schedule.h"
#include "train/memory_estimate.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/optimizer_step.h"
#include "train/resume_from_checkpoint.h"
#include "train/run_directory.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

std::atomic<int> stop_signal{0};

// The first SIGINT/SIGTERM asks for a clean stop (a checkpoint, exit 130); a
// second one, say during a long data preparation that cannot be interrupted,
// ends the process at once as the signal would.
extern "C" void request_stop(int signal_number) {
  if (stop_signal.exchange(signal_number) != 0) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
  }
}

// Installs SIGINT/SIGTERM handlers for the run and restores the old ones after.
class StopSignals {
 public:
  StopSignals() {
    stop_signal.store(0);
    previous_interrupt_ = std::signal(SIGINT, request_stop);
    previous_terminate_ = std::signal(SIGTERM, request_stop);
  }
  ~StopSignals() {
    std::signal(SIGINT, previous_interrupt_);
    std::signal(SIGTERM, previous_terminate_);
  }
  int received() const { return stop_signal.load(); }

 private:
  void (*previous_interrupt_)(int);
  void (*previous_terminate_)(int);
};

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config,
                                          ParameterStore& parameters) {
  if (config.name == OptimizerName::sgd) {
    SgdOptimizerOptions options;
    options.momentum = static_cast<float>(config.momentum);
    options.weight_decay = static_cast<float>(config.weight_decay);
    return std::make_unique<SgdOptimizer>(parameters, options);
  }
  AdamWOptimizerOptions options;
  options.beta1 = static_cast<float>(config.betas[0]);
  options.beta2 = static_cast<float>(config.betas[1]);
  options.epsilon = static_cast<float>(config.epsilon);
  options.weight_decay = static_cast<float>(config.weight_decay);
  return std::make_unique<AdamWOptimizer>(parameters, options);
}

// Now in UTC, ISO 8601 with milliseconds: "2026-12-07T13:08:15.123Z".
std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto milliseconds =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)),
                     static_cast<int>(milliseconds));
}

LrSchedule make_schedule(const TrainingConfig& training) {
  LrScheduleOptions options;
  options.peak_learning_rate = training.optimizer.learning_rate;
  options.warmup_steps =
      clamp_warmup_steps(training.schedule.warmup_steps, training.steps, training.schedule.decay);
  options.final_learning_rate = training.schedule.final_learning_rate;
  options.total_steps = training.steps;
  options.decay = training.schedule.decay;
  return LrSchedule(options);
}

std::string summarize(const nlohmann::json& metrics) {
  std::string text;
  for (const auto& [key, value] : metrics.items()) {
    if (!text.empty()) text += " ";
    text += value.is_number_float() ? fmt::format("{}={:.4f}", key, value.get<double>())
                                    : fmt::format("{}={}", key, value.dump());
  }
  return text;
}

// The run's log: the default logger writes to the console and train.log; the
// returned one to train.log alone (progress lines the console is spared).
std::shared_ptr<spdlog::logger> set_up_logging(const fs::path& run_dir) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>((run_dir / "train.log").string());
  auto logger =
      std::make_shared<spdlog::logger>("seqtrain", spdlog::sinks_init_list{console, file});
  auto file_only = std::make_shared<spdlog::logger>("seqtrain.file", file);
  for (const auto& each : {logger, file_only}) {
    each->set_pattern("[%Y-%m-%d %H:%M:%S] %v");
    // Every line reaches train.log as it is logged, so a killed run keeps its log.
    each->flush_on(spdlog::level::info);
  }
  spdlog::set_default_logger(logger);
  return file_only;
}

// Plans the run's memory before its first batch and graph are allocated,
// logs it, and on the CPU refuses a run that cannot fit.
void check_memory_plan(const TrainingTask& task, const ParameterStore& parameters,
                       const Optimizer& optimizer, const Backend& backend) {
  MemoryEstimate estimate;
  estimate.activations = task.largest_training_arena_bytes();
  estimate.parameters = 2 * parameters.total_elements() * static_cast<std::int64_t>(sizeof(float));
  for (const auto& [name, shape] : optimizer.state_shapes())
    estimate.optimizer_state += shape_numel(shape) * static_cast<std::int64_t>(sizeof(float));
  const std::optional<std::int64_t> available = available_host_memory_bytes();
  spdlog::info("memory plan: {}{}", describe(estimate),
               available && backend.device() != Device::cuda
                   ? fmt::format(" of {:.1f} MiB available", *available / 1048576.0)
                   : std::string());
  if (available && backend.device() != Device::cuda) require_memory_fits(estimate, *available);
}

// A metrics record's numbers as TensorBoard scalars: "train/loss", "validation/mse", ...
std::vector<std::pair<std::string, double>> scalars_of(const nlohmann::json& record) {
  std::vector<std::pair<std::string, double>> scalars;
  const std::string split = record.value("split", "train");
  for (const auto& [key, value] : record.items())
    if (value.is_number() && key != "step") scalars.emplace_back(split + "/" + key, value.get<double>());
  return scalars;
}

// The run on this process, one of communicator's ranks.
int train_on_ranks(const TrainOptions& options, StopSignals& signals,
                   Communicator* communicator) {
  const bool resuming = !options.resume_dir.empty();
  RunConfig config = resolve_run_config(options.config_path, options.overrides, options.resume_dir);
  const fs::path run_dir = config.run_dir;
  // The schedule the run had before this resume's --set (read before the run
  // directory's config.yaml is rewritten), to say how an extension changes it.
  std::optional<TrainingConfig> previous_training;
  if (resuming) {
    try {
      previous_training = resolve_run_config("", {}, options.resume_dir).training;
    } catch (const Error&) {
      // No readable config.yaml of its own: nothing to compare with.
    }
  }
  // Before the run directory exists: a device that is not there (--device cuda
  // without a GPU) must not leave a directory that refuses the retry.
  // Under mpirun each rank takes GPU local_rank % devices (--device cuda or auto).
  auto backend = select_backend(options.device, static_cast<int>(config.threads), config.model.impl,
                                communicator->local_rank());
  // Training runs the layers the config names; eval and generate may run a
  // run's layers with another implementation of the same math.
  if (backend->recurrent_impl() != config.model.impl)
    throw ConfigError(fmt::format(
        "model.impl: {} runs on --device cuda only, and this run would use the {} backend; "
        "set model.impl: {} to train here",
        rnn_impl_name(config.model.impl), backend->name(),
        rnn_impl_name(backend->recurrent_impl())));
  // Mixed precision (training.precision): a backend that cannot says so here.
  backend->set_gemm_precision(config.training.precision);
  const int world_size = communicator->world_size();
  const bool writer = communicator->rank() == 0;  // logs, metrics, checkpoints
  // Before anything in the run directory changes: an incomplete newest
  // checkpoint is refused, since training on would write over it.
  const std::optional<fs::path> checkpoint =
      resuming ? find_resume_checkpoint(run_dir) : std::nullopt;
  // Rank 0 prepares the run directory; the others wait for it.
  const bool created = writer && prepare_run_directory(run_dir, config, resuming);
  if (resuming && writer) {
    remove_interrupted_saves(run_dir);
    if (checkpoint) write_latest_pointer(run_dir, *checkpoint);
  }
  communicator->barrier();
  FreshRunDirectoryGuard fresh_run_guard(run_dir, created, resuming);
  std::shared_ptr<spdlog::logger> file_log;  // train.log alone
  if (writer)
    file_log = set_up_logging(run_dir);
  else
    spdlog::set_level(spdlog::level::warn);  // rank 0 speaks for the run

  ParameterStore parameters(*backend);
  // Rank 0 first: it prepares what the task keeps in the run directory (the
  // mlm tokenizer and shards, the charlm vocabulary); the others reuse it.
  const RunStart start = resuming ? RunStart::existing : RunStart::fresh;
  std::unique_ptr<TrainingTask> task;
  if (writer) task = make_training_task(config, run_dir, *backend, parameters, start);
  communicator->barrier();
  if (!writer) task = make_training_task(config, run_dir, *backend, parameters, start);
  task->train_on_rank_slice(communicator->rank(), world_size);
  // From here on every collective is watched (dist/watched_communicator.h):
  // before, the others wait in a barrier for as long as rank 0 prepares data.
  std::unique_ptr<Communicator> watched_communicator;
  if (world_size > 1 && config.distributed.timeout_s > 0) {
    watched_communicator = watch_collectives(*communicator, config.distributed.timeout_s);
    communicator = watched_communicator.get();
  }
  if (world_size > 1)
    spdlog::info("data parallel: {} ({}); each rank trains on 1/{} of the rows of every global "
                 "batch",
                 communicator->describe(), describe_mpi(), world_size);
  // Data parallel: the gradients' all-reduce buckets (train/gradient_buckets.h),
  // summed where the backend keeps them (dist/device_communicator.h): host
  // memory by the communicator above, a GPU's by NCCL.
  const std::unique_ptr<Communicator> device_communicator =
      make_device_communicator(*backend, *communicator, config.distributed.timeout_s);
  Communicator& gradient_communicator = device_communicator ? *device_communicator : *communicator;
  std::optional<GradientBuckets> buckets;
  if (world_size > 1) {
    if (device_communicator)
      spdlog::info("gradients on the device: {}", device_communicator->describe());
    buckets.emplace(parameters, static_cast<std::int64_t>(config.distributed.bucket_mb * 1048576.0),
                    gradient_communicator);
    spdlog::info("gradient buckets: {} of at most {} MiB (distributed.bucket_mb), all-reduced "
                 "after each step's backward",
                 buckets->bucket_count(), config.distributed.bucket_mb);
  }
  std::unique_ptr<Optimizer> optimizer = make_optimizer(config.training.optimizer, parameters);
  const LrSchedule schedule = make_schedule(config.training);
  task->warn_about_plan(config.training.steps);
  if (schedule.options().warmup_steps != config.training.schedule.warmup_steps)
    spdlog::warn("training.schedule.warmup_steps {} does not fit a run of {} steps with {} decay: "
                 "warmup clamped to {} steps",
                 config.training.schedule.warmup_steps, config.training.steps,
                 lr_decay_name(config.training.schedule.decay), schedule.options().warmup_steps);
  check_memory_plan(*task, parameters, *optimizer, *backend);

  // Which checkpoints stay and when the run stops early (checkpoint_policy.h).
  std::optional<MetricTracker> best, early_stopping;
  if (config.training.keep_best) best.emplace(*config.training.keep_best);
  if (config.training.early_stopping.metric)
    early_stopping.emplace(*config.training.early_stopping.metric,
                           config.training.early_stopping.min_delta);

  std::int64_t step = 0;
  if (checkpoint) {
    step = resume_from_checkpoint(*checkpoint, *task, *optimizer, best, early_stopping);
    spdlog::info("resumed {} at step {}", checkpoint->string(), step);
    // Extending (or shortening) a decaying run: the decay keeps its shape
    // over the new total, which moves the learning rate; said, not silent.
    if (previous_training && previous_training->steps != config.training.steps &&
        config.training.schedule.decay != LrDecay::constant && step >= 1) {
      const float before = make_schedule(*previous_training).learning_rate(step);
      const float now = schedule.learning_rate(step);
      spdlog::warn(
          "training.steps {} -> {}: the {} decay now runs to step {}, keeping its shape, so the "
          "learning rate at step {} moves from {:.3e} to {:.3e}",
          previous_training->steps, config.training.steps,
          lr_decay_name(config.training.schedule.decay), config.training.steps, step, before,
          now);
    }
  } else {
    if (resuming) spdlog::info("{} has no checkpoint yet: starting from step 0", run_dir.string());
    if (config.training.init_from) task->initialize_from(*config.training.init_from);
  }
  spdlog::info("{} on the {} backend: {} parameters, {} steps, world size {}",
               task_name(config.task), backend->name(), parameters.total_elements(),
               config.training.steps, world_size);
  fresh_run_guard.dismiss();
  if (signals.received() != 0) {
    spdlog::info("stopped by signal {} before training step {}", signals.received(), step + 1);
    spdlog::info("resume with: seqtrain train --resume {}", run_dir.string());
    return 130;
  }

  // A resumed run replays the steps after its checkpoint: their old records go.
  std::optional<MetricsLog> metrics;
  if (writer) metrics.emplace(run_dir, resuming ? std::optional<std::int64_t>(step) : std::nullopt);
  std::optional<TensorBoardWriter> tensorboard;
  if (writer && config.training.tensorboard)
    tensorboard.emplace(run_dir / "tensorboard", resuming ? step : -1);
  auto report = [&](const nlohmann::json& record) {
    metrics->write(record);
    if (tensorboard) tensorboard->write_scalars(record["step"].get<std::int64_t>(), scalars_of(record));
  };
  // Every record says when it was written and how long the run has trained.
  const RunClock clock(step, config.training.steps);
  auto stamp = [&](nlohmann::json& record) {
    record["time"] = utc_timestamp();
    record["elapsed_seconds"] = clock.elapsed_seconds();
  };
  auto eta = [&](std::int64_t at_step) {
    const std::optional<double> remaining = clock.remaining_seconds(at_step);
    return remaining ? format_duration(*remaining) : std::string("?");
  };
  // On a terminal, a live line between the log lines (at most ten updates a second).
  ProgressLine progress = ProgressLine::for_stderr();
  auto last_live_update = std::chrono::steady_clock::time_point{};
  auto last_console_line = std::chrono::steady_clock::time_point{};
  std::int64_t last_saved_step = -1;  // known to every rank
  auto write_checkpoint = [&](std::int64_t at_step) {  // rank 0
    nlohmann::json trainer_state;
    trainer_state["step"] = at_step;
    trainer_state["seed"] = config.seed;
    trainer_state["threads"] = config.threads;
    trainer_state["backend"] = backend->name();
    std::vector<NamedTensor> state_tensors;
    task->save_state(trainer_state, state_tensors);
    if (best) trainer_state["keep_best"] = best->to_json();
    if (early_stopping) trainer_state["early_stopping"] = early_stopping->to_json();
    fs::path saved =
        save_checkpoint(run_dir, at_step, task->checkpoint_format(), *optimizer, trainer_state,
                        state_tensors);
    spdlog::info("checkpoint: {}", saved.string());
    if (config.training.keep_checkpoints > 0)
      for (const fs::path& removed : prune_checkpoints(run_dir, config.training.keep_checkpoints,
                                                       best ? best->best_step() : std::nullopt))
        spdlog::info("removed {} (training.keep_checkpoints: {})", removed.filename().string(),
                     config.training.keep_checkpoints);
  };
  // Every rank calls it: state split over the ranks is gathered for rank 0.
  auto save = [&](std::int64_t at_step) {
    if (world_size > 1) task->gather_state(*communicator);
    if (writer) write_checkpoint(at_step);
    last_saved_step = at_step;
  };

  const std::int64_t accumulation = config.training.gradient_accumulation;
  std::int64_t skipped_in_a_row = 0, skipped_in_all = 0;  // steps with a non-finite loss or gradient
  auto window_start = std::chrono::steady_clock::now();
  TaskMetrics window;
  double window_communication_seconds = 0.0;  // data parallel: in the window's collectives
  std::int64_t window_steps = 0;
  // Logged when the cached graphs' activation memory changes: the first step,
  // the step after the first validation, a phase change.
  std::pair<std::int64_t, std::int64_t> logged_memory{-1, -1};
  while (step < config.training.steps) {
    ++step;
    const float learning_rate = schedule.learning_rate(step);
    const OptimizerStepResult outcome = run_optimizer_step(
        [&](const RunContext& context) { return task->train_batch(context); }, parameters,
        *optimizer,
        {.step = step,
         .accumulation = accumulation,
         .clip_norm = config.training.clip_norm,
         .learning_rate = learning_rate,
         .seed = static_cast<std::uint64_t>(config.seed),
         .communicator = communicator,
         .buckets = buckets ? &*buckets : nullptr});
    window_communication_seconds += outcome.communication_seconds;
    ++window_steps;
    const TaskMetrics& step_metrics = outcome.metrics;
    const GradientNorm& clip = outcome.gradient;
    if (!outcome.skipped.empty()) {
      ++skipped_in_a_row;
      ++skipped_in_all;
      progress.clear();
      spdlog::warn("step {} skipped: {} ({} in a row, {} in all)", step, outcome.skipped,
                   skipped_in_a_row, skipped_in_all);
      if (skipped_in_a_row > config.training.max_skipped_steps) {
        const std::optional<fs::path> good = find_latest_checkpoint(run_dir);
        throw Error(fmt::format(
            "training diverged: {} steps in a row up to step {} were skipped ({}); {}; lower "
            "training.optimizer.learning_rate or set training.clip_norm",
            skipped_in_a_row, step, outcome.skipped,
            good ? fmt::format("the last good checkpoint is {}", good->string())
                 : std::string("no checkpoint was written")));
      }
    } else {
      skipped_in_a_row = 0;
      window.add(step_metrics);
    }
    if (const auto planned = task->planned_bytes(); planned != logged_memory) {
      progress.clear();
      spdlog::info(
          "activation memory: {:.1f} MiB planned by liveness ({:.1f} MiB with one buffer "
          "per tensor)",
          planned.first / 1048576.0, planned.second / 1048576.0);
      logged_memory = planned;
    }

    if (step % config.training.log_every == 0 || step == config.training.steps) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
      nlohmann::json record{{"step", step}, {"split", "train"}};
      task->describe_training(window, record);
      record["lr"] = learning_rate;
      record["grad_norm"] = clip.norm;
      if (skipped_in_all > 0) record["skipped_steps"] = skipped_in_all;
      record["tokens_per_second"] = static_cast<double>(window.tokens) / std::max(seconds, 1e-9);
      record["world_size"] = world_size;
      // Per step, the mean over the window: not hidden behind backward (the
      // buckets are reduced after it), so all of it is exposed.
      if (world_size > 1)
        record["communication_seconds"] =
            window_communication_seconds /
            static_cast<double>(std::max<std::int64_t>(window_steps, 1));
      stamp(record);
      if (writer) report(record);
      progress.clear();
      // Every one in train.log; on the console at most one a second (and the
      // last): thousands of lines a second help nobody, and under mpirun they
      // flood its forwarding so much that a SIGTERM was never passed on.
      const std::string line = fmt::format(
          "step {}/{} loss {:.4f} lr {:.2e} grad norm {:.3g} {:.0f} tok/s elapsed {} eta {}", step,
          config.training.steps, window.mean_loss(), learning_rate, clip.norm,
          record["tokens_per_second"].get<double>(), format_duration(clock.elapsed_seconds()),
          eta(step));
      const auto now = std::chrono::steady_clock::now();
      if (now - last_console_line >= std::chrono::seconds(1) || step == config.training.steps) {
        spdlog::info("{}", line);
        last_console_line = now;
      } else if (file_log) {
        file_log->info("{}", line);
      }
      spdlog::debug("step {} {}", step, summarize(record));
      window = {};
      window_communication_seconds = 0.0;
      window_steps = 0;
      window_start = std::chrono::steady_clock::now();
    } else if (progress.enabled() &&
               std::chrono::steady_clock::now() - last_live_update > std::chrono::milliseconds(100)) {
      last_live_update = std::chrono::steady_clock::now();
      progress.update(fmt::format("step {}/{} ({:.0f}%) elapsed {} eta {}", step,
                                  config.training.steps,
                                  100.0 * static_cast<double>(step) /
                                      static_cast<double>(config.training.steps),
                                  format_duration(clock.elapsed_seconds()), eta(step)));
    }
    const bool last = step == config.training.steps;
    // Validation and checkpoints are not training: their time is left out of
    // the next window's tokens_per_second.
    const auto pause_start = std::chrono::steady_clock::now();
    // Validation and checkpoints: rank 0 alone (the others' next collective
    // waits for it), on the whole validation set, as one process would.
    bool new_best = false, stop_early = false;
    if (writer &&
        ((config.training.eval_every > 0 && step % config.training.eval_every == 0) || last)) {
      nlohmann::json record = task->evaluate(config.training.eval_batches);
      progress.clear();
      spdlog::info("step {} validation: {}", step, summarize(record));
      new_best = best && best->observe(step, record);
      if (early_stopping)
        stop_early = !early_stopping->observe(step, record) &&
                     early_stopping->validations_without_improvement() >=
                         config.training.early_stopping.patience;
      record["step"] = step;
      record["split"] = "validation";
      stamp(record);
      report(record);
    }
    const bool save_now =
        last_saved_step != step &&
        ((config.training.checkpoint_every > 0 && step % config.training.checkpoint_every == 0) ||
         last || new_best || stop_early);
    // Every rank stops at the same step when any of them was signalled, or
    // when rank 0's validations say to stop early; and saves when rank 0's
    // validations (the best, early stopping) say to.
    std::array<double, 3> stop{static_cast<double>(signals.received()), stop_early ? 1.0 : 0.0,
                               save_now ? 1.0 : 0.0};
    if (world_size > 1) communicator->all_reduce_sum(std::span<double>(stop));
    if (stop[2] != 0) {
      progress.clear();
      save(step);
    }
    if (new_best) {
      write_best_pointer(run_dir, checkpoint_directory(run_dir, step));
      spdlog::info("best {} so far: {:.6g} at step {} (checkpoints/best)", best->metric(),
                   best->best_value(), step);
    }
    window_start += std::chrono::steady_clock::now() - pause_start;
    if (stop[1] != 0 && !last) {
      progress.clear();
      if (writer)
        spdlog::info(
            "early stopping at step {}: validation {} has not improved for {} validations (best "
            "{:.6g} at step {}){}",
            step, early_stopping->metric(), early_stopping->validations_without_improvement(),
            early_stopping->best_value(), early_stopping->best_step().value_or(0),
            best ? fmt::format("; best checkpoint: {}",
                               (run_dir / "checkpoints" / "best").string())
                 : std::string());
      spdlog::info("done: {} steps; run directory {}", step, run_dir.string());
      return 0;
    }
    const double stop_signal = stop[0];
    if (stop_signal != 0 && !last) {
      progress.clear();
      const std::string why = signals.received() != 0
                                  ? fmt::format("stopped by signal {}", signals.received())
                                  : std::string("stopped (another rank was signalled)");
      if (writer)
        spdlog::info("{} at step {}", why, step);
      else  // said by every rank, so a job's output shows they agreed
        spdlog::warn("rank {} of {}: {} at step {}", communicator->rank(), world_size, why, step);
      if (last_saved_step != step) save(step);
      spdlog::info("resume with: seqtrain train --resume {}", run_dir.string());
      return 130;
    }
  }
  progress.clear();
  spdlog::info("done: {} steps; run directory {}", step, run_dir.string());
  return 0;
}

// A rank that fails alone must not leave the others waiting in a collective:
// it says why in one line that names it, and ends the whole job (MPI_Abort)
// with the exit code one process would have.
[[noreturn]] void end_job(Communicator& communicator, const char* what, int exit_code) {
  spdlog::shutdown();
  std::fprintf(stderr, "seqtrain: error: rank %d of %d: %s\n", communicator.rank(),
               communicator.world_size(), what);
  std::fflush(stderr);
  communicator.abort(exit_code);
  std::_Exit(exit_code);  // abort does not return; the compiler cannot know
}

}  // namespace

int run_training(const TrainOptions& options) {
  // First: a SIGTERM during set-up (tokenizer training, data preparation) is
  // taken when set-up ends, not by dying with the signal.
  StopSignals signals;
  // Data parallel under mpirun (dist/communicator.h); alone, one rank.
  std::unique_ptr<Communicator> communicator = make_communicator();
  if (communicator->world_size() == 1) return train_on_ranks(options, signals, communicator.get());
  try {
    return train_on_ranks(options, signals, communicator.get());
  } catch (const Error& e) {
    end_job(*communicator, e.what(), 2);  // the CLI's exit code for user errors
  } catch (const InternalError& e) {
    end_job(*communicator, e.what(), 70);
  } catch (const std::exception& e) {
    end_job(*communicator, e.what(), 1);
  }
}

}  // namespace seqtrain
