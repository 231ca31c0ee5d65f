#include "config/run_config_keys.h"

#include <cstdint>
#include <string>
#include <vector>

#include "seqtrain/cpu_threads.h"

namespace seqtrain {
namespace {

// Conditions of keys that only one family of tasks reads.
const std::vector<std::string> kSequenceTasks{"charlm", "adding", "classification"};
const std::vector<std::string> kMlmTask{"mlm"};

// The YAML path of every key is the path of its RunConfig member, so one macro
// names both: RUN_CONFIG_KEY(training.steps) is "training.steps" and an accessor
// returning config.training.steps.
#define RUN_CONFIG_KEY(member)         \
#member, [](auto& config) -> auto& { \
    return config.member;              \
  }

// Every key seqtrain reads. To add one: add the member to run_config.h (its path
// there is its YAML path), declare it here, document it in the doc string, add
// any check that involves other keys to run_config_cross_key_checks.cc, and
// regenerate docs/configuration.md (see tests/config_test.cc).
RunConfigTable build_table() {
  RunConfigTable table;
  table
      .choice(RUN_CONFIG_KEY(task), kTaskNames,
              "What to train: a character language model on a text file, the adding problem "
              "(synthetic), sequence classification, or masked-LM pretraining of BERT (mlm).")
      .required();
  table
      .integer(RUN_CONFIG_KEY(seed),
               "Seed of every random stream (initialisation, data order, dropout).")
      .with_default(std::int64_t{1234})
      .at_least(0);
  table
      .integer(RUN_CONFIG_KEY(threads),
               "CPU threads to use; 0 uses OMP_NUM_THREADS when it is set, else all cores.")
      .with_default(std::int64_t{0})
      .at_least(0)
      .at_most(kMaxCpuThreads);
  table
      .string(RUN_CONFIG_KEY(run_dir),
              "Directory for the resolved config, logs and checkpoints; a fresh run needs it "
              "empty or absent.")
      .with_derived_default("runs/<task>");

  table
      .choice(RUN_CONFIG_KEY(model.type), kModelTypeNames,
              "The model: a recurrent stack of LSTM, GRU or tanh-RNN cells (charlm, adding, "
              "classification), a Transformer encoder (the same tasks; causal attention for "
              "charlm), or BERT (mlm). Chosen apart from the task; a task takes any model that "
              "yields its head.")
      .with_default(std::string("lstm"))
      .with_default_when("task", "mlm", std::string("bert"));
  table
      .choice(RUN_CONFIG_KEY(model.cell), kRnnCellNames,
              "The older name of model.type for the recurrent types; given alone it sets "
              "model.type.")
      .with_default(std::string("lstm"))
      .only_when("task", kSequenceTasks)
      .only_when("model.type", {"lstm", "gru", "rnn"});
  table
      .choice(RUN_CONFIG_KEY(model.impl), kRnnImplNames,
              "Whose code runs the recurrent layers on --device cuda: seqtrain's fused cell "
              "kernels, or cuDNN's RNN (for comparing the two on a GPU; forward-direction layers "
              "only, untested until run on a GPU). The cpu and serial backends have fused only.")
      .with_default(std::string("fused"))
      .only_when("task", kSequenceTasks);
  table.integer(RUN_CONFIG_KEY(model.hidden_size),
                "Width of the recurrent state, or of the transformer's token representation.")
      .with_default(std::int64_t{256})
      .at_least(1)
      .only_when("task", kSequenceTasks);
  table.integer(RUN_CONFIG_KEY(model.layers), "Stacked recurrent layers, or transformer encoder layers.")
      .with_default(std::int64_t{1})
      .at_least(1)
      .only_when("task", kSequenceTasks);
  table
      .boolean(RUN_CONFIG_KEY(model.bidirectional),
               "Also read each sequence backwards and concatenate both states; not for charlm.")
      .with_default(false)
      .only_when("task", kSequenceTasks);
  table
      .integer(RUN_CONFIG_KEY(model.embedding_size),
               "Width of the token embedding (charlm and classification).")
      .with_default(std::int64_t{64})
      .at_least(1)
      .only_when("task", kSequenceTasks);
  table
      .number(RUN_CONFIG_KEY(model.dropout),
              "Probability of zeroing an activation between layers during training.")
      .with_default(0.0)
      .at_least(0)
      .less_than(1)
      .only_when("task", kSequenceTasks);

  table
      .integer(RUN_CONFIG_KEY(model.heads),
               "Attention heads of the transformer; hidden_size / heads is the head dimension "
               "(32, 64 or 128).")
      .with_default(std::int64_t{2})
      .at_least(1)
      .only_when("task", kSequenceTasks)
      .only_when("model.type", {"transformer"});
  table
      .integer(RUN_CONFIG_KEY(model.intermediate_size),
               "Width of the transformer's feed-forward layer; 0 is 4 * hidden_size.")
      .with_default(std::int64_t{0})
      .at_least(0)
      .only_when("task", kSequenceTasks)
      .only_when("model.type", {"transformer"});

  table.integer(RUN_CONFIG_KEY(model.bert.hidden_size), "Width of every token's representation.")
      .with_default(std::int64_t{128})
      .at_least(1)
      .only_when("task", kMlmTask);
  table.integer(RUN_CONFIG_KEY(model.bert.layers), "Transformer encoder layers.")
      .with_default(std::int64_t{2})
      .at_least(1)
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(model.bert.heads),
               "Attention heads; hidden_size / heads is the head dimension (32, 64 or 128).")
      .with_default(std::int64_t{2})
      .at_least(1)
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(model.bert.intermediate_size),
               "Width of the feed-forward layer (BERT: 4 * hidden_size).")
      .with_default(std::int64_t{512})
      .at_least(1)
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(model.bert.max_positions),
               "Position embeddings: the longest sequence the model can read.")
      .with_default(std::int64_t{512})
      .at_least(3)
      .at_most(1 << 20)
      .only_when("task", kMlmTask);
  table
      .boolean(RUN_CONFIG_KEY(model.bert.pre_layernorm),
               "LayerNorm before each sublayer (pre-LN) instead of after (BERT's post-LN); "
               "pre-LN checkpoints have no Hugging Face counterpart.")
      .with_default(false)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(model.bert.hidden_dropout),
              "Dropout on the embeddings and on each sublayer's output during training.")
      .with_default(0.1)
      .at_least(0)
      .less_than(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(model.bert.attention_dropout),
              "Dropout on the attention probabilities during training.")
      .with_default(0.1)
      .at_least(0)
      .less_than(1)
      .only_when("task", kMlmTask);

  table.string(RUN_CONFIG_KEY(data.path),
               "charlm: the text file to train on (required); mlm: the corpus, UTF-8 text whose "
               "blank-line-separated blocks are documents: a file, or a glob pattern such as "
               "'corpus/*.txt' for several, streamed in bounded memory (mlm needs this or "
               "data.shards).");
  table
      .choice(RUN_CONFIG_KEY(data.vocabulary), kVocabularyNames,
              "charlm: tokens are bytes (256 symbols) or the Unicode characters of the training "
              "text, which must then be UTF-8.")
      .with_default(std::string("byte"))
      .only_when("task", kSequenceTasks);
  table
      .number(RUN_CONFIG_KEY(data.validation_fraction),
              "Share of the data held out for validation when no separate validation file is "
              "given.")
      .with_default(0.05)
      .greater_than(0)
      .at_most(0.5);
  table
      .string(RUN_CONFIG_KEY(data.train_path),
              "classification: the training examples (required there).")
      .only_when("task", kSequenceTasks);
  table
      .string(RUN_CONFIG_KEY(data.validation_path),
              "classification: the validation examples; if unset, validation_fraction of "
              "train_path is held out.")
      .only_when("task", kSequenceTasks);
  table
      .integer(RUN_CONFIG_KEY(data.sequence_length),
               "charlm: truncated-BPTT length; adding: sequence length T; classification: "
               "longest sequence kept; mlm: tokens per sequence with [CLS] and [SEP] (at least "
               "3) when data.phases is not set.")
      .with_default(std::int64_t{128})
      .at_least(1);
  table.integer(RUN_CONFIG_KEY(data.batch_size), "Sequences per batch.")
      .with_default(std::int64_t{32})
      .at_least(1);
  table
      .integer(RUN_CONFIG_KEY(data.validation_size),
               "adding: number of validation sequences generated.")
      .with_default(std::int64_t{1000})
      .at_least(1)
      .only_when("task", kSequenceTasks);

  table
      .string(RUN_CONFIG_KEY(data.cache_dir),
              "Where the trained tokenizer and token shards are kept and reused (rebuilt when "
              "the corpus or tokenizer options change).")
      .with_derived_default("<run_dir>/data")
      .only_when("task", kMlmTask);
  table
      .string(RUN_CONFIG_KEY(data.shards),
              "A directory made by `seqtrain data prepare` (token shards and their tokenizer) to "
              "train on instead of preparing data.path; its validation split is the one it was "
              "prepared with.")
      .only_when("task", kMlmTask);
  table
      .string(RUN_CONFIG_KEY(data.tokenizer.path),
              "A tokenizer directory (seqtrain tokenizer train, or a checkpoint directory, which "
              "holds the run's tokenizer.model) to use instead of training one on data.path.")
      .only_when("task", kMlmTask);
  table
      .integer(RUN_CONFIG_KEY(data.tokenizer.vocab_size),
               "Pieces in the SentencePiece vocabulary trained on data.path, the 5 special "
               "tokens included.")
      .with_default(std::int64_t{8000})
      .at_least(6)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.tokenizer.character_coverage),
              "Share of the corpus's characters the trained tokenizer covers; rarer ones become "
              "[UNK].")
      .with_default(0.9995)
      .greater_than(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.tokenizer.sample_mb),
              "A corpus larger than this many MB trains its tokenizer on a reproducible sample "
              "of its lines of about this size (SentencePiece holds what it learns from in "
              "memory); a smaller one on all of it.")
      .with_default(64.0)
      .greater_than(0)
      .at_most(1e6)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.masking.mask_rate),
              "Share of each sequence's maskable tokens the model must predict.")
      .with_default(0.15)
      .greater_than(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.masking.replace_with_mask),
              "Of the chosen tokens, the share replaced by [MASK].")
      .with_default(0.8)
      .at_least(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .number(RUN_CONFIG_KEY(data.masking.replace_with_random),
              "Of the chosen tokens, the share replaced by a random token (the rest stay "
              "unchanged).")
      .with_default(0.1)
      .at_least(0)
      .at_most(1)
      .only_when("task", kMlmTask);
  table
      .phase_list(RUN_CONFIG_KEY(data.phases),
                  "Sequence-length schedule: phases run in order, each for its steps (optimizer "
                  "steps: with training.gradient_accumulation k, each is k micro-batches of the "
                  "phase) with its sequence length and batch size; the last runs on to "
                  "training.steps. Not set: one phase of data.sequence_length and "
                  "data.batch_size.")
      .only_when("task", kMlmTask);

  table.integer(RUN_CONFIG_KEY(training.steps), "Optimizer steps to train for.")
      .with_default(std::int64_t{1000})
      .at_least(1);
  table
      .integer(RUN_CONFIG_KEY(training.gradient_accumulation),
               "Batches whose gradients are summed before each optimizer step.")
      .with_default(std::int64_t{1})
      .at_least(1);
  table
      .choice(RUN_CONFIG_KEY(training.optimizer.name), kOptimizerNames,
              "AdamW (decoupled weight decay) or SGD with momentum.")
      .with_default(std::string("adamw"));
  table
      .number(RUN_CONFIG_KEY(training.optimizer.learning_rate),
              "Peak learning rate, reached at the end of warmup.")
      .with_default(1e-3)
      .greater_than(0)
      .with_default_when("task", "mlm", 1e-4);
  table
      .number_list(RUN_CONFIG_KEY(training.optimizer.betas),
                   "adamw: decay rates of the first and second moment estimates.")
      .with_default(std::vector<double>{0.9, 0.999})
      .at_least(0)
      .less_than(1);
  table
      .number(RUN_CONFIG_KEY(training.optimizer.epsilon),
              "adamw: added to the root of the second moment to avoid division by zero.")
      .with_default(1e-8)
      .greater_than(0)
      .with_default_when("task", "mlm", 1e-6);
  table
      .number(RUN_CONFIG_KEY(training.optimizer.weight_decay),
              "Weight decay coefficient (decoupled for adamw); biases and normalisation gains "
              "are not decayed.")
      .with_default(0.0)
      .at_least(0)
      .with_default_when("task", "mlm", 0.01);
  table.number(RUN_CONFIG_KEY(training.optimizer.momentum), "sgd: momentum.")
      .with_default(0.9)
      .at_least(0)
      .less_than(1);
  table
      .integer(RUN_CONFIG_KEY(training.schedule.warmup_steps),
               "Steps of linear warmup from 0 to the learning rate. A warmup that does not fit "
               "the run is clamped, with a warning, to training.steps - 1 (a decay needs a step "
               "after it) or to training.steps when decay is constant. When task is mlm and the "
               "key is not given: 1% of training.steps (BERT warmed up for 10,000 of 1,000,000 "
               "steps).")
      .with_default(std::int64_t{0})
      .at_least(0);
  table
      .choice(RUN_CONFIG_KEY(training.schedule.decay), kLrDecayNames,
              "Shape of the decay from the learning rate to final_learning_rate after warmup.")
      .with_default(std::string("cosine"))
      .with_default_when("task", "mlm", std::string("linear"));
  table
      .number(RUN_CONFIG_KEY(training.schedule.final_learning_rate),
              "Learning rate at the last step (linear and cosine decay); at most the learning "
              "rate.")
      .with_default(0.0)
      .at_least(0);
  table
      .number(RUN_CONFIG_KEY(training.clip_norm),
              "Clip the global gradient norm to this value; 0 turns clipping off.")
      .with_default(1.0)
      .at_least(0);
  table
      .choice(RUN_CONFIG_KEY(training.precision), kPrecisionNames,
              "Precision of the GEMM inputs: fp32, or bf16 (mixed precision: activations and "
              "weights rounded to bf16 as they enter each matrix product, accumulated and "
              "written in fp32; weights, optimizer state, losses, softmax statistics, the "
              "recurrent layers' own products and every other op stay fp32). bf16 runs on cuda, "
              "and on a CPU with avx512_bf16 or AMX (oneDNN's bf16 GEMMs; measured slower than "
              "fp32 on an AMD EPYC with avx512_bf16, docs/benchmarks.md); other CPUs refuse it.")
      .with_default(std::string("fp32"));
  table
      .integer(RUN_CONFIG_KEY(training.max_skipped_steps),
               "A step whose loss or gradient is not finite is skipped (no update) and counted; "
               "this many in a row stop the run, keeping the last good checkpoint. 0 stops at "
               "the first.")
      .with_default(std::int64_t{5})
      .at_least(0);
  table
      .integer(RUN_CONFIG_KEY(training.eval_every),
               "Validate every this many steps; 0 validates only at the end.")
      .with_default(std::int64_t{200})
      .at_least(0);
  table.integer(RUN_CONFIG_KEY(training.eval_batches), "Validation batches per evaluation.")
      .with_default(std::int64_t{50})
      .at_least(1);
  table
      .integer(RUN_CONFIG_KEY(training.checkpoint_every),
               "Checkpoint every this many steps; 0 checkpoints only at the end.")
      .with_default(std::int64_t{500})
      .at_least(0);
  table.integer(RUN_CONFIG_KEY(training.log_every), "Log training metrics every this many steps.")
      .with_default(std::int64_t{10})
      .at_least(1);
  table
      .boolean(RUN_CONFIG_KEY(training.tensorboard),
               "Also write every metrics record as TensorBoard scalars (train/<metric>, "
               "validation/<metric>) into <run_dir>/tensorboard: tensorboard --logdir runs.")
      .with_default(false);
  table
      .integer(RUN_CONFIG_KEY(training.keep_checkpoints),
               "Keep the newest this many checkpoints and delete older ones after each save "
               "(the best one of training.keep_best is kept besides); 0 keeps every checkpoint.")
      .with_default(std::int64_t{0})
      .at_least(0);
  table.string(RUN_CONFIG_KEY(training.keep_best),
               "A validation metric of the task (charlm: loss, bits_per_char, accuracy; adding: "
               "mse; classification: loss, accuracy; mlm: mlm_loss, mlm_accuracy, perplexity). "
               "Each validation that improves it (accuracy upwards, the others downwards) is "
               "checkpointed and linked as checkpoints/best, which is never pruned.");
  table.string(RUN_CONFIG_KEY(training.early_stopping.metric),
               "Stop early when this validation metric (as for keep_best) has not improved for "
               "training.early_stopping.patience validations in a row: the run checkpoints and "
               "ends with exit code 0. Needs training.eval_every > 0. Unset: no early stopping.");
  table
      .integer(RUN_CONFIG_KEY(training.early_stopping.patience),
               "Validations in a row without improvement before an early stop.")
      .with_default(std::int64_t{5})
      .at_least(1);
  table
      .number(RUN_CONFIG_KEY(training.early_stopping.min_delta),
              "An improvement must beat the best value by more than this.")
      .with_default(0.0)
      .at_least(0);
  table
      .boolean(RUN_CONFIG_KEY(training.carry_state),
               "charlm: carry the recurrent state from one batch to the next (truncated BPTT) "
               "instead of starting each from zero. A transformer carries no state (each batch "
               "re-reads its whole window through attention): false by default for it, and "
               "true is an error.")
      .with_default(true)
      .only_when("task", kSequenceTasks);
  table
      .string(RUN_CONFIG_KEY(training.init_from),
              "Weights to start from, with a fresh optimizer and step 0; resuming a run "
              "(--resume) ignores it. mlm: a Hugging Face BertForMaskedLM directory "
              "(config.json, model.safetensors; a seqtrain checkpoint directory is one). "
              "charlm, adding, classification: a .safetensors file or a checkpoint directory; "
              "its tensors are matched by name (embedding.weight, rnn.weight_ih_l0, head.bias, "
              "...), recurrent ones also by PyTorch's nn.LSTM/GRU/RNN names under any module "
              "prefix (weight_ih_l0, lstm.bias_hh_l1_reverse); parameters it does not hold keep "
              "their fresh initialisation.");
  table
      .number(RUN_CONFIG_KEY(distributed.bucket_mb),
              "Data parallel (mpirun): gradients are summed over the ranks in buckets of about "
              "this many MiB (a larger parameter is a bucket of its own), each one all-reduce; "
              "every bucket is started before the first is awaited. Fewer, larger buckets cost "
              "fewer message latencies. Ignored by one process.")
      .with_default(25.0)
      .greater_than(0);
  table
      .number(RUN_CONFIG_KEY(distributed.timeout_s),
              "Data parallel (mpirun): a rank that waits this many seconds in one collective "
              "(the other ranks never came: one is hung or stopped) says so in one line and "
              "exits 124, which ends the job. Must exceed rank 0's longest validation plus "
              "checkpoint, which the others wait out in a collective. 0 waits for ever.")
      .with_default(1800.0)
      .at_least(0);
  table.schema().check_consistency();
  return table;
}

#undef RUN_CONFIG_KEY

}  // namespace

const RunConfigTable& run_config_table() {
  static const RunConfigTable table = build_table();
  return table;
}

}  // namespace seqtrain
