#include "train/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "backends/device_selection.h"
#include "train/checkpoint.h"

#include "train/evaluation.h"
#include "train/file_io.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/run_directory.h"
#include "train/sequence_runner.h"
#include "train/sequence_task.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

// The recurrent state truncated BPTT carries into the next batch, as exact
// JSON numbers (a float widened to double prints and parses back bit for bit).
nlohmann::json carried_state_to_json(const std::vector<Tensor>& state) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const Tensor& tensor : state)
    tensors.push_back({{"shape", tensor.shape()}, {"values", tensor.to_vector()}});
  return tensors;
}

std::vector<Tensor> carried_state_from_json(const nlohmann::json& json) {
  std::vector<Tensor> state;
  for (const auto& entry : json) {
    Shape shape = entry.at("shape").get<Shape>();
    std::vector<float> values = entry.at("values").get<std::vector<float>>();
    if (static_cast<std::int64_t>(values.size()) != shape_numel(shape))
      throw CheckpointError("trainer_state.json: carried_state has a tensor whose values do not fill its shape");
    state.push_back(Tensor::from_vector(values, shape));
  }
  return state;
}

std::atomic<int> stop_signal{0};

extern "C" void request_stop(int signal_number) { stop_signal.store(signal_number); }

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

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, ParameterStore& parameters) {
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

LrSchedule make_schedule(const TrainingConfig& training) {
  LrScheduleOptions options;
  options.peak_learning_rate = training.optimizer.learning_rate;
  options.warmup_steps = training.schedule.warmup_steps;
  options.final_learning_rate = training.schedule.final_learning_rate;
  options.total_steps = training.steps;
  switch (training.schedule.decay) {
    case LearningRateDecay::constant: options.decay = LrDecay::constant; break;
    case LearningRateDecay::linear: options.decay = LrDecay::linear; break;
    case LearningRateDecay::cosine: options.decay = LrDecay::cosine; break;
  }
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

void set_up_logging(const fs::path& run_dir) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>((run_dir / "train.log").string());
  auto logger = std::make_shared<spdlog::logger>("seqtrain", spdlog::sinks_init_list{console, file});
  logger->set_pattern("[%Y-%m-%d %H:%M:%S] %v");
  spdlog::set_default_logger(logger);
}

}  // namespace

int run_training(const TrainOptions& options) {
  const bool resuming = !options.resume_dir.empty();
  RunConfig config = resolve_run_config(options.config_path, options.overrides, options.resume_dir);
  const fs::path run_dir = config.run_dir;
  prepare_run_directory(run_dir, config, resuming);
  set_up_logging(run_dir);

  auto backend = select_backend(options.device, static_cast<int>(config.threads));
  ParameterStore parameters(*backend);
  SequenceTaskData task = load_sequence_task(config, run_dir);
  SequenceModel model(task.model_spec, parameters, static_cast<std::uint64_t>(config.seed));
  std::unique_ptr<Optimizer> optimizer = make_optimizer(config.training.optimizer, parameters);
  const LrSchedule schedule = make_schedule(config.training);
  const bool carry_state = config.task == Task::charlm && config.training.carry_state;
  SequenceRunner runner(model, *backend, parameters, carry_state);

  std::int64_t step = 0;
  if (resuming) {
    if (auto checkpoint = find_latest_checkpoint(run_dir)) try {
      LoadedCheckpoint loaded = load_checkpoint(*checkpoint, parameters, optimizer.get());
      step = loaded.step;
      const nlohmann::json& state = loaded.trainer_state;
      task.dataset->restore_position_json(state.at("data_position"));
      runner.set_training_state(carried_state_from_json(state.at("carried_state")));
      spdlog::info("resumed {} at step {}", checkpoint->string(), step);
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError(fmt::format("{}: {} is malformed: {}", checkpoint->string(),
                                        kTrainerStateFileName, e.what()));
    }
    else {
      spdlog::info("{} has no checkpoint yet: starting from step 0", run_dir.string());
    }
  }
  spdlog::info("{} on the {} backend: {} parameters, {} steps", to_string(config.task),
               backend->name(), parameters.total_elements(), config.training.steps);

  MetricsLog metrics(run_dir);
  ProgressLine progress = ProgressLine::for_stderr();
  StopSignals signals;
  std::int64_t last_saved_step = -1;
  auto save = [&](std::int64_t at_step) {
    nlohmann::json trainer_state;
    trainer_state["step"] = at_step;
    trainer_state["seed"] = config.seed;
    trainer_state["threads"] = config.threads;
    trainer_state["backend"] = backend->name();
    trainer_state["data_position"] = task.dataset->position_json();
    trainer_state["carried_state"] = carried_state_to_json(runner.training_state());
    fs::path saved = save_checkpoint(run_dir, at_step, parameters, *optimizer, trainer_state);
    last_saved_step = at_step;
    spdlog::info("checkpoint: {}", saved.string());
  };

  const std::int64_t accumulation = config.training.gradient_accumulation;
  auto window_start = std::chrono::steady_clock::now();
  std::int64_t window_tokens = 0;
  SequenceMetrics window;
  bool memory_logged = false;
  while (step < config.training.steps) {
    ++step;
    parameters.zero_grads();
    SequenceMetrics step_metrics;
    for (std::int64_t micro = 0; micro < accumulation; ++micro) {
      SequenceBatch batch = task.dataset->next_training_batch();
      RunContext context{static_cast<std::uint64_t>(config.seed),
                         static_cast<std::uint64_t>((step - 1) * accumulation + micro), true};
      step_metrics.add(runner.train_batch(batch, context));
      for (std::int32_t length : batch.lengths.span<std::int32_t>()) window_tokens += length;
    }
    if (!std::isfinite(step_metrics.loss_sum))
      throw Error(fmt::format("training diverged at step {}: the loss is {}; lower "
                              "training.optimizer.learning_rate or set training.clip_norm",
                              step, step_metrics.loss_sum));
    if (accumulation > 1)
      for (const auto& parameter : parameters.all())
        backend->scale(parameter->grad, 1.0f / static_cast<float>(accumulation), parameter->grad);
    const GradientNorm clip = config.training.clip_norm > 0
                                  ? clip_gradients_by_global_norm(parameters, config.training.clip_norm)
                                  : global_gradient_norm(parameters);
    if (!clip.finite)
      throw Error(fmt::format("training diverged at step {}: the gradient of {} is not finite; "
                              "lower training.optimizer.learning_rate",
                              step, clip.non_finite_parameters.front()));
    const float learning_rate = schedule.learning_rate(step);
    optimizer->step(learning_rate);
    window.add(step_metrics);
    if (!memory_logged) {
      const auto [planned, unshared] = runner.planned_bytes();
      spdlog::info("activation memory: {:.1f} MiB planned by liveness ({:.1f} MiB with one buffer "
                   "per tensor)", planned / 1048576.0, unshared / 1048576.0);
      memory_logged = true;
    }

    if (step % config.training.log_every == 0 || step == config.training.steps) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
      nlohmann::json record{{"step", step},
                            {"split", "train"},
                            {"loss", window.mean_loss()},
                            {"lr", learning_rate},
                            {"grad_norm", clip.norm},
                            {"tokens_per_second", window_tokens / std::max(seconds, 1e-9)}};
      if (config.task != Task::adding) record["accuracy"] = window.accuracy();
      metrics.write(record);
      progress.update(fmt::format("step {}/{} loss {:.4f} lr {:.2e} {:.0f} tok/s", step,
                                  config.training.steps, window.mean_loss(), learning_rate,
                                  record["tokens_per_second"].get<double>()));
      spdlog::debug("step {} {}", step, summarize(record));
      window = {};
      window_tokens = 0;
      window_start = std::chrono::steady_clock::now();
    }
    const bool last = step == config.training.steps;
    if ((config.training.eval_every > 0 && step % config.training.eval_every == 0) || last) {
      nlohmann::json record = evaluate_sequence_task(runner, *task.dataset, config);
      progress.clear();
      spdlog::info("step {} validation: {}", step, summarize(record));
      record["step"] = step;
      record["split"] = "validation";
      metrics.write(record);
    }
    if ((config.training.checkpoint_every > 0 && step % config.training.checkpoint_every == 0) ||
        last) {
      progress.clear();
      save(step);
    }
    if (signals.received() != 0 && !last) {
      progress.clear();
      spdlog::info("stopped by signal {} at step {}", signals.received(), step);
      if (last_saved_step != step) save(step);
      spdlog::info("resume with: seqtrain train --resume {}", run_dir.string());
      return 130;
    }
  }
  progress.clear();
  spdlog::info("done: {} steps; run directory {}", step, run_dir.string());
  return 0;
}

}  // namespace seqtrain
