// Run-time choice of the SIMD level. Detected once from CPUID; tests may force a lower
// level to exercise every path on one machine.
#pragma once

namespace parley {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The best level this CPU and build support.
SimdLevel DetectedSimdLevel();
// The level kernels use now (the detected one unless forced).
SimdLevel ActiveSimdLevel();
// Forces kernels to `level`, clamped to the detected one. Returns the level in effect.
// Not thread-safe against running kernels: call it between forward passes or in tests.
SimdLevel ForceSimdLevel(SimdLevel level);
const char* SimdLevelName(SimdLevel level);
// Whether the CPU has AVX-512 VNNI (the int8 products use it at the AVX-512 level).
bool CpuHasAvx512Vnni();
// Whether the CPU has AMX tiles with int8 products and the kernel lets this process use
// them (on Linux the tile state is requested once with arch_prctl).
bool CpuHasAmxInt8();

}  // namespace parley
