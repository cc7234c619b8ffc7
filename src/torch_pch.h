// Precompiled header of the torch-including translation units: parsing libtorch's headers is
// most of their compile time.
#pragma once
#include <torch/torch.h>
