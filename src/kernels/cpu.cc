// SIMD level detection and the process-wide active level. Detection runs once (thread-safe
// static init); the active level is an atomic read by every dispatched kernel call.
// PARLEY_SIMD=scalar|avx2|avx512 in the environment forces a lower level at first use.
#include "kernels/cpu.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace parley {
namespace {

// The *_avx512.cc kernels are always compiled in; set false to retire that level.
constexpr bool kHaveAvx512Kernels = true;

SimdLevel Detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports does not know it.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && ((ecx >> 29) & 1);
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  if (!avx2) return SimdLevel::kScalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (kHaveAvx512Kernels && avx512) return SimdLevel::kAvx512;
  return SimdLevel::kAvx2;
#else
  return SimdLevel::kScalar;
#endif
}

SimdLevel Clamp(SimdLevel level) {
  const SimdLevel detected = DetectedSimdLevel();
  return static_cast<int>(level) > static_cast<int>(detected) ? detected : level;
}

SimdLevel InitialLevel() {
  SimdLevel level = DetectedSimdLevel();
  if (const char* env = std::getenv("PARLEY_SIMD")) {
    if (std::strcmp(env, "scalar") == 0) {
      level = SimdLevel::kScalar;
    } else if (std::strcmp(env, "avx2") == 0) {
      level = SimdLevel::kAvx2;
    } else if (std::strcmp(env, "avx512") == 0) {
      level = SimdLevel::kAvx512;
    } else {
      std::fprintf(stderr, "parley: ignoring PARLEY_SIMD=%s (expected scalar, avx2 or avx512)\n",
                   env);
    }
  }
  return Clamp(level);
}

std::atomic<int>& ActiveLevelSlot() {
  static std::atomic<int> slot{static_cast<int>(InitialLevel())};
  return slot;
}

}  // namespace

bool CpuHasAvx512Vnni() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool vnni = [] {
    __builtin_cpu_init();
    return DetectedSimdLevel() == SimdLevel::kAvx512 && __builtin_cpu_supports("avx512vnni");
  }();
  return vnni;
#else
  return false;
#endif
}

bool CpuHasAmxInt8() {
#if defined(__x86_64__) && defined(__linux__)
  static const bool amx = [] {
    if (DetectedSimdLevel() != SimdLevel::kAvx512) return false;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool tile = (edx >> 24) & 1, int8 = (edx >> 25) & 1;
    if (!tile || !int8) return false;
    // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM for
    // XFEATURE_XTILEDATA); without it the first tile instruction faults.
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return amx;
#else
  return false;
#endif
}

SimdLevel DetectedSimdLevel() {
  static const SimdLevel detected = Detect();
  return detected;
}

SimdLevel ActiveSimdLevel() {
  return static_cast<SimdLevel>(ActiveLevelSlot().load(std::memory_order_relaxed));
}

SimdLevel ForceSimdLevel(SimdLevel level) {
  const SimdLevel effective = Clamp(level);
  ActiveLevelSlot().store(static_cast<int>(effective), std::memory_order_relaxed);
  return effective;
}

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "unknown";
}

}  // namespace parley
