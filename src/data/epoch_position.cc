#include "data/epoch_position.h"

#include <nlohmann/json.hpp>

#include "seqtrain/error.h"

namespace seqtrain {

EpochPosition EpochPosition::advanced() const {
  SEQTRAIN_CHECK(batches_per_epoch > 0 && batch < batches_per_epoch,
                 "batch {} of an epoch of {} batches", batch, batches_per_epoch);
  EpochPosition next = *this;
  if (++next.batch == batches_per_epoch) {
    next.batch = 0;
    ++next.epoch;
  }
  return next;
}

nlohmann::json EpochPosition::to_json() const {
  return {{"epoch", epoch}, {"batch", batch}, {"batches_per_epoch", batches_per_epoch}};
}

EpochPosition EpochPosition::from_json(const nlohmann::json& json, std::int64_t batches_per_epoch,
                                       std::string_view dataset_name) {
  auto field = [&](const char* name) -> std::int64_t {
    if (!json.is_object() || !json.contains(name) || !json[name].is_number_integer() ||
        json[name].get<std::int64_t>() < 0)
      throw CheckpointError(fmt::format(
          "the saved {} data position {} needs a non-negative integer \"{}\" (keys epoch, batch, "
          "batches_per_epoch)",
          dataset_name, json.dump(), name));
    return json[name].get<std::int64_t>();
  };
  EpochPosition position{field("epoch"), field("batch"), field("batches_per_epoch")};
  if (position.batches_per_epoch != batches_per_epoch)
    throw CheckpointError(fmt::format(
        "the saved {} data position was taken with {} batches per epoch, but the data now makes "
        "{}: resume with the same data file, batch size, sequence length and validation split",
        dataset_name, position.batches_per_epoch, batches_per_epoch));
  if (position.batch >= batches_per_epoch)
    throw CheckpointError(fmt::format("the saved {} data position names batch {} of an epoch of {}",
                                      dataset_name, position.batch, batches_per_epoch));
  return position;
}

}  // namespace seqtrain
