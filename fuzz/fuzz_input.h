// What the harnesses share: turning one fuzz input into the files a reader
// opens, and the rule for what counts as a finding.
//
// An input is one or more files. The bytes up to the first marker line are
// the main file; each marker line "\n%%file NAME\n" starts another file called
// NAME (letters, digits, '.', '_' and '-' only, so every file stays inside the
// harness's own directory; other names are dropped). The seed corpora under
// fuzz/corpus/ are written in this form by fuzz/make_seed_corpus.sh.
//
// Findings: a harness catches seqtrain::Error (bad input, reported to the
// user as one line) and nothing else. An InternalError ("this is a bug in
// seqtrain"), any other exception, a crash, a sanitizer report or a broken
// round-trip property ends the process, and libFuzzer saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seqtrain::fuzz {

struct FuzzFile {
  std::string name;  // empty for the main file
  std::string bytes;
};

// The main file first, then the named ones in input order.
std::vector<FuzzFile> split_fuzz_input(const std::uint8_t* data, std::size_t size);

// The bytes of the named file, or nullptr when the input has none.
const std::string* find_fuzz_file(const std::vector<FuzzFile>& files, std::string_view name);

// A directory of this process's own under $TMPDIR (made once, removed at
// exit), emptied by clear() before every input.
class FuzzDirectory {
 public:
  static FuzzDirectory& instance();
  const std::filesystem::path& path() const { return path_; }
  // Removes everything inside the directory.
  void clear() const;
  // Writes bytes to path()/name and returns that path.
  std::filesystem::path write(const std::string& name, std::string_view bytes) const;

 private:
  FuzzDirectory();
  std::filesystem::path path_;
};

// An expected error (seqtrain::Error): ignored, or printed when
// SEQTRAIN_FUZZ_VERBOSE is set (to see why a seed is refused).
void expected_error(const std::exception& error);

// Quietens spdlog (a reader's warnings would flood the fuzzer's output).
void silence_logging();

// A broken property (a round trip that does not give back what it was
// given): prints what and aborts, which libFuzzer reports as a crash.
[[noreturn]] void report_finding(const std::string& what);

}  // namespace seqtrain::fuzz
