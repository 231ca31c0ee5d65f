// Every micro-batch of every optimizer step draws its own random numbers:
// the RunContexts that run_optimizer_step hands out make dropout masks that
// differ from each other, and that are the same on the serial backend and the
// cpu backend at 1 and 2 threads. (A stream that repeated across the
// micro-batches of a step, or across consecutive steps, passed every other
// test.) The masked-LM masks get the same check in data_mlm_dataset_test.cc.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/serial/serial_backend.h"
#include "seqtrain/executor.h"
#include "seqtrain/graph.h"
#include "train/optimizer_step.h"

namespace seqtrain {
namespace {

constexpr std::int64_t kSteps = 3, kMicroBatches = 3;

// x -> dropout(p 0.5) -> y on a tensor of ones: y's zeros are the mask.
struct DropoutProbe {
  std::unique_ptr<Backend> backend;
  ParameterStore parameters;
  std::unique_ptr<Executor> executor;
  ValueId output = kNoValue;

  explicit DropoutProbe(std::unique_ptr<Backend> chosen)
      : backend(std::move(chosen)), parameters(*backend) {
    Graph graph;
    const ValueId x = graph.add_input("x", {37, 41});
    Attributes attributes;
    attributes.probability = 0.5f;
    attributes.stream = 5;
    output = graph.add(OpKind::dropout, {x}, attributes);
    graph.mark_output(output);
    executor = std::make_unique<Executor>(std::move(graph), *backend, parameters, false);
    executor->set_input("x", Tensor::from_vector(std::vector<float>(37 * 41, 1.0f), {37, 41}));
  }

  std::vector<float> mask(const RunContext& context) {
    executor->forward(context);
    return executor->value_to_host(output).to_vector();
  }
};

TEST(Randomness, DropoutMasksDifferForEveryMicroBatchOfEveryStepAndAgreeAcrossBackends) {
  std::vector<std::unique_ptr<DropoutProbe>> probes;
  probes.push_back(std::make_unique<DropoutProbe>(make_serial_backend()));
  probes.push_back(std::make_unique<DropoutProbe>(make_cpu_backend(1)));
  probes.push_back(std::make_unique<DropoutProbe>(make_cpu_backend(2)));

  // A parameter for the optimizer step to update; the probe adds no gradient.
  std::unique_ptr<Backend> backend = make_serial_backend();
  ParameterStore parameters(*backend);
  parameters.add("w", {2}, false);
  SgdOptimizer optimizer(parameters, {});

  std::vector<std::vector<float>> masks;
  for (std::int64_t step = 1; step <= kSteps; ++step)
    run_optimizer_step(
        [&](const RunContext& context) {
          masks.push_back(probes[0]->mask(context));
          for (std::size_t p = 1; p < probes.size(); ++p)
            EXPECT_EQ(probes[p]->mask(context), masks.back())
                << probes[p]->backend->name() << " probe " << p << " at step " << step;
          return TaskMetrics{};
        },
        parameters, optimizer,
        {.step = step, .accumulation = kMicroBatches, .learning_rate = 0.1f, .seed = 11});

  ASSERT_EQ(masks.size(), static_cast<std::size_t>(kSteps * kMicroBatches));
  for (std::size_t a = 0; a < masks.size(); ++a) {
    std::size_t kept = 0;
    for (float v : masks[a]) kept += v != 0.0f;
    EXPECT_GT(kept, masks[a].size() / 3) << "draw " << a;  // about half kept
    EXPECT_LT(kept, 2 * masks[a].size() / 3) << "draw " << a;
    for (std::size_t b = a + 1; b < masks.size(); ++b)
      EXPECT_NE(masks[a], masks[b]) << "micro-batches " << a << " and " << b
                                    << " (step " << a / kMicroBatches + 1 << " and "
                                    << b / kMicroBatches + 1 << ") drew the same dropout mask";
  }
}

}  // namespace
}  // namespace seqtrain
