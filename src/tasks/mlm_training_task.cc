#include "tasks/mlm_training_task.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "data/hf_tokenizer_files.h"
#include "data/mlm_phased_dataset.h"
#include "io/read_file.h"
#include "models/bert_checkpoint.h"
#include "seqtrain/error.h"
#include "tasks/mlm_run_data.h"
#include "tasks/mlm_runner.h"
#include "tasks/mlm_validation_metrics.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHfConfigFileName = "config.json";
constexpr const char* kTokenizerFileName = "tokenizer.model";

MlmDatasetOptions dataset_options(const RunConfig& config) {
  MlmDatasetOptions options;
  options.seed = static_cast<std::uint64_t>(config.seed);
  options.masking.mask_rate = config.data.masking.mask_rate;
  options.masking.replace_with_mask = config.data.masking.replace_with_mask;
  options.masking.replace_with_random = config.data.masking.replace_with_random;
  return options;
}

std::vector<MlmPhase> dataset_phases(const RunConfig& config) {
  std::vector<MlmPhase> phases;
  for (const MlmPhaseConfig& phase : mlm_phases(config))
    phases.push_back(MlmPhase{phase.steps, phase.sequence_length, phase.batch_size});
  return phases;
}

// Hugging Face drops the decoder's weight and bias from its files: they are
// tied to the word embeddings and to cls.predictions.bias.
bool is_tied_decoder_tensor(const std::string& name) {
  return name.starts_with("cls.predictions.decoder.");
}

class MlmTrainingTask final : public TrainingTask {
 public:
  MlmTrainingTask(const RunConfig& config, const fs::path& run_dir, Backend& backend,
                  ParameterStore& parameters, RunStart run_start)
      : has_phases_(!config.data.phases.empty()),
        parameters_(&parameters),
        data_(prepare_mlm_run_data(config, run_dir, run_start == RunStart::existing)),
        model_(bert_spec_of(config, data_.tokenizer.vocab_size()), parameters,
               static_cast<std::uint64_t>(config.seed)),
        dataset_(data_.shards, dataset_phases(config), dataset_options(config),
                 config.training.gradient_accumulation),
        runner_(model_, backend, parameters),
        tokenizer_bytes_(read_file(data_.tokenizer.model_path())),
        // tokenizer.json and its companions for AutoTokenizer.from_pretrained,
        // built once: every post-LN checkpoint carries them.
        hf_tokenizer_files_(model_.spec().pre_layernorm
                                ? std::vector<std::pair<std::string, std::string>>{}
                                : hugging_face_tokenizer_files(tokenizer_bytes_,
                                                               model_.spec().max_positions)) {}

  void warn_about_plan(std::int64_t total_steps) const override {
    std::int64_t start = 0;
    for (std::size_t p = 0; p < dataset_.phases().size(); ++p) {
      const MlmPhase& phase = dataset_.phases()[p];
      if (p > 0 && start >= total_steps)
        spdlog::warn(
            "data.phases: phase {} (sequence length {}) starts after step {}, but "
            "training.steps is {}: it will not run",
            p + 1, phase.sequence_length, start, total_steps);
      start += phase.steps;
    }
  }

  TaskMetrics train_batch(const RunContext& context) override {
    MlmBatch batch = dataset_.next_training_batch();
    if (rank_rows_.world_size == 1) return runner_.train_batch(batch, context);
    const std::int64_t global_rows = batch.batch_size();
    return runner_.train_batch(
        slice_rows(batch, rank_rows_.first_row(global_rows), rank_rows_.rows(global_rows)),
        rank_rows_.context_for(context, global_rows));
  }

  // Every phase's batch divides by the ranks. Masks are keyed by the
  // sequence (mlm_dataset.h), so a rank's rows carry the masks one process
  // draws for them.
  void train_on_rank_slice(int rank, int world_size) override {
    const RankRows rank_rows{rank, world_size};
    for (std::size_t p = 0; p < dataset_.phases().size(); ++p)
      rank_rows.check_divides(dataset_.phases()[p].batch_size,
                              has_phases_ ? fmt::format("data.phases[{}].batch_size", p)
                                          : std::string("data.batch_size"));
    rank_rows_ = rank_rows;
  }

  void describe_training(const TaskMetrics& window, nlohmann::json& record) const override {
    record["mlm_loss"] = window.mean_loss();
    record["mlm_accuracy"] = window.accuracy();
    record["perplexity"] = std::exp(window.mean_loss());
    record["sequence_length"] = dataset_.phases()[dataset_.last_phase()].sequence_length;
  }

  nlohmann::json evaluate(std::int64_t max_batches) override {
    const std::int64_t phase = dataset_.last_phase();
    auto cached = validation_.find(phase);
    if (cached == validation_.end() ||
        static_cast<std::int64_t>(cached->second.size()) <
            std::min(max_batches, dataset_.phase_dataset(phase).validation_batch_count()))
      cached =
          validation_  // only the batches evaluated: a large split stays on disk
              .insert_or_assign(phase, dataset_.validation_batches_of_phase(phase, max_batches))
              .first;
    if (cached->second.empty())
      throw DataError("the masked-LM data has no validation split: raise data.validation_fraction");
    MlmValidationMetrics metrics;
    MlmSlotPredictions slots;
    const std::int64_t count =
        std::min<std::int64_t>(max_batches, static_cast<std::int64_t>(cached->second.size()));
    for (std::int64_t b = 0; b < count; ++b) {
      const MlmBatch& batch = cached->second[static_cast<std::size_t>(b)];
      const TaskMetrics batch_metrics = runner_.evaluate_batch(batch, &slots);
      metrics.add(batch, batch_metrics, slots);
    }
    return metrics.record(dataset_.phases()[phase].sequence_length);
  }

  void save_state(nlohmann::json& trainer_state, std::vector<NamedTensor>&) const override {
    trainer_state["data_position"] = dataset_.position_json();
  }

  void restore_state(const nlohmann::json& trainer_state,
                     const std::map<std::string, Tensor>&) override {
    dataset_.restore_position_json(trainer_state.at("data_position"));
  }

  std::vector<nlohmann::json> fill_masks(const std::vector<std::string>& lines,
                                         std::int64_t top_k) override {
    const SentencePieceTokenizer& tokenizer = data_.tokenizer;
    const auto limit = static_cast<std::size_t>(model_.spec().max_positions);
    std::vector<nlohmann::json> records;
    for (std::size_t index = 0; index < lines.size(); ++index) {
      std::vector<std::int32_t> ids{kClsTokenId};
      for (std::int32_t id : tokenizer.encode_with_special_tokens(lines[index])) ids.push_back(id);
      ids.push_back(kSepTokenId);
      nlohmann::json record{{"line", index + 1}, {"masks", nlohmann::json::array()}};
      if (ids.size() > limit) {  // cut to the model's positions, [SEP] kept last
        ids.resize(limit - 1);
        ids.push_back(kSepTokenId);
        record["truncated"] = true;
      }
      std::vector<std::int32_t> masked;
      for (std::size_t t = 0; t < ids.size(); ++t)
        if (ids[t] == kMaskTokenId) masked.push_back(static_cast<std::int32_t>(t));
      if (masked.empty()) {
        records.push_back(std::move(record));
        continue;
      }
      const auto length = static_cast<std::int64_t>(ids.size());
      const auto slots = static_cast<std::int64_t>(masked.size());
      MlmBatch batch;
      batch.input_ids = Tensor::from_vector(ids, {1, length});
      batch.token_type_ids =
          Tensor::from_vector(std::vector<std::int32_t>(static_cast<std::size_t>(length), 0),
                              {1, length});
      batch.lengths = Tensor::from_vector(std::vector<std::int32_t>{static_cast<std::int32_t>(length)}, {1});
      batch.masked_positions = Tensor::from_vector(masked, {slots});
      // Any valid label: the loss is not looked at.
      batch.masked_labels =
          Tensor::from_vector(std::vector<std::int32_t>(masked.size(), kMaskTokenId), {slots});
      batch.masked_count = slots;
      const Tensor logits = runner_.predict_batch(batch);
      const std::int64_t vocab = logits.dim(1);
      std::vector<std::int32_t> filled = ids;
      for (std::int64_t slot = 0; slot < slots; ++slot) {
        const float* row = logits.data<float>() + slot * vocab;
        const double top = *std::max_element(row, row + vocab);
        double total = 0.0;
        for (std::int64_t v = 0; v < vocab; ++v) total += std::exp(static_cast<double>(row[v]) - top);
        std::vector<std::int32_t> order(static_cast<std::size_t>(vocab));
        std::iota(order.begin(), order.end(), 0);
        const auto kept = std::min<std::int64_t>(top_k, vocab);
        std::partial_sort(order.begin(), order.begin() + kept, order.end(),
                          [&](std::int32_t a, std::int32_t b) { return row[a] > row[b]; });
        nlohmann::json predictions = nlohmann::json::array();
        for (std::int64_t k = 0; k < kept; ++k)
          predictions.push_back(
              {{"token", tokenizer.piece(order[k])},
               {"id", order[k]},
               {"probability", std::exp(static_cast<double>(row[order[k]]) - top) / total}});
        filled[masked[slot]] = order[0];
        record["masks"].push_back({{"position", masked[slot]}, {"predictions", predictions}});
      }
      record["filled"] = tokenizer.decode(std::span(filled).subspan(1, filled.size() - 2));
      records.push_back(std::move(record));
    }
    return records;
  }

  ModelCheckpointFormat checkpoint_format() override {
    const BertSpec& spec = model_.spec();
    if (spec.pre_layernorm) {
      ModelCheckpointFormat format = parameter_checkpoint_format(*parameters_);
      format.check = [this, check_tensors = format.check](const fs::path& model_file,
                                                          const SafetensorsContents& contents) {
        check_checkpoint_tokenizer(model_file.parent_path());
        check_tensors(model_file, contents);
      };
      format.extra_files = {{kTokenizerFileName, tokenizer_bytes_}};
      return format;
    }
    ModelCheckpointFormat format;
    format.tensors = [this] {
      std::vector<NamedTensor> tensors;
      for (auto& [name, tensor] : bert_to_hf_tensors(model_.spec(), *parameters_))
        tensors.push_back({name, std::move(tensor)});
      return tensors;
    };
    format.check = [this](const fs::path& model_file, const SafetensorsContents& contents) {
      check_checkpoint_tokenizer(model_file.parent_path());
      check_hf_tensors(model_file, contents);
    };
    format.set = [this](const SafetensorsContents& contents) {
      bert_from_hf_tensors(model_.spec(), contents.tensors, *parameters_);
    };
    format.extra_files = {{kHfConfigFileName, bert_hf_config_json(spec)},
                          {kTokenizerFileName, tokenizer_bytes_}};
    format.extra_files.insert(format.extra_files.end(), hf_tokenizer_files_.begin(),
                              hf_tokenizer_files_.end());
    return format;
  }

  void initialize_from(const fs::path& directory) override {
    const BertSpec& spec = model_.spec();
    if (spec.pre_layernorm)
      throw ConfigError(fmt::format(
          "training.init_from {}: Hugging Face BERT is post-LN; set model.bert.pre_layernorm "
          "to false",
          directory.string()));
    const fs::path config_path = directory / kHfConfigFileName;
    if (!fs::exists(config_path))
      throw CheckpointError(
          fmt::format("training.init_from {}: no {} there; expected a Hugging Face BertForMaskedLM "
                      "directory (config.json, model.safetensors)",
                      directory.string(), kHfConfigFileName));
    check_same_architecture(config_path, bert_spec_from_hf_config(config_path));
    if (const std::optional<std::string> checksum = other_tokenizer_checksum(directory))
      throw ConfigError(fmt::format(
          "training.init_from {}: its weights were trained with another tokenizer ({} is {}, "
          "this run's is {}); set data.tokenizer.path: {}",
          directory.string(), (directory / kTokenizerFileName).string(), *checksum,
          data_.tokenizer.checksum(), directory.string()));
    const fs::path model_path = directory / "model.safetensors";
    const SafetensorsContents contents = read_safetensors(model_path);
    check_hf_tensors(model_path, contents);
    bert_from_hf_tensors(spec, contents.tensors, *parameters_);
    spdlog::info("initialised from {}", directory.string());
  }

  std::pair<std::int64_t, std::int64_t> planned_bytes() const override {
    return runner_.planned_bytes();
  }

  std::int64_t largest_training_arena_bytes() const override {
    std::int64_t largest = 0;
    for (std::size_t p = 0; p < dataset_.phases().size(); ++p) {
      const MlmDataset& phase = dataset_.phase_dataset(static_cast<std::int64_t>(p));
      largest = std::max(largest, runner_.planned_training_arena_bytes(
                                      static_cast<int>(phase.options().batch_size),
                                      static_cast<int>(phase.options().sequence_length),
                                      static_cast<int>(phase.masked_per_sequence())));
    }
    return largest;
  }

 private:
  // The checksum of directory's tokenizer.model when it differs from this
  // run's tokenizer; nothing when they agree or the directory has none (a
  // checkpoint of every mlm run holds one; other BERT directories may not).
  std::optional<std::string> other_tokenizer_checksum(const fs::path& directory) const {
    const fs::path tokenizer_path = directory / kTokenizerFileName;
    if (!fs::exists(tokenizer_path)) return std::nullopt;
    std::string checksum = fnv1a64_checksum(read_file(tokenizer_path));
    if (checksum == data_.tokenizer.checksum()) return std::nullopt;
    return checksum;
  }

  // A checkpoint (resumed or evaluated) carries the tokenizer its weights were
  // trained with; token ids mean nothing under another one. The run's data
  // cache is rebuilt with a new tokenizer when the corpus changes, so this is
  // where a changed corpus is caught.
  void check_checkpoint_tokenizer(const fs::path& checkpoint_dir) const {
    if (const std::optional<std::string> checksum = other_tokenizer_checksum(checkpoint_dir))
      throw CheckpointError(fmt::format(
          "{}: its weights were trained with another tokenizer than this run's data uses ({} is "
          "{}, the run's {} is {}): the corpus or tokenizer options changed since the run "
          "started: restore them, or start a new run_dir with training.init_from: {} and "
          "data.tokenizer.path: {}",
          checkpoint_dir.string(), (checkpoint_dir / kTokenizerFileName).string(), *checksum,
          data_.tokenizer.model_path().string(), data_.tokenizer.checksum(),
          checkpoint_dir.string(), checkpoint_dir.string()));
  }

  // Every tensor the model exports must be in the file as f32 or bf16 (read
  // as f32) of the same shape (the tied decoder tensors may be left out);
  // others are ignored.
  void check_hf_tensors(const fs::path& model_file, const SafetensorsContents& contents) const {
    for (const auto& [name, tensor] : bert_to_hf_tensors(model_.spec(), *parameters_)) {
      auto found = contents.tensors.find(name);
      if (found == contents.tensors.end()) {
        if (is_tied_decoder_tensor(name)) continue;
        throw CheckpointError(fmt::format("checkpoint file '{}' has no tensor '{}' (model {})",
                                          model_file.string(), name, shape_string(tensor.shape())));
      }
      const DType dtype = found->second.dtype();
      if (found->second.shape() != tensor.shape() || (dtype != DType::f32 && dtype != DType::bf16))
        throw CheckpointError(fmt::format(
            "checkpoint file '{}': tensor '{}' is {} {} in the file, the model needs f32 (or "
            "bf16) {}",
            model_file.string(), name, dtype_name(found->second.dtype()),
            shape_string(found->second.shape()), shape_string(tensor.shape())));
    }
  }

  void check_same_architecture(const fs::path& config_path, const BertSpec& saved) const {
    const BertSpec& spec = model_.spec();
    const std::tuple<const char*, const char*, int, int> fields[] = {
        {"vocab_size", "the tokenizer's vocabulary size", saved.vocabulary_size,
         spec.vocabulary_size},
        {"hidden_size", "model.bert.hidden_size", saved.hidden_size, spec.hidden_size},
        {"num_hidden_layers", "model.bert.layers", saved.layers, spec.layers},
        {"num_attention_heads", "model.bert.heads", saved.heads, spec.heads},
        {"intermediate_size", "model.bert.intermediate_size", saved.intermediate_size,
         spec.intermediate_size},
        {"max_position_embeddings", "model.bert.max_positions", saved.max_positions,
         spec.max_positions},
        {"type_vocab_size", "the token type vocabulary", saved.type_vocabulary_size,
         spec.type_vocabulary_size}};
    for (const auto& [hf_name, ours, saved_value, our_value] : fields)
      if (saved_value != our_value)
        throw ConfigError(fmt::format(
            "training.init_from: {} has {} {} where this run has {} ({}); make the run's config "
            "match it",
            config_path.string(), hf_name, saved_value, our_value, ours));
  }

  bool has_phases_;     // data.phases given (else data.batch_size is the one phase's)
  RankRows rank_rows_;  // data parallel: this rank's slice of each batch
  ParameterStore* parameters_;
  MlmRunData data_;
  BertModel model_;
  MlmPhasedDataset dataset_;
  MlmRunner runner_;
  std::string tokenizer_bytes_;
  std::vector<std::pair<std::string, std::string>> hf_tokenizer_files_;
  std::map<std::int64_t, std::vector<MlmBatch>> validation_;  // by phase
};

}  // namespace

BertSpec bert_spec_of(const RunConfig& config, std::int64_t vocabulary_size) {
  const BertModelConfig& bert = config.model.bert;
  BertSpec spec;
  spec.vocabulary_size = static_cast<int>(vocabulary_size);
  spec.hidden_size = static_cast<int>(bert.hidden_size);
  spec.layers = static_cast<int>(bert.layers);
  spec.heads = static_cast<int>(bert.heads);
  spec.intermediate_size = static_cast<int>(bert.intermediate_size);
  spec.max_positions = static_cast<int>(bert.max_positions);
  spec.hidden_dropout = static_cast<float>(bert.hidden_dropout);
  spec.attention_dropout = static_cast<float>(bert.attention_dropout);
  spec.pre_layernorm = bert.pre_layernorm;
  return spec;
}

std::unique_ptr<TrainingTask> make_mlm_training_task(const RunConfig& config,
                                                     const fs::path& run_dir, Backend& backend,
                                                     ParameterStore& parameters, RunStart start) {
  return std::make_unique<MlmTrainingTask>(config, run_dir, backend, parameters, start);
}

}  // namespace seqtrain
