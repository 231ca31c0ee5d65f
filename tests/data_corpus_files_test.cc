#include "data/corpus_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "data/token_shards.h"
#include "data_mlm_test_support.h"
#include "data_test_support.h"
#include "io/fnv1a64.h"
#include "seqtrain/error.h"

namespace seqtrain {
namespace {

using testing::DataTestDirectory;
using testing::expect_error_mentions;
using testing::generated_corpus;

std::vector<std::string> all_documents(CorpusReader& reader) {
  std::vector<std::string> documents;
  std::string document;
  while (reader.next_document(document)) documents.push_back(document);
  return documents;
}

// The reader against split_corpus_documents on the whole text: a file's end
// also ends a document.
TEST(CorpusFiles, DocumentsAreThoseOfEachFileInOrder) {
  DataTestDirectory directory;
  const std::string a = "one\r\ntwo\n\n \n three\n", b = "four\n\nfive six", c = "\n\nseven\n";
  directory.write("a.txt", a);
  directory.write("b.txt", b);
  directory.write("c.txt", c);
  const std::vector<CorpusFile> files =
      resolve_corpus_files({(directory.root() / "*.txt").string()}, "corpus");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path.filename(), "a.txt");  // sorted
  EXPECT_EQ(files[2].path.filename(), "c.txt");
  EXPECT_EQ(corpus_bytes(files), a.size() + b.size() + c.size());

  CorpusReader reader(files, "corpus");
  std::vector<std::string> expected;
  for (const std::string& text : {a, b, c})
    for (std::string& document : split_corpus_documents(text)) expected.push_back(document);
  EXPECT_EQ(all_documents(reader), expected);
  EXPECT_EQ(reader.position().documents, 5);
  EXPECT_EQ(reader.bytes_done(), corpus_bytes(files));

  // The checksum of one file is that of its bytes; of several, of their concatenation.
  EXPECT_EQ(corpus_checksum({files[0]}, "corpus"), fnv1a64_checksum(a));
  EXPECT_EQ(corpus_checksum(files, "corpus"), fnv1a64_checksum(a + b + c));
}

// A reader started at a position another reported reads what the first read
// from there, across block and file boundaries.
TEST(CorpusFiles, AReaderStartedAtAPositionCarriesOn) {
  DataTestDirectory directory;
  // Over 4 MiB, so that documents straddle the reader's blocks.
  std::string big;
  while (big.size() < (std::size_t{9} << 19)) big += generated_corpus(200, big.size());
  directory.write("1.txt", big);
  directory.write("2.txt", generated_corpus(50, 9));
  const std::vector<CorpusFile> files =
      resolve_corpus_files({(directory.root() / "1.txt").string(),
                            (directory.root() / "2.txt").string()},
                           "corpus");
  CorpusReader whole(files, "corpus");
  const std::vector<std::string> documents = all_documents(whole);
  EXPECT_EQ(documents.size(),
            split_corpus_documents(big).size() + split_corpus_documents(generated_corpus(50, 9)).size());

  for (const std::size_t stop : {std::size_t{1}, documents.size() / 2, documents.size() - 3}) {
    CorpusReader first(files, "corpus");
    std::string document;
    for (std::size_t d = 0; d < stop; ++d) ASSERT_TRUE(first.next_document(document));
    CorpusReader second(files, "corpus", first.position());
    const std::vector<std::string> rest = all_documents(second);
    EXPECT_EQ(rest, std::vector<std::string>(documents.begin() + static_cast<long>(stop),
                                             documents.end()))
        << "after " << stop;
    EXPECT_EQ(second.position().documents, static_cast<std::int64_t>(documents.size()));
  }
}

TEST(CorpusFiles, BadInputsAreOneLineErrorsNamingThem) {
  DataTestDirectory directory;
  directory.write("empty.txt", "");
  const std::string missing = (directory.root() / "missing.txt").string();
  expect_error_mentions<DataError>([&] { resolve_corpus_files({missing}, "corpus"); },
                                   {missing, "does not exist"});
  const std::string pattern = (directory.root() / "*.md").string();
  expect_error_mentions<DataError>([&] { resolve_corpus_files({pattern}, "corpus"); },
                                   {pattern, "matches no file"});
  const std::string empty = (directory.root() / "empty.txt").string();
  expect_error_mentions<DataError>([&] { resolve_corpus_files({empty}, "corpus"); },
                                   {empty, "is empty"});
  expect_error_mentions<DataError>(
      [&] { resolve_corpus_files({directory.root().string()}, "corpus"); }, {"a directory"});
  const std::filesystem::path fifo = directory.root() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error_mentions<DataError>([&] { resolve_corpus_files({fifo.string()}, "corpus"); },
                                   {fifo.string(), "a FIFO"});

  // A line too long to be text: an error saying where, not memory without end.
  const std::filesystem::path endless =
      directory.write("endless.txt", std::string(kMaxCorpusDocumentBytes + 10, 'x'));
  CorpusReader reader(resolve_corpus_files({endless.string()}, "corpus"), "corpus");
  std::string document;
  expect_error_mentions<DataError>([&] { reader.next_document(document); },
                                   {endless.string(), "longer than 128 MiB"});
}

}  // namespace
}  // namespace seqtrain
