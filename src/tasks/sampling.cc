#include "tasks/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "seqtrain/executor.h"
#include "seqtrain/rng.h"

namespace seqtrain {

std::int32_t sample_index(const float* logits, std::int32_t count, double temperature,
                          std::int64_t top_k, float u) {
  std::vector<std::int32_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::int64_t kept = top_k > 0 ? std::min<std::int64_t>(top_k, count) : count;
  std::partial_sort(order.begin(), order.begin() + kept, order.end(),
                    [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; });
  const double top = logits[order[0]];
  std::vector<double> weights(static_cast<std::size_t>(kept));
  double total = 0.0;
  for (std::int64_t i = 0; i < kept; ++i) {
    weights[i] = std::exp((logits[order[i]] - top) / temperature);
    total += weights[i];
  }
  double target = static_cast<double>(u) * total;
  for (std::int64_t i = 0; i < kept; ++i) {
    target -= weights[i];
    if (target < 0.0) return order[i];
  }
  return order[kept - 1];
}

std::string sample_text(const SequenceModel& model, Backend& backend, ParameterStore& parameters,
                        const CharVocabulary& vocabulary, const SamplingOptions& options) {
  std::vector<std::int32_t> prompt =
      vocabulary.encode(options.prompt.empty() ? std::string("\n") : options.prompt, "--prompt");
  GraphShape shape;  // one step of one sequence, carrying the state, no targets
  shape.with_state = true;
  shape.with_targets = false;
  ModelGraph built = model.build_graph(shape);
  const std::vector<ValueId> initial = built.initial_states;
  const std::vector<ValueId> finals = built.final_states;
  const ValueId output = built.output;
  Executor executor(std::move(built.graph), backend, parameters, false);
  for (ValueId state : initial) backend.fill_zero(executor.input(state));
  Tensor token = Tensor::empty({1, 1}, DType::i32);
  const Tensor length = Tensor::from_vector(std::vector<std::int32_t>{1}, {1});

  RunContext context;
  context.training = false;
  Rng rng(options.seed, 0x53414d504c450000ull);
  std::vector<std::int32_t> generated = prompt;
  auto step = [&](std::int32_t id) {
    token.data<std::int32_t>()[0] = id;
    model.bind_inputs(executor, {{model_io::kTokens, token}, {model_io::kLengths, length}});
    executor.forward(context);
    for (std::size_t i = 0; i < initial.size(); ++i) {
      Tensor state = executor.value_to_host(finals[i]);
      backend.copy_from_host(state, executor.input(initial[i]));
    }
    return executor.value_to_host(output);
  };
  Tensor logits;
  for (std::int32_t id : prompt) logits = step(id);
  for (std::int64_t i = 0; i < options.length; ++i) {
    const float* scores = logits.data<float>();
    const auto count = static_cast<std::int32_t>(logits.numel());
    std::int32_t next = 0;
    if (options.greedy) {
      for (std::int32_t c = 1; c < count; ++c)
        if (scores[c] > scores[next]) next = c;  // the first of equal maxima
    } else {
      next = sample_index(scores, count, options.temperature, options.top_k, rng.next_uniform());
    }
    generated.push_back(next);
    if (i + 1 < options.length) logits = step(next);
  }
  return vocabulary.decode(generated);
}

}  // namespace seqtrain
