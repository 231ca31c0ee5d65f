// seqtrain data prepare --input FILE... --output DIR [--tokenizer DIR]:
// tokenises a corpus once into memory-mappable token shards with a validation
// split (src/data/token_shards.h), for masked-LM pretraining; a run names DIR
// as data.shards. The corpus (files or glob patterns) is streamed in bounded
// memory; DIR/tokenizer holds the tokenizer, trained on a sample of the corpus
// unless --tokenizer gives one. Run again after an interruption, it carries on
// where it stopped.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/tokenizer_directory.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/token_shards.h"
#include "seqtrain/error.h"

namespace seqtrain {

void register_data_command(CLI::App& app, CommandRegistry& commands) {
  struct Options {
    std::vector<std::string> inputs;
    std::string tokenizer, output;
    TokenizerTrainingFlags training;
    TokenShardsOptions shards;
  };
  auto options = std::make_shared<Options>();
  CLI::App* data = app.add_subcommand("data", "Prepare training data");
  data->require_subcommand(1);
  CLI::App* prepare = data->add_subcommand(
      "prepare",
      "Tokenise a corpus into token shards (documents: blank-line-separated blocks) for "
      "data.shards");
  prepare
      ->add_option("--input", options->inputs,
                   "The corpus: UTF-8 text; one or more files or glob patterns ('corpus/*.txt')")
      ->required();
  prepare->add_option("--output", options->output,
                      "Directory for the shards, manifest.json and tokenizer/")
      ->required();
  prepare->add_option("--tokenizer", options->tokenizer,
                      "A directory from `seqtrain tokenizer train` (copied into the output); "
                      "without it one is trained on the corpus with the options below");
  add_tokenizer_training_flags(*prepare, options->training);
  prepare
      ->add_option("--validation-fraction", options->shards.validation_fraction,
                   "Share of the documents held out for validation, in [0, 1)")
      ->capture_default_str();
  prepare
      ->add_option("--seed", options->shards.split_seed,
                   "Seed of the choice of validation documents")
      ->capture_default_str();
  prepare
      ->add_option("--max-tokens-per-shard", options->shards.max_tokens_per_shard,
                   "A shard closes at the first document end past this many tokens")
      ->capture_default_str();
  commands.add(prepare, [options, prepare] {
    for (const char* flag : {"--vocab-size", "--character-coverage", "--sample-mb"})
      if (!options->tokenizer.empty() && prepare->count(flag) > 0)
        throw ConfigError(fmt::format(
            "data prepare: {} trains a tokenizer, but --tokenizer names one to use; remove one "
            "of the two",
            flag));
    const std::vector<CorpusFile> corpus = resolve_corpus_files(options->inputs, "corpus");
    const std::filesystem::path output = options->output;
    auto say = [](const std::string& message) {
      std::fprintf(stderr, "data prepare: %s\n", message.c_str());
    };
    const SentencePieceTokenizer tokenizer = [&] {
      if (!options->tokenizer.empty())
        return copy_tokenizer_directory(SentencePieceTokenizer::load(options->tokenizer),
                                        output / "tokenizer");
      say(fmt::format("training a {}-piece tokenizer on {} ({:.1f} MB)",
                      options->training.options.vocab_size, corpus_name(corpus),
                      static_cast<double>(corpus_bytes(corpus)) / 1e6));
      return train_tokenizer_directory(corpus, output / "tokenizer", options->training.resolved());
    }();
    TokenShardsOptions shard_options = options->shards;
    shard_options.progress = say;
    const TokenShards shards = TokenShards::prepare(corpus, tokenizer, output, shard_options);
    fmt::print(
        "prepared: {} (train: {} documents, {} tokens; validation: {} documents, {} "
        "tokens; {} ids; tokenizer {})\n",
        shards.directory().string(), shards.training().document_count(),
        shards.training().token_count(), shards.validation().document_count(),
        shards.validation().token_count(), token_dtype_name(shards.token_dtype()),
        tokenizer.model_path().string());
    return 0;
  });
}

}  // namespace seqtrain
