// seqtrain tokenizer train --input FILE... --vocab-size N --output DIR: trains
// the masked-LM SentencePiece tokenizer on a text corpus (one or more files or
// glob patterns, sampled when larger than --sample-mb;
// src/data/sentencepiece_tokenizer.h) and writes DIR/tokenizer.model and
// DIR/tokenizer.vocab, and the Hugging Face files beside them
// (cli/tokenizer_directory.h).
// seqtrain tokenizer encode --tokenizer DIR --input FILE: each line's token
// ids as a JSON array ([MASK] and the other special tokens spelled out become
// their ids).
#include <fmt/format.h>

#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/tokenizer_directory.h"
#include "data/sentencepiece_tokenizer.h"
#include "io/read_file.h"

namespace seqtrain {

void register_tokenizer_command(CLI::App& app, CommandRegistry& commands) {
  struct Options {
    std::vector<std::string> inputs;
    std::string output;
    TokenizerTrainingFlags training;
  };
  auto options = std::make_shared<Options>();
  CLI::App* tokenizer = app.add_subcommand("tokenizer", "Train a SentencePiece tokenizer for BERT");
  tokenizer->require_subcommand(1);
  CLI::App* train = tokenizer->add_subcommand(
      "train",
      "Train a BPE tokenizer on a text corpus ([PAD] [UNK] [CLS] [SEP] [MASK] at ids 0-4)");
  train
      ->add_option("--input", options->inputs,
                   "The corpus: UTF-8 text, one sentence or more per line; one or more files or "
                   "glob patterns ('corpus/*.txt')")
      ->required();
  train
      ->add_option("--output", options->output, "Directory for tokenizer.model and tokenizer.vocab")
      ->required();
  add_tokenizer_training_flags(*train, options->training);
  commands.add(train, [options] {
    const SentencePieceTokenizer trained = train_tokenizer_directory(
        resolve_corpus_files(options->inputs, "tokenizer training corpus"), options->output,
        options->training.resolved());
    fmt::print("tokenizer: {} ({} pieces, {}); tokenizer.json for Hugging Face beside it\n",
               trained.model_path().string(), trained.vocab_size(), trained.checksum());
    return 0;
  });

  struct EncodeOptions {
    std::string tokenizer, input;
  };
  auto encode_options = std::make_shared<EncodeOptions>();
  CLI::App* encode = tokenizer->add_subcommand(
      "encode", "Print each line's token ids as a JSON array (special tokens spelled out count)");
  encode->add_option("--tokenizer", encode_options->tokenizer,
                     "A tokenizer directory (or its tokenizer.model)")
      ->required();
  encode->add_option("--input", encode_options->input, "UTF-8 text, one example per line")
      ->required();
  commands.add(encode, [encode_options] {
    const SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(encode_options->tokenizer);
    std::istringstream lines(read_file(encode_options->input));
    for (std::string line; std::getline(lines, line);)
      std::cout << nlohmann::json(tokenizer.encode_with_special_tokens(line)).dump() << "\n";
    return 0;
  });
}

}  // namespace seqtrain
