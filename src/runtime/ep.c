/*
 * Execution-provider profiles. A profile is a value type (one kat_ep_config per module); presets
 * follow the measured defaults of the seed article: "tensorrt" uses FP16 with engine and timing
 * caches, "mac" uses CoreML MLProgram with the image encoder on CPUOnly and the rest CPUAndGPU.
 */
#include "runtime/ep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/ort.h"

static const char *const k_module_names[KAT_MODULE_COUNT] = {"image_encoder", "memory_attention",
                                                             "mask_decoder", "memory_encoder"};

const char *kat_module_name(kat_module m) {
  return (m >= 0 && m < KAT_MODULE_COUNT) ? k_module_names[m] : NULL;
}

const char *kat_ep_ort_name(kat_ep_kind kind) {
  switch (kind) {
    case KAT_EP_CPU: return "CPUExecutionProvider";
    case KAT_EP_CUDA: return "CUDAExecutionProvider";
    case KAT_EP_TENSORRT: return "TensorrtExecutionProvider";
    case KAT_EP_COREML: return "CoreMLExecutionProvider";
  }
  return "unknown";
}

const char *kat__ep_short_name(kat_ep_kind kind) {
  switch (kind) {
    case KAT_EP_CPU: return "cpu";
    case KAT_EP_CUDA: return "cuda";
    case KAT_EP_TENSORRT: return "tensorrt";
    case KAT_EP_COREML: return "coreml";
  }
  return "unknown";
}

static void config_defaults(kat_ep_config *c, kat_ep_kind kind) {
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->intra_op_threads = 0;
  c->inter_op_threads = 1;
  /* Off: the tracker runs four sessions in turn, and workers spinning after one session's run
   * steal the cores of the next (docs/performance.md: 1.25x sequential FPS on 2 cores). */
  c->allow_spinning = 0;
  c->graph_opt_level = 99;
  c->save_optimized = 0;
  c->device_id = 0;
  c->cudnn_algo_search = 1;
  c->trt_fp16 = 0;
  c->coreml_mlprogram = 1;
  c->coreml_units = KAT_COREML_CPU_AND_GPU;
  kat__strlcpy(c->cache_dir, ".katana-cache", sizeof c->cache_dir);
}

int kat_ep_profile_preset(const char *name, kat_ep_profile *out) {
  if (!name || !out) return KAT_EINVAL;
  memset(out, 0, sizeof *out);
  kat_ep_kind kind;
  if (strcmp(name, "cpu") == 0) {
    kind = KAT_EP_CPU;
  } else if (strcmp(name, "cuda") == 0) {
    kind = KAT_EP_CUDA;
  } else if (strcmp(name, "tensorrt") == 0) {
    kind = KAT_EP_TENSORRT;
  } else if (strcmp(name, "mac") == 0 || strcmp(name, "coreml") == 0) {
    kind = KAT_EP_COREML;
  } else {
    return KAT_EINVAL;
  }
  for (int m = 0; m < KAT_MODULE_COUNT; m++) config_defaults(&out->module[m], kind);
  if (kind == KAT_EP_TENSORRT)
    for (int m = 0; m < KAT_MODULE_COUNT; m++) out->module[m].trt_fp16 = 1;
  if (kind == KAT_EP_COREML)
    out->module[KAT_MODULE_IMAGE_ENCODER].coreml_units = KAT_COREML_CPU_ONLY;
  kat__strlcpy(out->name, name, sizeof out->name);
  out->fallback = KAT_EP_FALLBACK_ERROR;
  return KAT_OK;
}

static int parse_int(const char *v, long lo, long hi, long *out) {
  char *end = NULL;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || !end || *end || end == v || x < lo || x > hi) return KAT_EINVAL;
  *out = x;
  return KAT_OK;
}

static int set_one(kat_ep_config *c, const char *key, const char *value) {
  long x;
  if (strcmp(key, "provider") == 0) {
    if (strcmp(value, "cpu") == 0)
      c->kind = KAT_EP_CPU;
    else if (strcmp(value, "cuda") == 0)
      c->kind = KAT_EP_CUDA;
    else if (strcmp(value, "tensorrt") == 0)
      c->kind = KAT_EP_TENSORRT;
    else if (strcmp(value, "coreml") == 0)
      c->kind = KAT_EP_COREML;
    else
      return KAT_EINVAL;
    return KAT_OK;
  }
  if (strcmp(key, "coreml_units") == 0) {
    if (strcmp(value, "all") == 0)
      c->coreml_units = KAT_COREML_ALL;
    else if (strcmp(value, "cpu_only") == 0)
      c->coreml_units = KAT_COREML_CPU_ONLY;
    else if (strcmp(value, "cpu_and_gpu") == 0)
      c->coreml_units = KAT_COREML_CPU_AND_GPU;
    else if (strcmp(value, "cpu_and_ne") == 0)
      c->coreml_units = KAT_COREML_CPU_AND_NE;
    else
      return KAT_EINVAL;
    return KAT_OK;
  }
  if (strcmp(key, "coreml_format") == 0) {
    if (strcmp(value, "mlprogram") == 0)
      c->coreml_mlprogram = 1;
    else if (strcmp(value, "neuralnetwork") == 0)
      c->coreml_mlprogram = 0;
    else
      return KAT_EINVAL;
    return KAT_OK;
  }
  if (strcmp(key, "cache_dir") == 0) {
    if (strlen(value) >= sizeof c->cache_dir) return KAT_EINVAL;
    kat__strlcpy(c->cache_dir, value, sizeof c->cache_dir);
    return KAT_OK;
  }
  struct {
    const char *key;
    int *field;
    long lo, hi;
  } ints[] = {
      {"intra_op_threads", &c->intra_op_threads, 0, 1024},
      {"inter_op_threads", &c->inter_op_threads, 0, 1024},
      {"allow_spinning", &c->allow_spinning, 0, 1},
      {"graph_opt_level", &c->graph_opt_level, 0, 99},
      {"save_optimized", &c->save_optimized, 0, 1},
      {"device_id", &c->device_id, 0, 64},
      {"cudnn_algo_search", &c->cudnn_algo_search, 0, 2},
      {"trt_fp16", &c->trt_fp16, 0, 1},
  };
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    if (strcmp(key, ints[i].key) == 0) {
      if (parse_int(value, ints[i].lo, ints[i].hi, &x) != KAT_OK) return KAT_EINVAL;
      *ints[i].field = (int)x;
      return KAT_OK;
    }
  }
  if (strcmp(key, "gpu_mem_limit") == 0 || strcmp(key, "trt_workspace") == 0) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || !end || *end || end == value) return KAT_EINVAL;
    if (key[0] == 'g')
      c->gpu_mem_limit = (size_t)v;
    else
      c->trt_workspace = (size_t)v;
    return KAT_OK;
  }
  return KAT_EINVAL;
}

int kat_ep_profile_set(kat_ep_profile *p, int module, const char *key, const char *value) {
  if (!p || !key || !value || module < -1 || module >= KAT_MODULE_COUNT) return KAT_EINVAL;
  if (strcmp(key, "fallback") == 0) {
    if (strcmp(value, "error") == 0)
      p->fallback = KAT_EP_FALLBACK_ERROR;
    else if (strcmp(value, "warn") == 0)
      p->fallback = KAT_EP_FALLBACK_WARN;
    else
      return KAT_EINVAL;
    return KAT_OK;
  }
  /* Validate on a copy first so a bad value changes nothing. */
  kat_ep_config probe = p->module[module < 0 ? 0 : module];
  if (set_one(&probe, key, value) != KAT_OK) return KAT_EINVAL;
  for (int m = 0; m < KAT_MODULE_COUNT; m++)
    if (module < 0 || m == module) set_one(&p->module[m], key, value);
  return KAT_OK;
}

int kat_ep_profile_share_cores(kat_ep_profile *p, int cores, int sessions) {
  if (!p || sessions < 1) return KAT_EINVAL;
  if (cores <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cores = n > 0 ? (int)n : 1;
  }
  int each = cores / sessions > 0 ? cores / sessions : 1;
  if (each > 1024) each = 1024; /* the intra_op_threads limit of kat_ep_profile_set */
  for (int m = 0; m < KAT_MODULE_COUNT; m++)
    if (p->module[m].kind == KAT_EP_CPU && p->module[m].intra_op_threads == 0)
      p->module[m].intra_op_threads = each;
  return KAT_OK;
}

/* Creates `dir` (one level) if missing; returns 0 on success. */
static int ensure_dir(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -1;
  return mkdir(dir, 0775);
}

static int append_cuda(const OrtApi *api, OrtSessionOptions *so, const kat_ep_config *ep,
                       kat__errbuf *eb) {
  OrtCUDAProviderOptionsV2 *opt = NULL;
  int rc = kat__ort_check(api->CreateCUDAProviderOptions(&opt), eb, KAT_EPROVIDER,
                          "CUDA execution provider unavailable");
  if (rc) return rc;
  char dev[16], lim[32], algo[16];
  snprintf(dev, sizeof dev, "%d", ep->device_id);
  snprintf(lim, sizeof lim, "%zu", ep->gpu_mem_limit ? ep->gpu_mem_limit : (size_t)SIZE_MAX);
  static const char *const algos[] = {"EXHAUSTIVE", "HEURISTIC", "DEFAULT"};
  kat__strlcpy(algo, algos[ep->cudnn_algo_search % 3], sizeof algo);
  const char *keys[] = {"device_id", "gpu_mem_limit", "cudnn_conv_algo_search",
                        "arena_extend_strategy"};
  const char *vals[] = {dev, lim, algo, "kSameAsRequested"};
  rc = kat__ort_check(api->UpdateCUDAProviderOptions(opt, keys, vals, 4), eb, KAT_EPROVIDER,
                      "CUDA execution provider unavailable");
  if (!rc)
    rc = kat__ort_check(api->SessionOptionsAppendExecutionProvider_CUDA_V2(so, opt), eb,
                        KAT_EPROVIDER, "CUDA execution provider unavailable");
  api->ReleaseCUDAProviderOptions(opt);
  return rc;
}

static int append_tensorrt(const OrtApi *api, OrtSessionOptions *so, const kat_ep_config *ep,
                           const char *model_key, kat__errbuf *eb) {
  OrtTensorRTProviderOptionsV2 *opt = NULL;
  int rc = kat__ort_check(api->CreateTensorRTProviderOptions(&opt), eb, KAT_EPROVIDER,
                          "TensorRT execution provider unavailable");
  if (rc) return rc;
  char dev[16], ws[32], prefix[160];
  snprintf(dev, sizeof dev, "%d", ep->device_id);
  snprintf(ws, sizeof ws, "%zu", ep->trt_workspace ? ep->trt_workspace : (size_t)1 << 32);
  /* Engine files are keyed by model hash + options + ORT version through the prefix. */
  snprintf(prefix, sizeof prefix, "%s", model_key ? model_key : "katana");
  ensure_dir(ep->cache_dir);
  const char *keys[] = {"device_id",
                        "trt_fp16_enable",
                        "trt_engine_cache_enable",
                        "trt_engine_cache_path",
                        "trt_timing_cache_enable",
                        "trt_timing_cache_path",
                        "trt_max_workspace_size",
                        "trt_engine_cache_prefix"};
  const char *vals[] = {dev,   ep->trt_fp16 ? "1" : "0", "1", ep->cache_dir, "1", ep->cache_dir, ws,
                        prefix};
  rc = kat__ort_check(api->UpdateTensorRTProviderOptions(opt, keys, vals, 8), eb, KAT_EPROVIDER,
                      "TensorRT execution provider unavailable");
  if (!rc)
    rc = kat__ort_check(api->SessionOptionsAppendExecutionProvider_TensorRT_V2(so, opt), eb,
                        KAT_EPROVIDER, "TensorRT execution provider unavailable");
  api->ReleaseTensorRTProviderOptions(opt);
  return rc;
}

static int append_coreml(const OrtApi *api, OrtSessionOptions *so, const kat_ep_config *ep,
                         kat__errbuf *eb) {
  static const char *const units[] = {"ALL", "CPUOnly", "CPUAndGPU", "CPUAndNeuralEngine"};
  const char *keys[] = {"ModelFormat", "MLComputeUnits", "ModelCacheDirectory"};
  const char *vals[] = {ep->coreml_mlprogram ? "MLProgram" : "NeuralNetwork",
                        units[ep->coreml_units & 3], ep->cache_dir};
  ensure_dir(ep->cache_dir);
  return kat__ort_check(api->SessionOptionsAppendExecutionProvider(so, "CoreML", keys, vals, 3), eb,
                        KAT_EPROVIDER, "CoreML execution provider unavailable");
}

int kat__ep_apply(const OrtApi *api, OrtSessionOptions *so, const kat_ep_config *ep,
                  const char *label, const char *model_key, kat__errbuf *eb) {
  (void)label;
  int rc;
  if ((rc = kat__ort_check(api->SetIntraOpNumThreads(so, ep->intra_op_threads), eb, 0,
                           "intra-op threads")))
    return rc;
  if ((rc = kat__ort_check(api->SetInterOpNumThreads(so, ep->inter_op_threads), eb, 0,
                           "inter-op threads")))
    return rc;
  if ((rc = kat__ort_check(api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning",
                                                      ep->allow_spinning ? "1" : "0"),
                           eb, 0, "allow_spinning")))
    return rc;
  if ((rc = kat__ort_check(api->AddSessionConfigEntry(so, "session.inter_op.allow_spinning",
                                                      ep->allow_spinning ? "1" : "0"),
                           eb, 0, "allow_spinning")))
    return rc;
  GraphOptimizationLevel lvl = ep->graph_opt_level >= 99  ? ORT_ENABLE_ALL
                               : ep->graph_opt_level >= 2 ? ORT_ENABLE_EXTENDED
                               : ep->graph_opt_level >= 1 ? ORT_ENABLE_BASIC
                                                          : ORT_DISABLE_ALL;
  if ((rc = kat__ort_check(api->SetSessionGraphOptimizationLevel(so, lvl), eb, 0,
                           "graph optimisation level")))
    return rc;
  switch (ep->kind) {
    case KAT_EP_CPU: return KAT_OK;
    case KAT_EP_CUDA: return append_cuda(api, so, ep, eb);
    case KAT_EP_TENSORRT: return append_tensorrt(api, so, ep, model_key, eb);
    case KAT_EP_COREML: return append_coreml(api, so, ep, eb);
  }
  return kat__fail(eb, KAT_EINVAL, "unknown execution provider %d", (int)ep->kind);
}

int kat__ep_probe(kat_ep_kind kind, kat__errbuf *eb) {
  const OrtApi *api = NULL;
  int rc = kat__ort_get(&api, NULL, eb);
  if (rc) return rc;
  OrtSessionOptions *so = NULL;
  if ((rc = kat__ort_check(api->CreateSessionOptions(&so), eb, 0, "session options"))) return rc;
  kat_ep_config c;
  config_defaults(&c, kind);
  kat__strlcpy(c.cache_dir, "/tmp", sizeof c.cache_dir);
  kat__ort_quiet(1);
  rc = kat__ep_apply(api, so, &c, "probe", NULL, eb);
  kat__ort_quiet(0);
  api->ReleaseSessionOptions(so);
  return rc;
}

int kat_ep_available(kat_ep_kind kind) {
  return kat__ep_probe(kind, NULL) == KAT_OK;
}
