// TokenShards::prepare: the corpus streamed into shards (token_shards.h says
// what is written; this file how, in bounded memory and resumably).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>

#include "data/token_shards.h"
#include "io/atomic_write.h"
#include "io/read_file.h"
#include "seqtrain/error.h"
#include "seqtrain/rng.h"

namespace seqtrain {
namespace {

namespace fs = std::filesystem;

// Philox stream of the selection sampling that picks the validation documents.
constexpr std::uint64_t kValidationSplitStream = 0x544B530000000000ull;
// Documents encoded together, on every thread: enough text to keep them busy.
constexpr std::size_t kBatchBytes = std::size_t{16} << 20;
constexpr std::size_t kBatchDocuments = 65536;
constexpr auto kProgressInterval = std::chrono::seconds(5);

// "<train|validation>-NNNNN.<tokens|documents>": the files prepare writes.
bool is_shard_file_name(std::string_view name) {
  for (std::string_view split : {"train-", "validation-"}) {
    if (!name.starts_with(split)) continue;
    std::string_view rest = name.substr(split.size());
    if (rest.size() < 6 || rest.find_first_not_of("0123456789") != 5) return false;
    rest.remove_prefix(5);
    return rest == ".tokens" || rest == ".documents";
  }
  return false;
}

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
  return std::as_bytes(std::span(values));
}

// How far a split's written shards reach: every document of the corpus before
// next_document that belongs to the split is in them. position and selected
// are the corpus reader's position and the validation documents chosen so
// far, both after document next_document - 1: where a resumed prepare starts.
struct WrittenUpTo {
  std::int64_t next_document = 0;
  CorpusPosition position;
  std::int64_t selected = 0;

  nlohmann::json to_json() const {
    return {{"next_document", next_document},
            {"position", position.to_json()},
            {"selected", selected}};
  }
  static WrittenUpTo from_json(const nlohmann::json& value) {
    return {value.at("next_document").get<std::int64_t>(),
            CorpusPosition::from_json(value.at("position")),
            value.at("selected").get<std::int64_t>()};
  }
};

// One split while preparing: the documents of its open shard, and the shards
// written so far.
class SplitWriter {
 public:
  SplitWriter(fs::path directory, std::string name, TokenDType dtype, std::int64_t max_tokens)
      : directory_(std::move(directory)),
        name_(std::move(name)),
        dtype_(dtype),
        max_tokens_(max_tokens) {
    // A shard's size up front (address space only until written), so that
    // the buffer does not double, copying itself, when a shard passes a
    // power of two: that copy was the peak of a prepare's memory.
    const auto reserved = static_cast<std::size_t>(
        std::min<std::int64_t>(max_tokens, std::int64_t{1} << 27) + (std::int64_t{1} << 20));
    if (dtype_ == TokenDType::uint16)
      narrow_.reserve(reserved);
    else
      wide_.reserve(reserved);
  }

  void add(std::span<const std::int32_t> ids) {
    if (dtype_ == TokenDType::uint16)
      narrow_.insert(narrow_.end(), ids.begin(), ids.end());
    else
      wide_.insert(wide_.end(), ids.begin(), ids.end());
    offsets_.push_back(open_tokens());
  }
  bool full() const { return open_tokens() >= max_tokens_; }

  // Writes the open shard, if it holds documents, as shard number shards().
  void write_shard(const WrittenUpTo& written) {
    if (offsets_.size() > 1) {
      const std::string stem = fmt::format("{}-{:05d}", name_, shards_.size());
      write_file_atomically(directory_ / (stem + ".tokens"),
                            {dtype_ == TokenDType::uint16 ? bytes_of(narrow_) : bytes_of(wide_)});
      write_file_atomically(directory_ / (stem + ".documents"), {bytes_of(offsets_)});
      const std::int64_t documents = static_cast<std::int64_t>(offsets_.size()) - 1;
      shards_.push_back({{"tokens_file", stem + ".tokens"},
                         {"documents_file", stem + ".documents"},
                         {"token_count", open_tokens()},
                         {"document_count", documents}});
      document_count_ += documents;
      token_count_ += open_tokens();
      narrow_.clear();
      wide_.clear();
      offsets_.assign(1, 0);
    }
    written_ = written;
  }

  std::int64_t document_count() const { return document_count_; }
  const WrittenUpTo& written() const { return written_; }
  // The split's entry in the manifest.
  nlohmann::json manifest_entry() const {
    return {{"document_count", document_count_},
            {"token_count", token_count_},
            {"shards", shards_}};
  }
  // The same with how far it reaches, for the progress record; and back.
  nlohmann::json progress() const {
    nlohmann::json entry = manifest_entry();
    entry["written"] = written_.to_json();
    return entry;
  }
  void restore(const nlohmann::json& progress) {
    shards_ = progress.at("shards");
    document_count_ = progress.at("document_count").get<std::int64_t>();
    token_count_ = progress.at("token_count").get<std::int64_t>();
    written_ = WrittenUpTo::from_json(progress.at("written"));
  }
  bool lists(const std::string& file_name) const {
    for (const nlohmann::json& shard : shards_)
      if (shard.at("tokens_file") == file_name || shard.at("documents_file") == file_name)
        return true;
    return false;
  }

 private:
  std::int64_t open_tokens() const {
    return static_cast<std::int64_t>(dtype_ == TokenDType::uint16 ? narrow_.size() : wide_.size());
  }

  fs::path directory_;
  std::string name_;
  TokenDType dtype_;
  std::int64_t max_tokens_;
  std::vector<std::uint16_t> narrow_;
  std::vector<std::int32_t> wide_;
  std::vector<std::int64_t> offsets_{0};
  nlohmann::json shards_ = nlohmann::json::array();
  std::int64_t document_count_ = 0;
  std::int64_t token_count_ = 0;
  WrittenUpTo written_;
};

// Calls report at most every few seconds.
class ProgressReporter {
 public:
  explicit ProgressReporter(const std::function<void(const std::string&)>& report)
      : report_(report) {}
  template <class Message>
  void maybe(Message message) {
    if (!report_ || std::chrono::steady_clock::now() - last_ < kProgressInterval) return;
    last_ = std::chrono::steady_clock::now();
    report_(message());
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  const std::function<void(const std::string&)>& report_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
};

std::int64_t count_documents(const std::vector<CorpusFile>& files,
                             const TokenShardsOptions& options) {
  CorpusReader reader(files, "corpus");
  ProgressReporter reporter(options.progress);
  const double total_mb = static_cast<double>(corpus_bytes(files)) / 1e6;
  std::string document;
  std::int64_t count = 0;
  while (reader.next_document(document)) {
    ++count;
    reporter.maybe([&] {
      return fmt::format("counted documents in {:.1f} of {:.1f} MB",
                         static_cast<double>(reader.bytes_done()) / 1e6, total_mb);
    });
  }
  return count;
}

// The progress record of an earlier, interrupted prepare of this request.
std::optional<nlohmann::json> interrupted_prepare(const fs::path& directory,
                                                  const nlohmann::json& request) {
  std::error_code ignored;
  const fs::path path = directory / TokenShards::kProgressFileName;
  if (!fs::exists(path, ignored)) return std::nullopt;
  try {
    nlohmann::json progress = nlohmann::json::parse(read_file(path, "preparation progress"));
    if (progress.at("request") != request) return std::nullopt;
    return progress;
  } catch (const Error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return std::nullopt;
}

}  // namespace

TokenShards TokenShards::prepare(const fs::path& corpus, const SentencePieceTokenizer& tokenizer,
                                 const fs::path& output_directory,
                                 const TokenShardsOptions& options) {
  return prepare(std::vector<CorpusFile>{corpus_file(corpus, "corpus")}, tokenizer,
                 output_directory, options);
}

TokenShards TokenShards::prepare(const std::vector<CorpusFile>& corpus,
                                 const SentencePieceTokenizer& tokenizer,
                                 const fs::path& output_directory,
                                 const TokenShardsOptions& options) {
  if (!(options.validation_fraction >= 0.0 && options.validation_fraction < 1.0))
    throw ConfigError(
        fmt::format("validation fraction must be in [0, 1), got {}", options.validation_fraction));
  if (options.max_tokens_per_shard < 1)
    throw ConfigError(fmt::format("max tokens per shard must be at least 1, got {}",
                                  options.max_tokens_per_shard));
  SEQTRAIN_CHECK(!corpus.empty(), "a corpus of no files");
  std::error_code directory_error;
  fs::create_directories(output_directory, directory_error);
  if (directory_error)
    throw DataError(fmt::format("cannot create the prepared data directory '{}': {}",
                                output_directory.string(), directory_error.message()));

  const TokenDType dtype = token_dtype_for_vocab_size(tokenizer.vocab_size());
  SplitWriter training(output_directory, "train", dtype, options.max_tokens_per_shard);
  SplitWriter validation(output_directory, "validation", dtype, options.max_tokens_per_shard);
  const nlohmann::json request = {{"corpus", corpus_files_record(corpus)},
                                  {"tokenizer_checksum", tokenizer.checksum()},
                                  {"validation_fraction", options.validation_fraction},
                                  {"split_seed", options.split_seed},
                                  {"max_tokens_per_shard", options.max_tokens_per_shard}};
  std::int64_t document_count = 0;    // the corpus's documents, blank-line-separated blocks
  std::int64_t validation_count = 0;  // of which held out
  if (std::optional<nlohmann::json> progress = interrupted_prepare(output_directory, request)) {
    document_count = progress->at("documents").get<std::int64_t>();
    validation_count = progress->at("validation_documents").get<std::int64_t>();
    training.restore(progress->at("splits").at("train"));
    validation.restore(progress->at("splits").at("validation"));
    if (options.progress)
      options.progress(fmt::format(
          "resuming an interrupted preparation: {} and {} documents already written",
          training.document_count(), validation.document_count()));
  } else {
    fs::remove(output_directory / kProgressFileName, directory_error);
    document_count = count_documents(corpus, options);
    if (document_count == 0)
      throw DataError(fmt::format("corpus {} holds only blank lines: it must hold text",
                                  corpus_name(corpus)));
    if (options.validation_fraction > 0.0) {
      if (document_count < 2)
        throw DataError(fmt::format(
            "corpus {} holds {} document (blank-line-separated block), too few to hold out a "
            "validation split: add documents (blocks separated by blank lines), or with seqtrain "
            "data prepare pass --validation-fraction 0",
            corpus_name(corpus), document_count));
      validation_count = std::clamp<std::int64_t>(
          std::llround(static_cast<double>(document_count) * options.validation_fraction), 1,
          document_count - 1);
    }
  }
  // No manifest while shards change: a half-written directory never opens.
  // Shards not in the progress record go too, so none outlives its manifest.
  fs::remove(output_directory / kManifestFileName, directory_error);
  if (directory_error)
    throw DataError(fmt::format("cannot remove the old manifest in '{}': {}",
                                output_directory.string(), directory_error.message()));
  for (const fs::directory_entry& entry : fs::directory_iterator(output_directory)) {
    const std::string name = entry.path().filename().string();
    if (is_shard_file_name(name) && !training.lists(name) && !validation.lists(name))
      fs::remove(entry.path(), directory_error);
  }
  auto save_progress = [&] {
    const nlohmann::json progress = {
        {"request", request},
        {"documents", document_count},
        {"validation_documents", validation_count},
        {"splits", {{"train", training.progress()}, {"validation", validation.progress()}}}};
    write_file_atomically(output_directory / kProgressFileName, progress.dump() + "\n");
  };

  // Start where the split that reaches less far ends; documents the other
  // split has already written are passed over.
  const WrittenUpTo start =
      training.written().next_document <= validation.written().next_document
          ? training.written()
          : validation.written();
  CorpusReader reader(corpus, "corpus", start.position);
  std::int64_t document = start.next_document;
  std::int64_t selected = start.selected;
  Rng rng(options.split_seed, kValidationSplitStream);
  ProgressReporter reporter(options.progress);
  const std::uintmax_t total_bytes = corpus_bytes(corpus);
  const std::uintmax_t start_bytes = reader.bytes_done();

  struct Pending {
    std::string text;
    bool held_out;
    WrittenUpTo after;  // where the corpus stands after it
    std::vector<std::int32_t> ids;
  };
  std::vector<Pending> batch;
  std::string text;
  while (true) {
    batch.clear();
    std::size_t batch_bytes = 0;
    while (batch_bytes < kBatchBytes && batch.size() < kBatchDocuments &&
           reader.next_document(text)) {
      if (document >= document_count)
        throw DataError(fmt::format("corpus {} changed while it was being prepared: prepare again",
                                    corpus_name(corpus)));
      // Selection sampling (Knuth's algorithm S): exactly validation_count of
      // the documents, each draw a function of the seed and the document.
      bool held_out = false;
      if (validation_count > selected) {
        rng.set_position(2 * static_cast<std::uint64_t>(document));
        held_out = rng.next_below(static_cast<std::uint64_t>(document_count - document)) <
                   static_cast<std::uint64_t>(validation_count - selected);
      }
      selected += held_out ? 1 : 0;
      ++document;
      const WrittenUpTo after{document, reader.position(), selected};
      if (after.next_document <= (held_out ? validation : training).written().next_document)
        continue;  // written before the interruption
      batch_bytes += text.size();
      batch.push_back({std::move(text), held_out, after, {}});
    }
    if (batch.empty()) break;

    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 16)
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        batch[i].ids = tokenizer.encode(batch[i].text);
      } catch (...) {
#pragma omp critical(token_shards_failure)
        failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);

    for (Pending& pending : batch) {
      if (pending.ids.empty()) continue;  // nothing the tokenizer encodes
      SplitWriter& split = pending.held_out ? validation : training;
      split.add(pending.ids);
      if (!split.full()) continue;
      split.write_shard(pending.after);
      save_progress();
      if (options.after_shard) options.after_shard();
    }
    reporter.maybe([&] {
      const double done = static_cast<double>(reader.bytes_done());
      return fmt::format("tokenised {:.1f} of {:.1f} MB ({:.0f}%, {:.1f} MB/s)", done / 1e6,
                         static_cast<double>(total_bytes) / 1e6,
                         100.0 * done / static_cast<double>(total_bytes),
                         (done - static_cast<double>(start_bytes)) / 1e6 / reporter.seconds());
    });
  }
  if (document != document_count)
    throw DataError(fmt::format("corpus {} changed while it was being prepared: prepare again",
                                corpus_name(corpus)));
  const WrittenUpTo end{document, reader.position(), selected};
  training.write_shard(end);
  validation.write_shard(end);
  if (training.document_count() == 0)
    throw DataError(fmt::format("corpus {} holds no text that the tokenizer '{}' encodes",
                                corpus_name(corpus), tokenizer.model_path().string()));
  if (validation_count > 0 && validation.document_count() == 0)
    throw DataError(fmt::format(
        "none of the {} validation documents of corpus {} holds text that the tokenizer '{}' "
        "encodes: add documents, or prepare with --validation-fraction 0",
        validation_count, corpus_name(corpus), tokenizer.model_path().string()));

  nlohmann::json sources = nlohmann::json::array();
  for (const CorpusFile& file : corpus) sources.push_back(file.path.string());
  const nlohmann::json manifest = {
      {"format", kFormatName},
      {"version", kFormatVersion},
      {"vocab_size", tokenizer.vocab_size()},
      {"token_dtype", token_dtype_name(dtype)},
      {"tokenizer_checksum", tokenizer.checksum()},
      {"source", corpus.size() == 1 ? nlohmann::json(sources.front()) : sources},
      {"validation_fraction", options.validation_fraction},
      {"split_seed", options.split_seed},
      {"splits",
       {{"train", training.manifest_entry()}, {"validation", validation.manifest_entry()}}}};
  write_file_atomically(output_directory / kManifestFileName, manifest.dump(2) + "\n");
  fs::remove(output_directory / kProgressFileName, directory_error);
  return open(output_directory);
}

}  // namespace seqtrain
