// Precompiled header of model/ and the layers above it (see src/CMakeLists.txt).
#pragma once

#include <ATen/ATen.h>
