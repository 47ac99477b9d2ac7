/*
 * Execution-provider profiles and runtime information.
 *
 * A profile says, for each of the four model modules, which ONNX Runtime execution provider runs
 * it and with which options. Presets: "cpu", "cuda", "tensorrt" (FP16, engine cache), "mac"
 * (CoreML MLProgram, image_encoder CPUOnly, the rest CPUAndGPU).
 *
 * Thread-safety: profiles are plain caller-owned values; the functions are reentrant.
 */
#ifndef KATANA_RUNTIME_H
#define KATANA_RUNTIME_H

#include "katana/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The four ONNX modules of a bundle. */
typedef enum kat_module {
  KAT_MODULE_IMAGE_ENCODER = 0,
  KAT_MODULE_MEMORY_ATTENTION = 1,
  KAT_MODULE_MASK_DECODER = 2,
  KAT_MODULE_MEMORY_ENCODER = 3,
  KAT_MODULE_COUNT = 4
} kat_module;

/* Returns the module's bundle name, e.g. "image_encoder", or NULL. */
KAT_API const char *kat_module_name(kat_module m);

typedef enum kat_ep_kind {
  KAT_EP_CPU = 0,
  KAT_EP_CUDA,
  KAT_EP_TENSORRT,
  KAT_EP_COREML
} kat_ep_kind;

typedef enum kat_coreml_units {
  KAT_COREML_ALL = 0,
  KAT_COREML_CPU_ONLY,
  KAT_COREML_CPU_AND_GPU,
  KAT_COREML_CPU_AND_NE
} kat_coreml_units;

/* Options of one module's session. Strings are copied into fixed buffers. */
typedef struct kat_ep_config {
  kat_ep_kind kind;
  /* CPU (also the threads of the CPU part of any provider). 0 means ONNX Runtime's default. */
  int intra_op_threads;
  int inter_op_threads;
  int allow_spinning;  /* 1: worker threads spin between runs (lower latency, more CPU) */
  int graph_opt_level; /* 0 disable, 1 basic, 2 extended, 99 all */
  int save_optimized;  /* 1: save/reuse the optimised model in cache_dir (keyed by hash+options) */
  /* CUDA and TensorRT. */
  int device_id;
  size_t gpu_mem_limit;  /* bytes, 0 = no limit */
  int cudnn_algo_search; /* 0 exhaustive, 1 heuristic, 2 default */
  int trt_fp16;
  size_t trt_workspace; /* bytes, 0 = provider default */
  /* CoreML. */
  int coreml_mlprogram; /* 1: MLProgram, 0: NeuralNetwork */
  kat_coreml_units coreml_units;
  /* Cache folder for optimised models, TensorRT engines and timing caches, CoreML models. */
  char cache_dir[512];
} kat_ep_config;

typedef enum kat_ep_fallback {
  KAT_EP_FALLBACK_ERROR = 0, /* an unavailable provider or one that claims no node is an error */
  KAT_EP_FALLBACK_WARN = 1   /* fall back to CPU with a warning, and report it */
} kat_ep_fallback;

typedef struct kat_ep_profile {
  char name[32];
  kat_ep_config module[KAT_MODULE_COUNT];
  kat_ep_fallback fallback;
} kat_ep_profile;

/* Fills `out` with the named preset ("cpu", "cuda", "tensorrt", "mac"). KAT_EINVAL if unknown. */
KAT_API int kat_ep_profile_preset(const char *name, kat_ep_profile *out);

/*
 * Sets one option on one module (`module` = -1 for all) from text, e.g. ("trt_fp16", "0"),
 * ("intra_op_threads", "2"), ("coreml_units", "cpu_only"), ("provider", "cuda"), ("cache_dir", p).
 * KAT_EINVAL on an unknown key or a bad value.
 */
KAT_API int kat_ep_profile_set(kat_ep_profile *p, int module, const char *key, const char *value);

/*
 * The CPU thread rule of every katana command that runs sessions side by side (the one home of
 * it): `sessions` module sessions run at once and share `cores` cores (0: the online cores), so
 * each CPU module of `p` whose intra_op_threads is still 0 (the preset's "ONNX Runtime decides")
 * gets max(1, cores / sessions). A pipelined stream runs 2 at once (its encoder and tracker
 * stages overlap), a sequential one 1, and J streams side by side J times that. Modules already
 * given a count, and non-CPU modules, are left alone. KAT_EINVAL when p is NULL or sessions < 1.
 */
KAT_API int kat_ep_profile_share_cores(kat_ep_profile *p, int cores, int sessions);

/*
 * Returns the folder of the default model bundle, e.g. "<prefix>/share/katana/models/default"
 * for an installed libkatana (found relative to libkatana's own location, so a moved prefix
 * still works; a program linking libkatana.a looks relative to its own folder, as <prefix>/bin),
 * or the source tree's models/default for programs in katana's build tree. The environment
 * variable KATANA_MODEL_DIR, when set and not empty, replaces the search: its folder is returned
 * when it holds a katana.json, otherwise NULL. Returns NULL when no default model is found.
 *
 * Ownership: the string is static, owned by the library, valid for the life of the process; do
 * not free it. The answer (and KATANA_MODEL_DIR) is read once, at the first call.
 * Thread-safety: may be called from any thread at any time.
 */
KAT_API const char *kat_default_model_path(void);

/* Returns the ONNX Runtime version string (static). */
KAT_API const char *kat_ort_version(void);

/*
 * Writes the execution providers compiled into the loaded ONNX Runtime, comma-separated, into
 * `buf` (always NUL-terminated). Returns KAT_OK or KAT_ERUNTIME.
 */
KAT_API int kat_ort_providers(char *buf, size_t buf_size);

/* Returns the name ONNX Runtime uses for a provider kind, e.g. "CUDAExecutionProvider". */
KAT_API const char *kat_ep_ort_name(kat_ep_kind kind);

/* Returns 1 if the loaded ONNX Runtime has the provider, else 0. */
KAT_API int kat_ep_available(kat_ep_kind kind);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_RUNTIME_H */
