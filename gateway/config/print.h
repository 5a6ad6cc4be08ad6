// `perfgate --print-config`: the effective configuration, defaults filled in, as TOML.
#pragma once

#include <string>

#include "gateway/config/config.h"

namespace perfgate {

// Every key of the key table (gateway/config/schema.h) appears in the output with the value in
// force (an optional key that is not set appears as a comment), so the text loads back to the same
// Config and `--check-config` accepts it.
std::string printConfig(const Config& config);

}  // namespace perfgate
