// losskit/threading.hpp: how many threads losskit's kernels use.
#pragma once

#include <string>

namespace losskit {

/// Sets the number of threads losskit uses (n >= 1). The default is the environment variable
/// LOSSKIT_NUM_THREADS when set, else OpenMP's default (the number of cores).
/// Results are bitwise identical for every thread count: reductions add fixed-size blocks in a
/// fixed order, whatever thread computed them.
void set_num_threads(int n);
/// The number of threads the next call will use.
int get_num_threads();

/// The SIMD instruction set losskit's kernels dispatch to on this CPU ("AVX3" = AVX-512,
/// "AVX2", "SSE4", ...), chosen at run time among those compiled in.
std::string simd_target();

}  // namespace losskit
