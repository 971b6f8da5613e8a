// Entry points to the target-independent float arithmetic of
// fixed_math-inl.h (kernels include that header directly): the same bits on
// every Highway target, so that tests can hold each target to it and tools
// can use it outside a kernel.
#pragma once

#include <cstdint>

namespace skv {

// y[i] = e^x[i] (about 2 ulp; 0 below -104, +inf above 88.72).
void FixedExp(const float* x, float* y, int64_t n);
// y[i] = tanh(x[i]) (about 3 ulp).
void FixedTanh(const float* x, float* y, int64_t n);
// sum of x[0, n) in 64 virtual lanes folded in one tree, then the last
// n % 64 in order: the order DotF32 and the decode GEMVs use.
float FixedSum(const float* x, int64_t n);
// The same sum, one lane at a time in plain C++ (the specification).
float FixedSumRef(const float* x, int64_t n);

}  // namespace skv
