#include <gtest/gtest.h>

#include <fstream>

#include "data/mlm_corpus_preparation.h"
#include "data_mlm_test_support.h"
#include "data_test_support.h"

namespace seqtrain {
namespace {

using testing::DataTestDirectory;
using testing::generated_corpus;
using testing::kSmallVocabSize;

TEST(MlmCorpusPreparation, BuildsOnceAndReusesWhileNothingChanges) {
  DataTestDirectory directory;
  MlmCorpusOptions options{.corpus = directory.write("corpus.txt", generated_corpus(100)),
                           .cache_directory = directory.root() / "cache",
                           .tokenizer = {.vocab_size = kSmallVocabSize},
                           .shards = {.validation_fraction = 0.1}};
  const PreparedMlmCorpus built = prepare_mlm_corpus(options);
  EXPECT_FALSE(built.reused);
  EXPECT_EQ(built.shards->vocab_size(), kSmallVocabSize);
  EXPECT_EQ(built.shards->validation().document_count(), 10);
  EXPECT_TRUE(std::filesystem::exists(directory.root() / "cache" / "preparation.json"));

  const PreparedMlmCorpus again = prepare_mlm_corpus(options);
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.tokenizer.checksum(), built.tokenizer.checksum());
  EXPECT_EQ(again.shards->training().token_count(), built.shards->training().token_count());

  // Another option: rebuilt.
  options.shards.validation_fraction = 0.2;
  const PreparedMlmCorpus resplit = prepare_mlm_corpus(options);
  EXPECT_FALSE(resplit.reused);
  EXPECT_EQ(resplit.shards->validation().document_count(), 20);
  EXPECT_TRUE(prepare_mlm_corpus(options).reused);

  // Other corpus bytes under the same name: rebuilt with another tokenizer.
  directory.write("corpus.txt", generated_corpus(100, 3));
  const PreparedMlmCorpus recorpused = prepare_mlm_corpus(options);
  EXPECT_FALSE(recorpused.reused);
  EXPECT_NE(recorpused.tokenizer.checksum(), built.tokenizer.checksum());

  // A damaged shard: rebuilt instead of used.
  std::filesystem::resize_file(directory.root() / "cache" / "shards" / "train-00000.tokens", 3);
  const PreparedMlmCorpus repaired = prepare_mlm_corpus(options);
  EXPECT_FALSE(repaired.reused);
  EXPECT_EQ(repaired.shards->training().token_count(), recorpused.shards->training().token_count());
  EXPECT_TRUE(prepare_mlm_corpus(options).reused);
}

}  // namespace
}  // namespace seqtrain
