// seqtrain data prepare --input FILE --tokenizer DIR --output DIR: tokenises a
// corpus once into memory-mappable token shards with a validation split
// (src/data/token_shards.h), for masked-LM pretraining.
#include <fmt/format.h>

#include "cli/commands.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/token_shards.h"

namespace seqtrain {

void register_data_command(CLI::App& app, CommandRegistry& commands) {
  struct Options {
    std::string input, tokenizer, output;
    TokenShardsOptions shards;
  };
  auto options = std::make_shared<Options>();
  CLI::App* data = app.add_subcommand("data", "Prepare training data");
  data->require_subcommand(1);
  CLI::App* prepare = data->add_subcommand(
      "prepare", "Tokenise a corpus into token shards (documents: blank-line-separated blocks)");
  prepare->add_option("--input", options->input, "The corpus: UTF-8 text")->required();
  prepare
      ->add_option("--tokenizer", options->tokenizer, "A directory from `seqtrain tokenizer train`")
      ->required();
  prepare->add_option("--output", options->output, "Directory for the shards and manifest.json")
      ->required();
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
  commands.add(prepare, [options] {
    const SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(options->tokenizer);
    TokenShardsOptions shard_options = options->shards;
    shard_options.progress = [](const std::string& message) {
      std::fprintf(stderr, "data prepare: %s\n", message.c_str());
    };
    const TokenShards shards =
        TokenShards::prepare(options->input, tokenizer, options->output, shard_options);
    fmt::print(
        "prepared: {} (train: {} documents, {} tokens; validation: {} documents, {} "
        "tokens; {} ids)\n",
        shards.directory().string(), shards.training().document_count(),
        shards.training().token_count(), shards.validation().document_count(),
        shards.validation().token_count(), token_dtype_name(shards.token_dtype()));
    return 0;
  });
}

}  // namespace seqtrain
