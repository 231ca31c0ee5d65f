// Learning-rate schedules: linear warmup, then constant, linear decay or cosine
// decay. The rate is a pure function of the step, so a resumed run only needs
// the step to continue the schedule.
//
// Steps count optimizer updates from 1 (the step that learning_rate(s) is used
// for is the s-th update). With peak P, final F, warmup W and total N:
//   s <= W:            P * s / W                      (reaches P at s = W)
//   after warmup, with progress q = min(1, (s - W) / (N - W)):
//     constant:        P
//     linear:          F + (P - F) (1 - q)
//     cosine:          F + (P - F) (1 + cos(pi q)) / 2
// so the decays reach F at s = N and stay there after it.
#pragma once

#include <cstdint>
#include <string>

namespace seqtrain {

// Named as the config's training.schedule.decay.
enum class LrDecay { constant, linear, cosine };
inline constexpr const char* kLrDecayNames[] = {"constant", "linear", "cosine"};
constexpr const char* lr_decay_name(LrDecay decay) { return kLrDecayNames[static_cast<int>(decay)]; }

// "constant", "linear", "cosine"; anything else is a ConfigError listing those.
LrDecay parse_lr_decay(const std::string& name);

struct LrScheduleOptions {
  double peak_learning_rate = 1e-3;
  std::int64_t warmup_steps = 0;
  LrDecay decay = LrDecay::constant;
  double final_learning_rate = 0.0;  // linear and cosine only
  std::int64_t total_steps = 0;      // linear and cosine only: where F is reached
};

// The warmup a run of total_steps gets: warmup_steps, clamped so that a decay
// keeps one step after warmup to decay over (at most total_steps - 1) and a
// constant rate is warmed up within the run (at most total_steps). The config
// check and the schedule apply this one rule; the trainer says when it bites.
std::int64_t clamp_warmup_steps(std::int64_t warmup_steps, std::int64_t total_steps,
                                LrDecay decay);

class LrSchedule {
 public:
  // Out-of-range options are a ConfigError naming the option.
  explicit LrSchedule(const LrScheduleOptions& options);
  // step >= 1.
  float learning_rate(std::int64_t step) const;
  const LrScheduleOptions& options() const { return options_; }

 private:
  LrScheduleOptions options_;
};

}  // namespace seqtrain
