// EpochPosition: where a dataset that repeats in epochs stands (character LM
// streams, classification examples). The batch count per epoch is saved too,
// so restoring into data laid out differently is caught instead of silently
// serving other batches.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

namespace seqtrain {

struct EpochPosition {
  std::int64_t epoch = 0;
  std::int64_t batch = 0;  // index of the next batch within the epoch
  std::int64_t batches_per_epoch = 0;

  // The position one batch later, wrapping into the next epoch.
  EpochPosition advanced() const;

  nlohmann::json to_json() const;
  // CheckpointError naming `dataset_name` when fields are missing or out of
  // range, or when the saved batches_per_epoch differs from the one given.
  static EpochPosition from_json(const nlohmann::json& json, std::int64_t batches_per_epoch,
                                 std::string_view dataset_name);

  bool operator==(const EpochPosition& other) const = default;
};

}  // namespace seqtrain
