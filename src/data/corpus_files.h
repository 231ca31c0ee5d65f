// A text corpus as one or more files, read as a stream in bounded memory: a
// masked-LM corpus may be many times larger than this machine's memory.
//
// resolve_corpus_files turns what the user gave (paths, or glob patterns such
// as "corpus/*.txt", matched by glob(3) and taken in sorted order) into the
// list of regular, non-empty files with their sizes and modification times.
// CorpusReader walks them in order, a block at a time, as lines or as
// documents (blank-line-separated blocks of lines; a file's end also ends a
// document), and can start again at a position it reported earlier, which is
// how an interrupted preparation resumes. Nothing holds more than one block,
// one line and one document at a time; a line or document longer than
// kMaxCorpusDocumentBytes is a DataError saying where it is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace seqtrain {

inline constexpr std::size_t kMaxCorpusDocumentBytes = std::size_t{128} << 20;

struct CorpusFile {
  std::filesystem::path path;
  std::uintmax_t size = 0;
  std::int64_t modified_ns = 0;  // the file's modification time, ns since the epoch
};

// The files of `inputs`, each a path or a glob pattern (*, ? or [ in it).
// IoErrors name the input and start with `what` ("masked-LM corpus"): a path
// that does not exist, a pattern that matches nothing, a directory, a FIFO or
// device, an empty file.
std::vector<CorpusFile> resolve_corpus_files(const std::vector<std::string>& inputs,
                                             std::string_view what);

// One file taken as it is named (no pattern matching), with the same checks.
CorpusFile corpus_file(const std::filesystem::path& path, std::string_view what);

// "'<path>'" for one file, "N files from '<first>' to '<last>'" for several:
// how error messages name a corpus.
std::string corpus_name(const std::vector<CorpusFile>& files);

std::uintmax_t corpus_bytes(const std::vector<CorpusFile>& files);

// [{"path", "size", "modified_ns"}, ...]: what a preparation record keeps to
// tell, without reading the corpus again, that it has not changed.
nlohmann::json corpus_files_record(const std::vector<CorpusFile>& files);

// fnv1a64 over the files' bytes in order, read in blocks: for one file, the
// same value fnv1a64_checksum gives its whole contents.
std::string corpus_checksum(const std::vector<CorpusFile>& files, std::string_view what);

// Where a CorpusReader stands: the next byte it will read, and how many
// lines and documents it has returned.
struct CorpusPosition {
  std::int64_t file = 0;
  std::uintmax_t offset = 0;
  std::int64_t lines = 0;
  std::int64_t documents = 0;

  nlohmann::json to_json() const;
  static CorpusPosition from_json(const nlohmann::json& value);  // throws json errors
  bool operator==(const CorpusPosition&) const = default;
};

class CorpusReader {
 public:
  // Reads `files` from `start` (the beginning, or a position() reported by a
  // reader of the same files). `what` starts error messages.
  CorpusReader(std::vector<CorpusFile> files, std::string what, CorpusPosition start = {});
  ~CorpusReader();
  CorpusReader(const CorpusReader&) = delete;
  CorpusReader& operator=(const CorpusReader&) = delete;

  // The next line, without its "\n" (and a "\r" before it); blank lines too.
  // The view stays valid until the next call. False at the corpus's end.
  bool next_line(std::string_view& line);
  // The next document: its non-blank lines joined by "\n". False at the end.
  bool next_document(std::string& document);

  // Where the next line or document starts.
  CorpusPosition position() const { return position_; }
  // Bytes of all files read so far, for progress.
  std::uintmax_t bytes_done() const;

 private:
  bool open_next_file();
  void fill();

  std::vector<CorpusFile> files_;
  std::string what_;
  CorpusPosition position_;
  int descriptor_ = -1;
  std::string buffer_;
  std::size_t begin_ = 0;  // unread bytes are buffer_[begin_, buffer_.size())
  bool file_at_end_ = false;
};

}  // namespace seqtrain
