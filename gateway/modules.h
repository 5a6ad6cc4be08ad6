// The modules of this build, in one list: the order their config sections are printed and their
// filters run (responses pass them in this order), and the only place the gateway names them.
#pragma once

#include <memory>
#include <vector>

#include "filters/module.h"

namespace perfgate {

// A fresh instance of every module (one set per gateway process, or per test).
std::vector<std::unique_ptr<Module>> makeModules(const Clock& clock);

}  // namespace perfgate
