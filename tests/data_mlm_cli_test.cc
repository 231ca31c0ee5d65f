// `seqtrain tokenizer train` and `seqtrain data prepare` end to end: they write
// a tokenizer and shards that the library reads back, and bad input of every
// kind is one line on stderr with exit code 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "cli_test_support.h"
#include "data/token_shards.h"
#include "data_mlm_test_support.h"
#include "data_test_support.h"

namespace seqtrain {
namespace {

using testing::CommandResult;
using testing::DataTestDirectory;
using testing::generated_corpus;
using testing::run_seqtrain;

void expect_one_line_user_error(const CommandResult& result, const std::string& fragment) {
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find(fragment), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
}

TEST(MlmDataCli, TrainsATokenizerAndPreparesShards) {
  DataTestDirectory directory;
  const std::filesystem::path corpus = directory.write("corpus.txt", generated_corpus(100));
  const std::filesystem::path tokenizer = directory.root() / "tokenizer";
  const std::filesystem::path shards = directory.root() / "shards";
  const CommandResult trained = run_seqtrain("tokenizer train --input " + corpus.string() +
                                             " --vocab-size 100 --output " + tokenizer.string());
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("100 pieces"), std::string::npos) << trained.output;
  const CommandResult prepared = run_seqtrain("data prepare --input " + corpus.string() +
                                              " --tokenizer " + tokenizer.string() + " --output " +
                                              shards.string() + " --validation-fraction 0.2");
  ASSERT_EQ(prepared.exit_code, 0) << prepared.output;

  const TokenShards opened = TokenShards::open(shards);
  opened.require_tokenizer(SentencePieceTokenizer::load(tokenizer));
  EXPECT_EQ(opened.vocab_size(), 100);
  EXPECT_EQ(opened.validation().document_count(), 20);
  EXPECT_EQ(opened.training().document_count(), 80);
}

TEST(MlmDataCli, BadInputIsOneLineAndExitCodeTwo) {
  DataTestDirectory directory;
  const std::string missing = (directory.root() / "missing.txt").string();
  const std::string output = (directory.root() / "out").string();
  expect_one_line_user_error(
      run_seqtrain("tokenizer train --input " + missing + " --vocab-size 100 --output " + output),
      missing);
  const std::string corpus = directory.write("corpus.txt", generated_corpus(50)).string();
  expect_one_line_user_error(
      run_seqtrain("tokenizer train --input " + corpus + " --vocab-size 2 --output " + output),
      "vocabulary size");
  expect_one_line_user_error(run_seqtrain("tokenizer train --input " + corpus), "--output");
  expect_one_line_user_error(run_seqtrain("data prepare --input " + corpus + " --tokenizer " +
                                          output + " --output " + output),
                             "tokenizer.model");
  ASSERT_EQ(
      run_seqtrain("tokenizer train --input " + corpus + " --vocab-size 80 --output " + output)
          .exit_code,
      0);
  expect_one_line_user_error(
      run_seqtrain("data prepare --input " + corpus + " --tokenizer " + output + " --output " +
                   output + "/shards --validation-fraction 1.5"),
      "validation fraction");
  expect_one_line_user_error(run_seqtrain("data prepare --input " + missing + " --tokenizer " +
                                          output + " --output " + output + "/shards"),
                             missing);
}

}  // namespace
}  // namespace seqtrain
