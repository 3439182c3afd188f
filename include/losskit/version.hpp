// losskit/version.hpp: the library's version, the one place it is written (CMake's project()
// and the Python package's metadata read the three defines from here).
#pragma once

#define LOSSKIT_VERSION_MAJOR 0
#define LOSSKIT_VERSION_MINOR 1
#define LOSSKIT_VERSION_PATCH 0

#define LOSSKIT_VERSION_STR_(x) #x
#define LOSSKIT_VERSION_STR(x) LOSSKIT_VERSION_STR_(x)

namespace losskit {

/// The version as "MAJOR.MINOR.PATCH", made from the defines above.
inline constexpr const char* kVersion = LOSSKIT_VERSION_STR(LOSSKIT_VERSION_MAJOR) "." LOSSKIT_VERSION_STR(
    LOSSKIT_VERSION_MINOR) "." LOSSKIT_VERSION_STR(LOSSKIT_VERSION_PATCH);

}  // namespace losskit
