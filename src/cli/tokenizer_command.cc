// seqtrain tokenizer train --input FILE --vocab-size N --output DIR: trains the
// masked-LM SentencePiece tokenizer on a text corpus (src/data/sentencepiece_tokenizer.h)
// and writes DIR/tokenizer.model and DIR/tokenizer.vocab.
#include <fmt/format.h>

#include "cli/commands.h"
#include "data/sentencepiece_tokenizer.h"

namespace seqtrain {

void register_tokenizer_command(CLI::App& app, CommandRegistry& commands) {
  struct Options {
    std::string input, output;
    TokenizerTrainingOptions training;
  };
  auto options = std::make_shared<Options>();
  CLI::App* tokenizer = app.add_subcommand("tokenizer", "Train a SentencePiece tokenizer for BERT");
  tokenizer->require_subcommand(1);
  CLI::App* train = tokenizer->add_subcommand(
      "train",
      "Train a BPE tokenizer on a text corpus ([PAD] [UNK] [CLS] [SEP] [MASK] at ids 0-4)");
  train
      ->add_option("--input", options->input,
                   "The corpus: UTF-8 text, one sentence or more per line")
      ->required();
  train
      ->add_option("--output", options->output, "Directory for tokenizer.model and tokenizer.vocab")
      ->required();
  train
      ->add_option("--vocab-size", options->training.vocab_size,
                   "Pieces in the vocabulary, the 5 special tokens included")
      ->capture_default_str();
  train
      ->add_option("--character-coverage", options->training.character_coverage,
                   "Share of the corpus's characters the model covers; rarer ones become [UNK]")
      ->capture_default_str();
  commands.add(train, [options] {
    const SentencePieceTokenizer trained =
        SentencePieceTokenizer::train(options->input, options->output, options->training);
    fmt::print("tokenizer: {} ({} pieces, {})\n", trained.model_path().string(),
               trained.vocab_size(), trained.checksum());
    return 0;
  });
}

}  // namespace seqtrain
