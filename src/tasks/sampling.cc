#include "tasks/sampling.h"

#include <algorithm>
#include <cmath>
#include <memory>
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

namespace {

// The next token's logits after each token fed, for the two kinds of model
// (SequenceModel::sampling_window).
class NextTokenLogits {
 public:
  virtual ~NextTokenLogits() = default;
  virtual Tensor feed(std::int32_t id) = 0;
};

// A recurrent model: a graph of one step that carries its state.
class CarriedStateLogits final : public NextTokenLogits {
 public:
  CarriedStateLogits(const SequenceModel& model, Backend& backend, ParameterStore& parameters)
      : model_(model), backend_(backend) {
    GraphShape shape;  // one step of one sequence, carrying the state, no targets
    shape.with_state = true;
    shape.with_targets = false;
    ModelGraph built = model.build_graph(shape);
    initial_ = built.initial_states;
    finals_ = built.final_states;
    output_ = built.output;
    executor_ = std::make_unique<Executor>(std::move(built.graph), backend, parameters, false);
    for (ValueId state : initial_) backend.fill_zero(executor_->input(state));
  }

  Tensor feed(std::int32_t id) override {
    token_.data<std::int32_t>()[0] = id;
    model_.bind_inputs(*executor_, {{model_io::kTokens, token_}, {model_io::kLengths, length_}});
    RunContext context;
    context.training = false;
    executor_->forward(context);
    for (std::size_t i = 0; i < initial_.size(); ++i) {
      Tensor state = executor_->value_to_host(finals_[i]);
      backend_.copy_from_host(state, executor_->input(initial_[i]));
    }
    return executor_->value_to_host(output_);
  }

 private:
  const SequenceModel& model_;
  Backend& backend_;
  std::vector<ValueId> initial_, finals_;
  ValueId output_ = kNoValue;
  std::unique_ptr<Executor> executor_;
  Tensor token_ = Tensor::empty({1, 1}, DType::i32);
  Tensor length_ = Tensor::from_vector(std::vector<std::int32_t>{1}, {1});
};

// A model without state (a causal Transformer) re-encodes the last `window`
// tokens every step, in one graph of `window` steps: the prefix fills the
// first n steps and the rest is padding, which causal attention (and the key
// length n) keeps from the prefix's positions; step n - 1's logits are the
// next token's.
class ReencodedPrefixLogits final : public NextTokenLogits {
 public:
  ReencodedPrefixLogits(const SequenceModel& model, Backend& backend, ParameterStore& parameters,
                        std::int64_t window)
      : model_(model), window_(window) {
    GraphShape shape;
    shape.length = static_cast<int>(window);
    shape.with_targets = false;
    ModelGraph built = model.build_graph(shape);
    output_ = built.output;
    executor_ = std::make_unique<Executor>(std::move(built.graph), backend, parameters, false);
    tokens_ = Tensor::zeros({window, 1}, DType::i32);
  }

  Tensor feed(std::int32_t id) override {
    prefix_.push_back(id);
    if (static_cast<std::int64_t>(prefix_.size()) > window_) prefix_.erase(prefix_.begin());
    const auto n = static_cast<std::int64_t>(prefix_.size());
    for (std::int64_t t = 0; t < window_; ++t)
      tokens_.data<std::int32_t>()[t] = t < n ? prefix_[static_cast<std::size_t>(t)] : 0;
    const Tensor length =
        Tensor::from_vector(std::vector<std::int32_t>{static_cast<std::int32_t>(n)}, {1});
    model_.bind_inputs(*executor_, {{model_io::kTokens, tokens_}, {model_io::kLengths, length}});
    RunContext context;
    context.training = false;
    executor_->forward(context);
    const Tensor logits = executor_->value_to_host(output_);  // [window, V], row t = step t
    const std::int64_t symbols = logits.dim(1);
    std::vector<float> row(logits.data<float>() + (n - 1) * symbols,
                           logits.data<float>() + n * symbols);
    return Tensor::from_vector(row, {1, symbols});
  }

 private:
  const SequenceModel& model_;
  std::int64_t window_;
  ValueId output_ = kNoValue;
  std::unique_ptr<Executor> executor_;
  Tensor tokens_;
  std::vector<std::int32_t> prefix_;
};

}  // namespace

std::string sample_text(const SequenceModel& model, Backend& backend, ParameterStore& parameters,
                        const CharVocabulary& vocabulary, const SamplingOptions& options) {
  std::vector<std::int32_t> prompt =
      vocabulary.encode(options.prompt.empty() ? std::string("\n") : options.prompt, "--prompt");
  std::unique_ptr<NextTokenLogits> next_logits;
  if (const std::int64_t window = model.sampling_window(); window > 0)
    next_logits = std::make_unique<ReencodedPrefixLogits>(model, backend, parameters, window);
  else
    next_logits = std::make_unique<CarriedStateLogits>(model, backend, parameters);

  Rng rng(options.seed, 0x53414d504c450000ull);
  std::vector<std::int32_t> generated = prompt;
  Tensor logits;
  for (std::int32_t id : prompt) logits = next_logits->feed(id);
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
    if (i + 1 < options.length) logits = next_logits->feed(next);
  }
  return vocabulary.decode(generated);
}

}  // namespace seqtrain
