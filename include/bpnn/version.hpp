#pragma once
// Compile-time version of bpnn: the macros of the generated bpnn/version.h (one source of truth,
// project(VERSION) in CMakeLists.txt), shared with the C API.
#include "bpnn/version.h"
