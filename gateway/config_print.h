// `perfgate --print-config`: the effective configuration, defaults filled in, as TOML.
#pragma once

#include <string>

#include "gateway/config.h"

namespace perfgate {

// Every key that the config loader accepts appears in the output, with the value in force (an
// optional key that is not set appears as a comment), so the text loads back to the same Config
// and `--check-config` accepts it. A key added to the loader needs its line in config_print.cc
// (one call on the TomlWriter), a row in README's configuration table and a line in the test's
// kEveryKey: tests/gateway/config_print_test.cc reads the loader's allowOnly lists and fails until
// the printer, README and the test name the same keys.
std::string printConfig(const Config& config);

// TOML basic string with quotes and escapes: "a\"b".
std::string tomlQuote(std::string_view text);

}  // namespace perfgate
