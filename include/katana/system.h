/*
 * What katana runs on: versions, library paths, CPU, providers. Used by `katana doctor` and by
 * every benchmark report to name the machine.
 *
 * Thread-safety: reentrant; the struct is caller-owned.
 */
#ifndef KATANA_SYSTEM_H
#define KATANA_SYSTEM_H

#include "katana/common.h"
#include "katana/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kat_system_info {
  char katana_version[32];
  char ort_version[32];
  char ort_library[512];   /* path of the loaded ONNX Runtime library */
  char ort_providers[256]; /* compiled-in providers, comma-separated */
  char cpu_model[128];
  int logical_cores;
  char cpu_features[256]; /* SIMD features katana cares about, space-separated */
  char os[320];
  char ffmpeg[128]; /* libavformat/libavcodec/libswscale/libavutil versions */
  char gpu[128];    /* first NVIDIA GPU from the driver's /proc entry, or "" */
  /* `katana onnx quantize --reduce-range auto` on this CPU: 1 for 7-bit int8 weights (AVX2
   * without VNNI), else 0; int8_advice says why in one line. */
  int int8_reduce_range;
  char int8_advice[128];
} kat_system_info;

/* Fills `out`. Never fails on a missing detail (the field stays ""); KAT_EINVAL on NULL. */
KAT_API int kat_system_info_get(kat_system_info *out);

/*
 * Says whether a provider kind can be used here: KAT_OK, or KAT_EPROVIDER with the reason
 * (e.g. the provider's shared library is missing) written into `why` (always NUL-terminated).
 */
KAT_API int kat_ep_check(kat_ep_kind kind, char *why, size_t why_size);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_SYSTEM_H */
