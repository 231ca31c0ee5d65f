#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>

#include "io/atomic_write.h"
#include "io/io_error.h"

namespace seqtrain {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies bytes as they are");

namespace {

// The reference implementation refuses headers above 100 MB; so do we, before
// allocating anything a corrupted length asks for.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::bf16: return "BF16";
    case DType::i32: return "I32";
  }
  return "?";
}

std::optional<DType> dtype_from_safetensors(const std::string& name) {
  for (DType dtype : {DType::f32, DType::bf16, DType::i32})
    if (name == safetensors_dtype(dtype)) return dtype;
  return std::nullopt;
}

// Every complaint about a file goes through here, so each names the file.
[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw IoError(path, fmt::format("safetensors file '{}': {}", path.string(), what));
}

class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::filesystem::path& path)
      : path_(path), descriptor_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (descriptor_ < 0) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
    struct stat status {};
    if (::fstat(descriptor_, &status) != 0) {
      int error = errno;
      ::close(descriptor_);
      fail(path, fmt::format("cannot stat: {}", std::strerror(error)));
    }
    size_ = static_cast<std::uint64_t>(status.st_size);
  }
  ~ReadOnlyFile() { ::close(descriptor_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  std::uint64_t size() const { return size_; }

  // Reads exactly destination.size() bytes at offset; a short read means the
  // file shrank under us and is reported as truncation.
  void read_at(std::uint64_t offset, std::span<std::byte> destination) const {
    while (!destination.empty()) {
      ssize_t count =
          ::pread(descriptor_, destination.data(), destination.size(), static_cast<off_t>(offset));
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) fail(path_, fmt::format("cannot read: {}", std::strerror(errno)));
      if (count == 0)
        fail(path_,
             fmt::format("truncated: ends before byte {} (the file changed while read?)", offset));
      destination = destination.subspan(static_cast<std::size_t>(count));
      offset += static_cast<std::uint64_t>(count);
    }
  }

 private:
  std::filesystem::path path_;
  int descriptor_;
  std::uint64_t size_ = 0;
};

// A JSON number that is a non-negative integer.
std::optional<std::uint64_t> as_unsigned(const nlohmann::json& value) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  return std::nullopt;
}

struct TensorEntry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin;
  std::uint64_t end;
};

TensorEntry parse_tensor_entry(const std::filesystem::path& path, const std::string& name,
                               const nlohmann::json& entry, std::uint64_t data_bytes) {
  if (!entry.is_object()) fail(path, fmt::format("tensor '{}': entry is not a JSON object", name));
  for (const auto& [key, value] : entry.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail(path, fmt::format("tensor '{}': unknown field '{}' (expected dtype, shape, "
                             "data_offsets)",
                             name, key));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) fail(path, fmt::format("tensor '{}': no '{}' field", name, key));

  TensorEntry result;
  result.name = name;
  const nlohmann::json& dtype = entry["dtype"];
  if (!dtype.is_string()) fail(path, fmt::format("tensor '{}': dtype is not a string", name));
  std::optional<DType> parsed_dtype = dtype_from_safetensors(dtype.get<std::string>());
  if (!parsed_dtype)
    fail(path, fmt::format("tensor '{}': dtype '{}' is not one seqtrain reads (F32, BF16, I32)",
                           name, dtype.get<std::string>()));
  result.dtype = *parsed_dtype;

  const nlohmann::json& shape = entry["shape"];
  if (!shape.is_array()) fail(path, fmt::format("tensor '{}': shape is not an array", name));
  // The element count may not overflow: bound it by what the data region holds.
  std::uint64_t elements = 1;
  for (const nlohmann::json& extent : shape) {
    std::optional<std::uint64_t> value = as_unsigned(extent);
    if (!value || *value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(path, fmt::format("tensor '{}': shape {} holds something other than a non-negative "
                             "integer",
                             name, shape.dump()));
    result.shape.push_back(static_cast<std::int64_t>(*value));
    if (elements != 0 && *value > std::numeric_limits<std::uint64_t>::max() / elements)
      fail(path, fmt::format("tensor '{}': shape {} has more elements than any file can hold", name,
                             shape.dump()));
    elements *= *value;
  }

  const nlohmann::json& offsets = entry["data_offsets"];
  std::optional<std::uint64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = as_unsigned(offsets[0]);
    end = as_unsigned(offsets[1]);
  }
  if (!begin || !end)
    fail(path, fmt::format("tensor '{}': data_offsets {} is not [begin, end] with non-negative "
                           "integers",
                           name, offsets.dump()));
  if (*begin > *end)
    fail(path, fmt::format("tensor '{}': data_offsets [{}, {}] end before they begin", name, *begin,
                           *end));
  if (*end > data_bytes)
    fail(path, fmt::format("tensor '{}': data_offsets [{}, {}] run past the data region, which "
                           "holds {} bytes (truncated file?)",
                           name, *begin, *end, data_bytes));
  result.begin = *begin;
  result.end = *end;
  const std::uint64_t element_size = dtype_size(result.dtype);
  if (elements > (*end - *begin) / element_size || elements * element_size != *end - *begin)
    fail(path, fmt::format("tensor '{}': shape {} of {} needs {} bytes, data_offsets [{}, {}] "
                           "give {}",
                           name, shape_string(result.shape), safetensors_dtype(result.dtype),
                           elements > std::numeric_limits<std::uint64_t>::max() / element_size
                               ? std::string("more")
                               : std::to_string(elements * element_size),
                           *begin, *end, *end - *begin));
  return result;
}

// Parses the header, reporting a key that appears twice in one object (the
// JSON library would keep the last one silently).
nlohmann::json parse_header_json(const std::filesystem::path& path, const std::string& text) {
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  auto watch_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Event::key && !open_objects.empty() && !duplicate &&
        !open_objects.back().insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, watch_keys);
  } catch (const nlohmann::json::exception& error) {
    fail(path, fmt::format("header is not valid JSON: {}", error.what()));
  }
  if (duplicate) fail(path, fmt::format("header names '{}' twice", *duplicate));
  if (!header.is_object()) fail(path, "header is not a JSON object");
  return header;
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const NamedTensor& entry : tensors) {
    SEQTRAIN_CHECK(!entry.name.empty() && entry.name != "__metadata__",
                   "tensor name '{}' cannot be written to '{}'", entry.name, path.string());
    SEQTRAIN_CHECK(names.insert(entry.name).second, "tensor '{}' written twice to '{}'", entry.name,
                   path.string());
    SEQTRAIN_CHECK(entry.tensor.device() == Device::cpu && entry.tensor.defined(),
                   "tensor '{}' written to '{}' is not a host tensor", entry.name, path.string());
    const std::uint64_t bytes = entry.tensor.bytes();
    header[entry.name] = {{"dtype", safetensors_dtype(entry.tensor.dtype())},
                          {"shape", entry.tensor.shape()},
                          {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::array<std::byte, 8> length{};
  const std::uint64_t header_length = header_text.size();
  std::memcpy(length.data(), &header_length, 8);

  std::vector<std::span<const std::byte>> pieces;
  pieces.emplace_back(length);
  pieces.push_back(std::as_bytes(std::span(header_text.data(), header_text.size())));
  for (const NamedTensor& entry : tensors)
    pieces.emplace_back(static_cast<const std::byte*>(entry.tensor.raw()), entry.tensor.bytes());
  write_file_atomically(path, pieces);
}

SafetensorsContents read_safetensors(const std::filesystem::path& path) {
  ReadOnlyFile file(path);
  if (file.size() < 8)
    fail(path,
         fmt::format("truncated: {} bytes, fewer than the 8 of the header length", file.size()));
  std::array<std::byte, 8> length_bytes{};
  file.read_at(0, length_bytes);
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, length_bytes.data(), 8);
  if (header_length > file.size() - 8)
    fail(path, fmt::format("header length {} runs past the end of the file ({} bytes): "
                           "truncated or not a safetensors file",
                           header_length, file.size()));
  if (header_length > kMaxHeaderBytes)
    fail(path, fmt::format("header length {} exceeds the format's limit of {} bytes", header_length,
                           kMaxHeaderBytes));
  std::string header_text(header_length, '\0');
  file.read_at(8, std::as_writable_bytes(std::span(header_text.data(), header_text.size())));
  const nlohmann::json header = parse_header_json(path, header_text);

  const std::uint64_t data_start = 8 + header_length;
  const std::uint64_t data_bytes = file.size() - data_start;
  SafetensorsContents contents;
  std::vector<TensorEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path, "__metadata__ is not a JSON object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string())
          fail(path, fmt::format("__metadata__ value of '{}' is not a string", key));
        contents.metadata[key] = text.get<std::string>();
      }
      continue;
    }
    if (name.empty()) fail(path, "a tensor has an empty name");
    entries.push_back(parse_tensor_entry(path, name, value, data_bytes));
  }

  // The tensors tile the data region: sorted by offset, each starts where the
  // previous one ended, and the last ends at the end of the file.
  std::vector<const TensorEntry*> by_offset;
  for (const TensorEntry& entry : entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  std::uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* entry : by_offset) {
    if (entry->begin < covered)
      fail(path,
           fmt::format("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", previous->name,
                       previous->begin, previous->end, entry->name, entry->begin, entry->end));
    if (entry->begin > covered)
      fail(path, fmt::format("data bytes [{}, {}] before tensor '{}' belong to no tensor", covered,
                             entry->begin, entry->name));
    covered = entry->end;
    previous = entry;
  }
  if (covered != data_bytes)
    fail(path,
         fmt::format("{} bytes after the last tensor belong to no tensor", data_bytes - covered));

  for (const TensorEntry& entry : entries) {
    Tensor tensor = Tensor::empty(entry.shape, entry.dtype);
    file.read_at(data_start + entry.begin,
                 std::span(static_cast<std::byte*>(tensor.raw()), tensor.bytes()));
    contents.tensors.emplace(entry.name, std::move(tensor));
  }
  return contents;
}

}  // namespace seqtrain
