// --device's validator, shared by train, eval and generate.
#include "backends/device_selection.h"
#include "cli/commands.h"

namespace seqtrain {

CLI::Validator device_validator() {
  return CLI::Validator(
      [](const std::string& device) {
        return is_device_name(device)
                   ? std::string()
                   : "'" + device + "' is not a device; use " + std::string(kDeviceChoices);
      },
      "DEVICE");
}

}  // namespace seqtrain
