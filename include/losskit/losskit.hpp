// losskit/losskit.hpp: everything losskit offers, in one include.
#pragma once

#include "losskit/classification.hpp"
#include "losskit/distribution.hpp"
#include "losskit/dtype.hpp"
#include "losskit/embedding.hpp"
#include "losskit/error.hpp"
#include "losskit/margin.hpp"
#include "losskit/reduction.hpp"
#include "losskit/regression.hpp"
#include "losskit/segmentation.hpp"
#include "losskit/sequence.hpp"
#include "losskit/detection.hpp"
#include "losskit/tensor.hpp"
#include "losskit/threading.hpp"
#include "losskit/version.hpp"
