// safetensors: round trips, a file written by the Python package, and every
// kind of corruption the reader must turn into a CheckpointError naming the file
// (the io layer's IoError, which is one).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "seqtrain/error.h"
#include "train_test_support.h"

namespace seqtrain {
namespace {

using testing::read_bytes;
using testing::TrainTestDirectory;
using testing::write_bytes;

std::uint64_t header_length_of(const std::string& file_bytes) {
  std::uint64_t length = 0;
  std::memcpy(&length, file_bytes.data(), 8);
  return length;
}

// A file from a header text and data bytes, with a correct length prefix.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  const std::uint64_t length = header.size();
  std::memcpy(bytes.data(), &length, 8);
  return bytes + header + data;
}

Tensor bf16_tensor(const std::vector<float>& values, Shape shape) {
  Tensor tensor = Tensor::empty(std::move(shape), DType::bf16);
  auto* bits = static_cast<std::uint16_t*>(tensor.raw());
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t word;
    std::memcpy(&word, &values[i], 4);
    bits[i] = static_cast<std::uint16_t>(word >> 16);  // values chosen exact in bf16
  }
  return tensor;
}

std::vector<std::int32_t> int_values(const Tensor& tensor) {
  auto span = tensor.span<std::int32_t>();
  return {span.begin(), span.end()};
}

// Reading must fail with a CheckpointError whose message names the file and
// contains `fragment`.
void expect_checkpoint_error(const std::filesystem::path& path, const std::string& fragment) {
  try {
    read_safetensors(path);
    ADD_FAILURE() << "reading " << path << " succeeded; expected an error about '" << fragment
                  << "'";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(Safetensors, RoundTripKeepsEveryDtypeShapeValueAndMetadata) {
  TrainTestDirectory directory;
  const auto path = directory.root() / "model.safetensors";
  std::vector<NamedTensor> tensors = {
      {"layer.weight",
       Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f, 1e-30f, -0.0f, 7.0f}, {2, 3})},
      {"layer.bias", bf16_tensor({0.5f, -1.25f, 2.0f}, {3})},
      {"ids", Tensor::from_vector(std::vector<std::int32_t>{-7, 0, 2147483647}, {3})},
      {"scalar", Tensor::from_vector(std::vector<float>{4.0f}, {})},
      {"empty", Tensor::zeros({0, 5})},
  };
  write_safetensors(path, tensors, {{"format", "pt"}, {"step", "12"}});

  const std::string bytes = read_bytes(path);
  EXPECT_EQ(header_length_of(bytes) % 8, 0u) << "data must start 8-byte aligned";
  SafetensorsContents contents = read_safetensors(path);
  EXPECT_EQ(contents.metadata,
            (std::map<std::string, std::string>{{"format", "pt"}, {"step", "12"}}));
  ASSERT_EQ(contents.tensors.size(), tensors.size());
  for (const NamedTensor& written : tensors) {
    const Tensor& read = contents.tensors.at(written.name);
    EXPECT_EQ(read.shape(), written.tensor.shape()) << written.name;
    EXPECT_EQ(read.dtype(), written.tensor.dtype()) << written.name;
    ASSERT_EQ(read.bytes(), written.tensor.bytes()) << written.name;
    EXPECT_EQ(std::memcmp(read.raw(), written.tensor.raw(), read.bytes()), 0) << written.name;
  }
  // The data region is the tensors' bytes back to back, in the order given.
  EXPECT_EQ(bytes.size(), 8 + header_length_of(bytes) + 6 * 4 + 3 * 2 + 3 * 4 + 4);
}

TEST(Safetensors, RewriteReplacesTheFileWithoutTouchingTheOldOne) {
  TrainTestDirectory directory;
  const auto path = directory.root() / "model.safetensors";
  write_safetensors(path, {{"x", Tensor::from_vector(std::vector<float>{1.0f}, {1})}});
  const std::string old_bytes = read_bytes(path);
  // A second name for the old inode: an in-place rewrite would change it too.
  std::filesystem::create_hard_link(path, directory.root() / "old_link");
  write_safetensors(path, {{"x", Tensor::from_vector(std::vector<float>{2.0f, 3.0f}, {2})}});
  EXPECT_EQ(read_bytes(directory.root() / "old_link"), old_bytes);
  EXPECT_EQ(read_safetensors(path).tensors.at("x").to_vector(), (std::vector<float>{2.0f, 3.0f}));
  // Only the target and the link remain: no temp files.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory.root()))
    ++entries;
  EXPECT_EQ(entries, 2u);
}

TEST(Safetensors, WritingIntoAMissingDirectoryIsACheckpointErrorNamingIt) {
  TrainTestDirectory directory;
  const auto path = directory.root() / "no_such_dir" / "model.safetensors";
  try {
    write_safetensors(path, {{"x", Tensor::zeros({1})}});
    FAIL() << "write succeeded";
  } catch (const CheckpointError& error) {
    EXPECT_NE(std::string(error.what()).find("no_such_dir"), std::string::npos) << error.what();
  }
}

// tests/fixtures/python_written.safetensors comes from
// scripts/make_safetensors_fixture.py (the Python safetensors package); the
// expected values are the formulas that script documents.
TEST(Safetensors, ReadsAFileWrittenByThePythonPackage) {
  SafetensorsContents contents =
      read_safetensors(std::filesystem::path(SEQTRAIN_FIXTURES) / "python_written.safetensors");
  EXPECT_EQ(contents.metadata.at("format"), "pt");
  EXPECT_EQ(contents.metadata.at("written_by"), "make_safetensors_fixture.py");
  ASSERT_EQ(contents.tensors.size(), 5u);

  const Tensor& weight = contents.tensors.at("encoder.weight");
  ASSERT_EQ(weight.shape(), (Shape{3, 4}));
  ASSERT_EQ(weight.dtype(), DType::f32);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      EXPECT_EQ(weight.data<float>()[i * 4 + j], 0.5f * i - 0.25f * j + 0.125f);

  const Tensor& bias = contents.tensors.at("encoder.bias");
  ASSERT_EQ(bias.dtype(), DType::bf16);
  ASSERT_EQ(bias.shape(), (Shape{5}));
  EXPECT_EQ(bias.to_vector(), (std::vector<float>{-0.75f, -0.375f, 0.0f, 0.375f, 0.75f}));

  const Tensor& ids = contents.tensors.at("token_ids");
  ASSERT_EQ(ids.dtype(), DType::i32);
  ASSERT_EQ(ids.shape(), (Shape{2, 3}));
  EXPECT_EQ(int_values(ids), (std::vector<std::int32_t>{0, -7, -14, 1000, 993, 986}));

  const Tensor& scale = contents.tensors.at("scale");
  EXPECT_EQ(scale.shape(), Shape{});
  EXPECT_EQ(scale.to_vector(), (std::vector<float>{1.5f}));
  EXPECT_EQ(contents.tensors.at("empty").shape(), (Shape{0, 3}));
}

class SafetensorsCorruption : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& bytes) {
    const auto path = directory_.root() / "corrupt.safetensors";
    write_bytes(path, bytes);
    return path;
  }
  // A valid header for one F32 [2] tensor, with `entry` replacing its fields.
  std::filesystem::path write_one_tensor(const std::string& entry, const std::string& data) {
    return write(safetensors_bytes(R"({"t":{)" + entry + "}}", data));
  }
  const std::string eight_bytes_ = std::string(8, '\x01');
  TrainTestDirectory directory_;
};

TEST_F(SafetensorsCorruption, FileShorterThanTheLengthPrefix) {
  expect_checkpoint_error(write(""), "truncated");
  expect_checkpoint_error(write("\x10\x00\x00"), "truncated");
}

TEST_F(SafetensorsCorruption, HeaderLengthBeyondTheFile) {
  std::string bytes =
      safetensors_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight_bytes_);
  const std::uint64_t huge = 1ull << 62;
  std::memcpy(bytes.data(), &huge, 8);
  expect_checkpoint_error(write(bytes), "runs past the end of the file");
  // Cut inside the header.
  bytes =
      safetensors_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight_bytes_);
  expect_checkpoint_error(write(bytes.substr(0, 20)), "runs past the end of the file");
}

TEST_F(SafetensorsCorruption, DataCutShort) {
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8])", "\x01\x02\x03"),
      "run past the data region");
}

TEST_F(SafetensorsCorruption, HeaderThatIsNotJson) {
  expect_checkpoint_error(write(safetensors_bytes(R"({"t":{"dtype":"F32",)", "")),
                          "not valid JSON");
  expect_checkpoint_error(write(safetensors_bytes("[1, 2]", "")), "not a JSON object");
  expect_checkpoint_error(write(safetensors_bytes("\xff\xfe{}", "")), "not valid JSON");
}

TEST_F(SafetensorsCorruption, UnknownOrUnsupportedDtype) {
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F17","shape":[2],"data_offsets":[0,8])", eight_bytes_),
      "dtype 'F17'");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F64","shape":[1],"data_offsets":[0,8])", eight_bytes_),
      "dtype 'F64'");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":3,"shape":[2],"data_offsets":[0,8])", eight_bytes_),
      "dtype is not a string");
}

TEST_F(SafetensorsCorruption, OverlappingOffsets) {
  expect_checkpoint_error(
      write(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                              eight_bytes_)),
      "overlap");
}

TEST_F(SafetensorsCorruption, OffsetsOutOfRangeOrBackwards) {
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[8,16])", eight_bytes_),
      "run past the data region");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[8,0])", eight_bytes_),
      "end before they begin");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[-8,0])", eight_bytes_),
      "data_offsets");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615])",
                       eight_bytes_),
      "run past the data region");
}

TEST_F(SafetensorsCorruption, GapsAndTrailingBytes) {
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[4,8])", eight_bytes_),
      "belong to no tensor");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0,4])", eight_bytes_),
      "4 bytes after the last tensor");
}

TEST_F(SafetensorsCorruption, ShapeThatDisagreesWithTheOffsets) {
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])", eight_bytes_),
      "needs 12 bytes");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])", eight_bytes_),
      "non-negative integer");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8])",
                       eight_bytes_),
      "shape");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":"2","data_offsets":[0,8])", eight_bytes_),
      "shape is not an array");
}

TEST_F(SafetensorsCorruption, MissingUnknownAndDuplicateFields) {
  expect_checkpoint_error(write_one_tensor(R"("dtype":"F32","shape":[2])", eight_bytes_),
                          "no 'data_offsets'");
  expect_checkpoint_error(
      write_one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8],"stride":[1])",
                       eight_bytes_),
      "unknown field 'stride'");
  expect_checkpoint_error(
      write(safetensors_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                              eight_bytes_)),
      "names 't' twice");
  expect_checkpoint_error(write(safetensors_bytes(R"({"__metadata__":{"step":12}})", "")),
                          "not a string");
}

// Whatever the damage, reading either succeeds or throws CheckpointError: it
// never crashes, reads out of bounds (run under SEQTRAIN_SANITIZE to see) or
// throws anything else.
TEST_F(SafetensorsCorruption, EveryTruncationAndHeaderByteFlipIsHandled) {
  const auto original_path = directory_.root() / "original.safetensors";
  write_safetensors(original_path,
                    {{"a", Tensor::from_vector(std::vector<float>{1.0f, 2.0f, 3.0f}, {3})},
                     {"b", Tensor::from_vector(std::vector<std::int32_t>{4, 5}, {1, 2})}},
                    {{"k", "v"}});
  const std::string original = read_bytes(original_path);
  for (std::size_t length = 0; length < original.size(); ++length) {
    const auto path = write(original.substr(0, length));
    EXPECT_THROW(read_safetensors(path), CheckpointError) << "truncated to " << length;
  }
  const std::size_t header_end = 8 + header_length_of(original);
  for (std::size_t position = 0; position < header_end; ++position) {
    for (char replacement : {'\0', '9', '}'}) {
      std::string damaged = original;
      if (damaged[position] == replacement) continue;
      damaged[position] = replacement;
      const auto path = write(damaged);
      try {
        read_safetensors(path);
      } catch (const CheckpointError&) {
      } catch (const std::exception& error) {
        ADD_FAILURE() << "byte " << position << " set to " << int(replacement)
                      << " threw a non-checkpoint error: " << error.what();
      }
    }
  }
}

}  // namespace
}  // namespace seqtrain
