#pragma once
// BPNN_API marks the symbols the shared library exports; everything else stays hidden.
#if defined(BPNN_BUILDING)
#define BPNN_API __attribute__((visibility("default")))
#else
#define BPNN_API
#endif
