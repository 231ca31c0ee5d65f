// The Model interface (models/model.h) that BERT and the sequence models
// share: the parameter names each reports against the store it filled, the
// graph inputs a task's named tensors bind to, and the errors a wrong batch
// gets.
#include <span>
#include <string>
#include <vector>

#include "bert_test_support.h"
#include "models/sequence_model.h"
#include "tasks/mlm_runner.h"
#include "tasks/sequence_runner.h"
#include "test_support.h"

namespace seqtrain::testing {
namespace {

std::vector<std::string> store_names(const ParameterStore& parameters, std::size_t first = 0) {
  std::vector<std::string> names;
  for (std::size_t i = first; i < parameters.all().size(); ++i)
    names.push_back(parameters.all()[i]->name);
  return names;
}

SequenceModelSpec small_charlm_spec() {
  SequenceModelSpec spec;
  spec.task = Task::charlm;
  spec.type = ModelType::gru;
  spec.layers = 2;
  spec.hidden_size = 6;
  spec.vocabulary_size = 5;
  spec.embedding_size = 4;
  spec.output_size = 5;
  return spec;
}

TEST(ModelInterface, EachModelNamesExactlyTheParametersItAdded) {
  auto serial = make_serial_backend();
  ParameterStore parameters(*serial);
  BertModel bert(tiny_bert_spec(), parameters, 1);
  const std::size_t bert_count = parameters.all().size();
  auto sequence = make_sequence_model(small_charlm_spec(), parameters, 2);

  const std::vector<std::string> all = store_names(parameters);
  EXPECT_EQ(bert.parameter_names(),
            std::vector<std::string>(all.begin(),
                                     all.begin() + static_cast<std::ptrdiff_t>(bert_count)));
  EXPECT_EQ(sequence->parameter_names(), store_names(parameters, bert_count));
  // PyTorch's names for a 2-layer GRU language model.
  EXPECT_EQ(sequence->parameter_names(),
            (std::vector<std::string>{"embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                      "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_ih_l1",
                                      "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                                      "head.weight", "head.bias"}));
  EXPECT_EQ(bert.parameter_names().front(), "bert.embeddings.word_embeddings.weight");
  EXPECT_EQ(bert.parameter_names().back(), "cls.predictions.bias");
}

TEST(ModelInterface, ASequenceBatchBindsByNameAndTargetsAreReshaped) {
  auto serial = make_serial_backend();
  ParameterStore parameters(*serial);
  SequenceModelSpec spec = small_charlm_spec();
  spec.task = Task::adding;
  spec.type = ModelType::lstm;
  spec.layers = 1;
  spec.feature_size = 2;
  spec.output_size = 1;
  auto model = make_sequence_model(spec, parameters, 3);
  GraphShape shape;
  shape.batch = 3;
  shape.length = 4;
  ModelGraph built = model->build_graph(shape);
  Executor executor(std::move(built.graph), *serial, parameters, false);

  SequenceBatch batch;
  batch.features = random_tensor({4, 3, 2}, 7, 1.0f);
  batch.lengths = Tensor::from_vector(std::vector<std::int32_t>{4, 2, 3}, {3});
  batch.targets = Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f}, {3});
  model->bind_inputs(executor, sequence_inputs(batch));
  EXPECT_EQ(executor.input(model_io::kTargets).shape(), (Shape{3, 1}));
  EXPECT_EQ(executor.input(model_io::kTargets).to_vector(), batch.targets.to_vector());
  EXPECT_EQ(executor.input(model_io::kFeatures).to_vector(), batch.features.to_vector());

  // Three targets where the graph takes two rows: refused, naming the input.
  batch.targets = Tensor::from_vector(std::vector<float>{0.5f, -1.0f}, {2});
  try {
    model->bind_inputs(executor, sequence_inputs(batch));
    ADD_FAILURE() << "a batch of the wrong size was bound";
  } catch (const InternalError& error) {
    EXPECT_NE(std::string(error.what()).find("targets"), std::string::npos) << error.what();
  }
}

TEST(ModelInterface, BertRefusesABatchWithoutAnInputOrOfAnotherLayout) {
  auto serial = make_serial_backend();
  ParameterStore parameters(*serial);
  const BertSpec spec = tiny_bert_spec();
  BertModel model(spec, parameters, 1);
  const MlmBatch batch = make_mlm_batch(spec.vocabulary_size, 8, {8, 5}, {2, 1}, 2, 4);
  ModelGraph built = model.build_graph(
      mlm_graph_shape(static_cast<int>(batch.batch_size()), static_cast<int>(batch.sequence_length()),
                      static_cast<int>(batch.masked_per_sequence())));
  Executor executor(std::move(built.graph), *serial, parameters, false);

  ModelInputs inputs = mlm_inputs(batch);
  model.bind_inputs(executor, inputs);
  // The model fills the position ids: t in every row.
  const std::span<const std::int32_t> positions =
      executor.input(model_io::kPositionIds).span<std::int32_t>();
  for (std::size_t i = 0; i < positions.size(); ++i)
    EXPECT_EQ(positions[i], static_cast<std::int32_t>(i % 8)) << i;

  ModelInputs without_labels(inputs.begin(), inputs.end() - 1);
  EXPECT_THROW(model.bind_inputs(executor, without_labels), InternalError);
  // Token ids of another length, even with as many elements, are refused.
  inputs.front().tensor = inputs.front().tensor.reshaped({4, 4});
  EXPECT_THROW(model.bind_inputs(executor, inputs), InternalError);
}

}  // namespace
}  // namespace seqtrain::testing
