/*
 * System information for `katana doctor` and benchmark reports: katana, ONNX Runtime and FFmpeg
 * versions, the loaded ONNX Runtime library's path, CPU model and features, and the GPU if any.
 */
#include <dlfcn.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
#include <onnxruntime_c_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/core.h"
#include "katana/system.h"
#include "runtime/ep.h"
#include "runtime/system.h"

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
}

static void cpu_info(kat_system_info *out) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[4096];
  int have_flags = 0;
  while (fgets(line, sizeof line, f)) {
    if (!out->cpu_model[0] && strncmp(line, "model name", 10) == 0) {
      const char *c = strchr(line, ':');
      if (c) kat__strlcpy(out->cpu_model, c + 2, sizeof out->cpu_model);
      trim(out->cpu_model);
    } else if (!have_flags &&
               (strncmp(line, "flags", 5) == 0 || strncmp(line, "Features", 8) == 0)) {
      static const char *const wanted[] = {
          "sse4_2",   "avx",      "avx2",  "fma",  "f16c", "avx512f", "avx512_bf16", "avx512_vnni",
          "avx_vnni", "amx_tile", "asimd", "fphp", "sve",  "bf16",    "i8mm"};
      size_t used = 0;
      for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        char pat[32];
        snprintf(pat, sizeof pat, " %s", wanted[i]);
        const char *hit = strstr(line, pat);
        size_t wl = strlen(pat);
        if (hit && (hit[wl] == ' ' || hit[wl] == '\n' || hit[wl] == '\0')) {
          int w = snprintf(out->cpu_features + used, sizeof out->cpu_features - used, "%s%s",
                           used ? " " : "", wanted[i]);
          if (w > 0 && (size_t)w < sizeof out->cpu_features - used) used += (size_t)w;
        }
      }
      have_flags = 1;
    }
  }
  fclose(f);
}

static void gpu_info(kat_system_info *out) {
  FILE *f =
      popen("nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null", "r");
  if (!f) return;
  if (fgets(out->gpu, sizeof out->gpu, f)) trim(out->gpu);
  pclose(f);
}

/* True when the flags line `line` has the whole word `flag`. */
static bool has_flag(const char *line, const char *flag) {
  size_t n = strlen(flag);
  for (const char *p = strstr(line, flag); p; p = strstr(p + 1, flag))
    if ((p == line || p[-1] == ' ' || p[-1] == '\t') &&
        (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
      return true;
  return false;
}

bool kat__cpu_int8_reduce_range(char *why, size_t why_size) {
  return kat__cpu_int8_reduce_range_file("/proc/cpuinfo", why, why_size);
}

bool kat__cpu_int8_reduce_range_file(const char *path, char *why, size_t why_size) {
  const char *reason = "no x86 flags line in the CPU info: 8-bit weights";
  bool reduce = false;
  FILE *f = fopen(path, "r");
  if (!f) reason = "CPU info unreadable: 8-bit weights";
  char line[8192];
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "flags", 5) != 0) continue;
    if (has_flag(line, "avx512_vnni") || has_flag(line, "avx_vnni")) {
      reason = "VNNI present (avx512_vnni or avx_vnni): 8-bit weights";
    } else if (has_flag(line, "avx2")) {
      reduce = true;
      reason = "AVX2 without VNNI: 7-bit weights (VPMADDUBSW would saturate)";
    } else {
      reason = "no AVX2: 8-bit weights";
    }
    break;
  }
  if (f) fclose(f);
  if (why && why_size) kat__strlcpy(why, reason, why_size);
  return reduce;
}

int kat_system_info_get(kat_system_info *out) {
  if (!out) return KAT_EINVAL;
  memset(out, 0, sizeof *out);
  kat__strlcpy(out->katana_version, kat_version(), sizeof out->katana_version);
  kat__strlcpy(out->ort_version, kat_ort_version(), sizeof out->ort_version);
  /* dladdr wants an object pointer; a union converts the function address without a cast. */
  union {
    const OrtApiBase *(ORT_API_CALL *fn)(void);
    void *obj;
  } addr;
  addr.obj = NULL;
  addr.fn = OrtGetApiBase;
  Dl_info di;
  if (dladdr(addr.obj, &di) && di.dli_fname)
    kat__strlcpy(out->ort_library, di.dli_fname, sizeof out->ort_library);
  kat_ort_providers(out->ort_providers, sizeof out->ort_providers);
  cpu_info(out);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  out->logical_cores = n > 0 ? (int)n : 0;
  struct utsname u;
  if (uname(&u) == 0)
    snprintf(out->os, sizeof out->os, "%s %s %s", u.sysname, u.release, u.machine);
  unsigned f = avformat_version(), c = avcodec_version(), s = swscale_version(),
           a = avutil_version();
  snprintf(
      out->ffmpeg, sizeof out->ffmpeg,
      "%s (libavformat %u.%u.%u, libavcodec %u.%u.%u, libswscale %u.%u.%u, libavutil %u.%u.%u)",
      av_version_info(), f >> 16, (f >> 8) & 255, f & 255, c >> 16, (c >> 8) & 255, c & 255,
      s >> 16, (s >> 8) & 255, s & 255, a >> 16, (a >> 8) & 255, a & 255);
  gpu_info(out);
  out->int8_reduce_range = kat__cpu_int8_reduce_range(out->int8_advice, sizeof out->int8_advice);
  return KAT_OK;
}

int kat_ep_check(kat_ep_kind kind, char *why, size_t why_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  int rc = kat__ep_probe(kind, &eb);
  if (why && why_size) kat__strlcpy(why, rc ? eb.msg : "available", why_size);
  return rc ? KAT_EPROVIDER : KAT_OK;
}
