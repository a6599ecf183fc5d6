// AVX2 attention kernels (attention.h): simd/attention_inl.h instantiated with VecAvx2.
// Compiled only with the AVX2 flags; templates in an anonymous namespace (no weak symbols,
// see avx2_decode_inl.h). Stateless; thread-safe.
#include <cstdint>

#include "kernels/attention_internal.h"
#include "kernels/simd/attention_inl.h"
#include "kernels/simd/vec_avx2_inl.h"

namespace parley::avx2 {
namespace {

using simd::VecAvx2;

template <KvRowFormat R>
struct ScoresAll {
  static void Run(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, float* s) {
    simd::ScoresHeads<VecAvx2, R>(q, heads, d, k, len, s, len);
  }
};

}  // namespace

void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format,
                  float* s) {
  simd::AttendScoresT<ScoresAll>(q, heads, d, k, len, format, s);
}

void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format,
               float* acc) {
  simd::AttendMixT<VecAvx2>(p, heads, d, v, len, format, acc);
}

}  // namespace parley::avx2
