// AVX2 int8-activation kernels: Q8_0 / Q8_1 activation quantizers (the same operations as
// ggml's x86 quantize_row_q8_0 / q8_1, hence bit-identical to the scalar reference) and
// integer block dots (vpmaddubsw + vpmaddwd) for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K
// and Q6_K; Q2_K, Q3_K and Q8_K quantization use the scalar code. Each kernel takes up to
// four activation rows, so MatMulRowsQ8 decodes a weight block once per four tokens.
// Compiled with -mavx2 -mfma -mf16c; no standard-library templates and everything in an
// anonymous namespace (see avx2_decode_inl.h). Reentrant.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/avx2_decode_inl.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"
#include "kernels/quant_internal.h"
#include "kernels/quant_q8_internal.h"
#include "kernels/tensor_type.h"

namespace parley::avx2 {
namespace {

using simd::Half;

constexpr int kMaxTokens = 4;

using simd::HSum;

inline int HSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
}

inline __m256i Load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// ---- Activation quantizers ------------------------------------------------------------------

template <bool kWithSum>
void QuantizeQ8_0Or1(const float* x, uint8_t* dst, int64_t n) {
  constexpr int kBytes = kWithSum ? internal::kQ8_1Bytes : internal::kQ8_0ActBytes;
  constexpr int kQs = kWithSum ? 4 : 2;
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < n / 32; ++b, x += 32, dst += kBytes) {
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 amax = _mm256_andnot_ps(sign_bit, v0);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v1));
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v2));
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v3));
    __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(amax, 1), _mm256_castps256_ps128(amax));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float max = _mm_cvtss_f32(m4);
    const float d = max / 127.f;
    const float id = max != 0.0f ? 127.f / max : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
    const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, mul), _MM_ROUND_NEAREST));
    const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, mul), _MM_ROUND_NEAREST));
    const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, mul), _MM_ROUND_NEAREST));
    const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, mul), _MM_ROUND_NEAREST));
    const uint16_t dh = F32ToF16(d);
    std::memcpy(dst, &dh, 2);
    if (kWithSum) {
      const int sum = HSumI32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
      const uint16_t sh = F32ToF16(d * static_cast<float>(sum));
      std::memcpy(dst + 2, &sh, 2);
    }
    const __m256i p =
        _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + kQs),
                        _mm256_permutevar8x32_epi32(p, perm));
  }
}

// ---- Legacy 32-element weight types ---------------------------------------------------------

// Signed weight quants dotted with signed activations: |w| * (x with w's sign).
inline __m256i DotSigned16(__m256i w_abs, __m256i w, __m256i x) {
  return _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(x, w));
}

struct WQ4_0 {
  static constexpr int kBytes = 18;
  static constexpr bool kSigned = true, kAffine = false;
  static __m256i Quants(const uint8_t* b) {
    return _mm256_sub_epi8(simd::Nibbles32(b + 2), _mm256_set1_epi8(8));
  }
};
struct WQ4_1 {
  static constexpr int kBytes = 20;
  static constexpr bool kSigned = false, kAffine = true;
  static __m256i Quants(const uint8_t* b) { return simd::Nibbles32(b + 4); }
};
struct WQ5_0 {
  static constexpr int kBytes = 22;
  static constexpr bool kSigned = true, kAffine = false;
  static __m256i Quants(const uint8_t* b) { return simd::QuantsQ5_0(b); }
};
struct WQ5_1 {
  static constexpr int kBytes = 24;
  static constexpr bool kSigned = false, kAffine = true;
  static __m256i Quants(const uint8_t* b) { return simd::QuantsQ5_1(b); }
};
struct WQ8_0 {
  static constexpr int kBytes = 34;
  static constexpr bool kSigned = true, kAffine = false;
  static __m256i Quants(const uint8_t* b) { return Load32(b + 2); }
};

// out[t] = sum over blocks of d_w*d_x[t]*sumi (+ m_w*s_x[t]).
template <class W, int kT>
void DotLegacy(const float* lut, const uint8_t* w, const uint8_t* const* x, int64_t nb,
               float* out) {
  constexpr int kXBytes = W::kAffine ? internal::kQ8_1Bytes : internal::kQ8_0ActBytes;
  constexpr int kXQs = W::kAffine ? 4 : 2;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[kT];
  float macc[kT];
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) {
    acc[t] = _mm256_setzero_ps();
    macc[t] = 0.0f;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* b = w + i * W::kBytes;
    simd::PrefetchAhead(b);
    const __m256i q = W::Quants(b);
    const __m256i qa = W::kSigned ? _mm256_abs_epi8(q) : q;
    const __m256 dw = _mm256_broadcast_ss(simd::HalfPtr(lut, b));
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) {
      const uint8_t* xb = x[t] + i * kXBytes;
      const __m256i xv = Load32(xb + kXQs);
      const __m256i p16 = W::kSigned ? DotSigned16(qa, q, xv) : _mm256_maddubs_epi16(q, xv);
      const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
      // d_w * d_x: broadcasts from memory use the load ports, not the shuffle port.
      const __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ss(simd::HalfPtr(lut, xb)));
      acc[t] = _mm256_fmadd_ps(d, s, acc[t]);
      if (W::kAffine) macc[t] += Half(lut, b + 2) * Half(lut, xb + 2);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) out[t] = HSum(acc[t]) + macc[t];
}

// ---- K-types ----------------------------------------------------------------------------------

inline float LoadF32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

// sum_j mn[j] * (bsums[2j] + bsums[2j+1]) over the 8 sub-blocks of a Q4_K / Q5_K block.
inline int MinsDot(const __m256i mins16, const uint8_t* xb) {
  const __m256i bs =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + internal::kQ8_KBsums));
  return HSumI32(_mm256_madd_epi16(bs, mins16));
}

template <bool kFive, int kT>
void DotK45(const float* lut, const uint8_t* w, const uint8_t* const* x, int64_t nb, float* out) {
  constexpr int kBytes = kFive ? internal::kQ5_KBytes : internal::kQ4_KBytes;
  __m256 acc[kT];
  float macc[kT];
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) {
    acc[t] = _mm256_setzero_ps();
    macc[t] = 0.0f;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* b = w + i * kBytes;
    simd::PrefetchAhead(b);
    const uint32_t w0 = internal::LoadU32(b + 4);
    const uint32_t w1 = internal::LoadU32(b + 8);
    const uint32_t w2 = internal::LoadU32(b + 12);
    alignas(16) uint8_t sc[8];
    const uint32_t sc_lo = w0 & 0x3f3f3f3fu;
    const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
    const uint32_t mn_lo = w1 & 0x3f3f3f3fu;
    const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
    std::memcpy(sc, &sc_lo, 4);
    std::memcpy(sc + 4, &sc_hi, 4);
    // mins as 16 int16 lanes m0 m0 m1 m1 ... for vpmaddwd with the 16 bsums.
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(
        _mm_set_epi32(0, 0, static_cast<int>(mn_hi), static_cast<int>(mn_lo)),
        _mm_set_epi32(0, 0, static_cast<int>(mn_hi), static_cast<int>(mn_lo))));
    __m256i sumi[kT];
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      simd::QuantsK45<kFive>(b, c, &lo, &hi);
      const __m256i s_lo = _mm256_set1_epi16(sc[2 * c]);
      const __m256i s_hi = _mm256_set1_epi16(sc[2 * c + 1]);
#pragma GCC unroll 4
      for (int t = 0; t < kT; ++t) {
        const uint8_t* xq = x[t] + i * internal::kQ8_KBytes + internal::kQ8_KQs + 64 * c;
        const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, Load32(xq)), s_lo);
        const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, Load32(xq + 32)), s_hi);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p_lo, p_hi));
      }
    }
    const __m256 dw = _mm256_broadcast_ss(simd::HalfPtr(lut, b));
    const float dmin = Half(lut, b + 2);
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) {
      const uint8_t* xb = x[t] + i * internal::kQ8_KBytes;
      const float dx = LoadF32(xb);
      const __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ss(reinterpret_cast<const float*>(xb)));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      macc[t] += dmin * dx * static_cast<float>(MinsDot(mins16, xb));
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) out[t] = HSum(acc[t]) - macc[t];
}

template <int kT>
void DotQ6_K(const float* lut, const uint8_t* w, const uint8_t* const* x, int64_t nb, float* out) {
  __m256 acc[kT];
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* b = w + i * internal::kQ6_KBytes;
    simd::PrefetchAhead(b);
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    __m256i sumi[kT];
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      __m256i g[4];
      simd::QuantsQ6_K(b, h, g);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m256i ga = _mm256_abs_epi8(g[k]);
        const __m256i s16 = _mm256_set_m128i(_mm_set1_epi16(sc[8 * h + 2 * k + 1]),
                                             _mm_set1_epi16(sc[8 * h + 2 * k]));
#pragma GCC unroll 4
        for (int t = 0; t < kT; ++t) {
          const uint8_t* xq =
              x[t] + i * internal::kQ8_KBytes + internal::kQ8_KQs + 128 * h + 32 * k;
          const __m256i p = _mm256_madd_epi16(DotSigned16(ga, g[k], Load32(xq)), s16);
          sumi[t] = _mm256_add_epi32(sumi[t], p);
        }
      }
    }
    const __m256 dw = _mm256_broadcast_ss(simd::HalfPtr(lut, b + 208));
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) {
      const float* dx = reinterpret_cast<const float*>(x[t] + i * internal::kQ8_KBytes);
      const __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ss(dx));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) out[t] = HSum(acc[t]);
}

// ---- Dispatch by type and token count ------------------------------------------------------

using KernelFn = void (*)(const float*, const uint8_t*, const uint8_t* const*, int64_t, float*);

struct KernelSet {
  KernelFn fn[kMaxTokens];  // fn[k] handles k + 1 tokens
  int block_elems;
};

template <template <int> class K>
constexpr KernelSet MakeSet(int block_elems) {
  return {{K<1>::Run, K<2>::Run, K<3>::Run, K<4>::Run}, block_elems};
}

template <class W>
struct LegacyK {
  template <int kT>
  struct At {
    static void Run(const float* lut, const uint8_t* w, const uint8_t* const* x, int64_t nb,
                    float* out) {
      DotLegacy<W, kT>(lut, w, x, nb, out);
    }
  };
};
template <int kT>
struct Q4KK {
  static void Run(const float* lut, const uint8_t* w, const uint8_t* const* x, int64_t nb,
                  float* out) {
    DotK45<false, kT>(lut, w, x, nb, out);
  }
};
template <int kT>
struct Q5KK {
  static void Run(const float* lut, const uint8_t* w, const uint8_t* const* x, int64_t nb,
                  float* out) {
    DotK45<true, kT>(lut, w, x, nb, out);
  }
};
template <int kT>
struct Q6KK {
  static void Run(const float* lut, const uint8_t* w, const uint8_t* const* x, int64_t nb,
                  float* out) {
    DotQ6_K<kT>(lut, w, x, nb, out);
  }
};

// The kernels for `type`, or null where the scalar code handles it.
const KernelSet* FindKernels(TensorType type) {
  static constexpr KernelSet kQ4_0 = MakeSet<LegacyK<WQ4_0>::At>(32);
  static constexpr KernelSet kQ4_1 = MakeSet<LegacyK<WQ4_1>::At>(32);
  static constexpr KernelSet kQ5_0 = MakeSet<LegacyK<WQ5_0>::At>(32);
  static constexpr KernelSet kQ5_1 = MakeSet<LegacyK<WQ5_1>::At>(32);
  static constexpr KernelSet kQ8_0 = MakeSet<LegacyK<WQ8_0>::At>(32);
  static constexpr KernelSet kQ4_K = MakeSet<Q4KK>(256);
  static constexpr KernelSet kQ5_K = MakeSet<Q5KK>(256);
  static constexpr KernelSet kQ6_K = MakeSet<Q6KK>(256);
  switch (type) {
    case TensorType::kQ4_0: return &kQ4_0;
    case TensorType::kQ4_1: return &kQ4_1;
    case TensorType::kQ5_0: return &kQ5_0;
    case TensorType::kQ5_1: return &kQ5_1;
    case TensorType::kQ8_0: return &kQ8_0;
    case TensorType::kQ4_K: return &kQ4_K;
    case TensorType::kQ5_K: return &kQ5_K;
    case TensorType::kQ6_K: return &kQ6_K;
    default: return nullptr;
  }
}

// Rows per tile: about 32 KiB of weights, re-read from L1/L2 for every group of tokens.
int64_t TileRows(size_t row_bytes) {
  const int64_t rows = static_cast<int64_t>((32 * 1024) / (row_bytes == 0 ? 1 : row_bytes));
  return rows < 1 ? 1 : (rows > 64 ? 64 : rows);
}

}  // namespace

void QuantizeActivationRow(TensorType act_type, const float* x, void* dst, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  switch (act_type) {
    case TensorType::kQ8_0: QuantizeQ8_0Or1<false>(x, out, n); return;
    case TensorType::kQ8_1: QuantizeQ8_0Or1<true>(x, out, n); return;
    default: scalar::QuantizeActivationRow(act_type, x, dst, n); return;
  }
}

float DotRowQ8(TensorType weight_type, const void* row, const void* xq, int64_t n) {
  const KernelSet* k = FindKernels(weight_type);
  if (k == nullptr) return scalar::DotRowQ8(weight_type, row, xq, n);
  const uint8_t* x[1] = {static_cast<const uint8_t*>(xq)};
  float out;
  k->fn[0](internal::HalfToFloatTable(), static_cast<const uint8_t*>(row), x,
           n / k->block_elems, &out);
  return out;
}

void MatMulRowsQ8(const MatMulQ8Args& a, int64_t row_begin, int64_t row_end) {
  const KernelSet* k = FindKernels(a.type);
  if (k == nullptr) {
    scalar::MatMulRowsQ8(a, row_begin, row_end);
    return;
  }
  const float* lut = internal::HalfToFloatTable();
  const uint8_t* w = static_cast<const uint8_t*>(a.w);
  const uint8_t* xq = static_cast<const uint8_t*>(a.xq);
  const int64_t nb = a.n / k->block_elems;
  const int64_t tile_rows = TileRows(a.w_row_bytes);
  for (int64_t tile = row_begin; tile < row_end; tile += tile_rows) {
    const int64_t tile_end = row_end - tile < tile_rows ? row_end : tile + tile_rows;
    for (int64_t t = 0; t < a.num_tokens; t += kMaxTokens) {
      const int64_t count = a.num_tokens - t < kMaxTokens ? a.num_tokens - t : kMaxTokens;
      const uint8_t* x[kMaxTokens];
      for (int64_t j = 0; j < count; ++j) x[j] = xq + (t + j) * a.xq_row_bytes;
      const KernelFn fn = k->fn[count - 1];
      for (int64_t r = tile; r < tile_end; ++r) {
        float out[kMaxTokens];
        fn(lut, w + r * a.w_row_bytes, x, nb, out);
        for (int64_t j = 0; j < count; ++j) a.y[(t + j) * a.y_stride + r] = out[j];
      }
    }
  }
}

}  // namespace parley::avx2
