// losskit/version.hpp: the library's version, the one place it is written (CMake's project()
// reads it from here).
#pragma once

#define LOSSKIT_VERSION_MAJOR 0
#define LOSSKIT_VERSION_MINOR 1
#define LOSSKIT_VERSION_PATCH 0

namespace losskit {

/// The version as "MAJOR.MINOR.PATCH".
inline constexpr const char* kVersion = "0.1.0";

}  // namespace losskit
