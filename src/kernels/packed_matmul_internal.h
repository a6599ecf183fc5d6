// Internal to kernels/: the packed products' block layouts as compile-time constants, and
// the dispatch from a run-time PackFormat to them, shared by the per-level kernel files
// (packed_matmul_avx2.cc, packed_matmul_vnni.cc). No intrinsics and no functions with
// external linkage here: the SIMD files instantiate WithPackedLayout with their own
// anonymous-namespace callables.
#pragma once

#include "kernels/packed_matmul.h"

namespace parley::internal {

template <int kBits_, int kSub, bool kF16_, bool kMin>
struct PackedLayout {
  static constexpr int kBits = kBits_;
  static constexpr int kSubs = kPackBlock / kSub;
  static constexpr bool kF16 = kF16_;
  static constexpr bool kHasMin = kMin;
  static constexpr int kCodeBytes = kPackPanel * kPackBlock * kBits / 8;
  static constexpr int kScaleBytes = kF16 ? 2 : 4;
  static constexpr int kBlockBytes = kCodeBytes + kPackPanel * kScaleBytes * (kSubs + (kMin ? 1 : 0));
};

// Calls fn(PackedLayout<...>{}) for the layout of `f` (the formats PackFormatFor makes).
template <class Fn>
void WithPackedLayout(const PackFormat& f, Fn&& fn) {
  if (f.code_bits == 4) {
    if (f.f16_scales) return fn(PackedLayout<4, 32, true, true>{});
    return fn(PackedLayout<4, 32, false, true>{});
  }
  if (f.code_bits == 5) {
    if (f.f16_scales) return fn(PackedLayout<5, 32, true, true>{});
    return fn(PackedLayout<5, 32, false, true>{});
  }
  if (f.sub == 16) return fn(PackedLayout<8, 16, false, false>{});
  if (f.has_min) return fn(PackedLayout<8, 32, false, true>{});
  return fn(PackedLayout<8, 32, true, false>{});
}

}  // namespace parley::internal
