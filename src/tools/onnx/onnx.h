/*
 * ONNX model tools: inspection, execution-provider coverage and verified graph rewrites.
 *
 * Each function works on files and returns a human-readable report as a heap string the caller
 * releases with kat__onnx_free(). On failure the message goes to `err` (always NUL-terminated when
 * err_size > 0), and a report, when one was produced up to the failure, is still returned.
 * Malformed or truncated model files give KAT_EFORMAT with the file name in the message.
 *
 * Thread-safety: the functions are reentrant; they share no state between calls.
 *
 * UNSTABLE: an internal header of katana_tools (the CLI and the tests), not installed and not part
 * of libkatana's API; it changes without notice.
 */
#ifndef KAT_TOOLS_ONNX_ONNX_H
#define KAT_TOOLS_ONNX_ONNX_H

#include <stdint.h>

#include "katana/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KAT_ONNX_MAX_PASSES 8
#define KAT_ONNX_MAX_DIMS 8
#define KAT_ONNX_MAX_KEEP 16

/* A size for a named symbolic dimension, used for the numeric check's random inputs. */
typedef struct kat__onnx_dim {
  const char *name; /* borrowed for the call */
  int64_t value;
} kat__onnx_dim;

/*
 * Options of kat__onnx_rewrite(). Every pointer is borrowed for the call only. Initialise with
 * kat__onnx_rewrite_options_init().
 */
typedef struct kat__onnx_rewrite_options {
  /* Passes in order of application: "gather-to-split", "scatternd-to-concat",
   * "expose-multimask", "fixed-memory", "fp16", "int8". None given: gather-to-split and
   * scatternd-to-concat (the exact ones). */
  const char *passes[KAT_ONNX_MAX_PASSES];
  int n_passes;
  /* Write the output even when the numeric check fails (the report says so). */
  int force;
  /* fixed-memory: the size N to pin, and the symbolic dim's name (NULL: the dim_param on axis 1
   * of the input "memory", else the first symbolic dim shared by two or more inputs). */
  int64_t fixed_memory;
  const char *fixed_memory_dim;
  /* Numeric check: sizes for named symbolic dims; other symbolic dims take default_dim. */
  kat__onnx_dim dims[KAT_ONNX_MAX_DIMS];
  int n_dims;
  int64_t default_dim; /* default 4 */
  uint64_t seed;       /* default 1 */
  /* fp16: op types kept in FP32 in addition to the defaults (LayerNormalization, Softmax, the
   * ReduceMean/Pow/Sqrt/Div of a decomposed LayerNorm, the MatMul feeding a Softmax). */
  const char *fp16_keep[KAT_ONNX_MAX_KEEP];
  int n_fp16_keep;
  /* Check bars: exact passes refuse when max_abs > tol_abs (default 1e-5); fp16 refuses when
   * max |a-b| / (max |a| + 1e-6) over an output exceeds fp16_tol_rel (default 1e-2). */
  double tol_abs;
  double fp16_tol_rel;
  /* int8 (dynamic quantization of MatMul/Gemm with constant weights, see kat__onnx_quantize):
   * 7-bit weights when int8_reduce_range is 1, 8-bit when 0, and with -1 (the default) as the
   * CPU needs (7-bit on AVX2 without VNNI, as kat__onnx_quantize's auto); int8_form 0 emits
   * com.microsoft DynamicQuantizeMatMul, 1 the standard DynamicQuantizeLinear + MatMulInteger +
   * Cast + Mul; nodes whose name contains one of int8_exclude stay FP32. The check refuses when max
   * |a-b| / (max |a| + 1e-6) over an output exceeds int8_tol_rel (default 0.1). */
  int int8_reduce_range;
  int int8_form;
  const char *int8_exclude[KAT_ONNX_MAX_KEEP];
  int n_int8_exclude;
  double int8_tol_rel;
} kat__onnx_rewrite_options;

void kat__onnx_rewrite_options_init(kat__onnx_rewrite_options *o);

/* Returns 1 if `name` is a rewrite pass this build knows, else 0. */
int kat__onnx_pass_known(const char *name);

/*
 * Reports a model's opsets, inputs/outputs with shapes (symbolic dims named), op histogram,
 * node and initializer counts and bytes, external data files (and whether they exist), dynamic
 * dims that block TensorRT/CoreML, and pattern findings (last-axis Gather with a scalar constant
 * index, ScatterND, Reshape above rank 5, complex ops).
 */
int kat__onnx_inspect(const char *path, char **report, char *err, size_t err_size);

/*
 * Reports which nodes each execution provider claims for a model, or for each module of a
 * bundle folder, under the EP profile preset `preset` ("cpu", "cuda", "tensorrt", "mac"):
 * per provider the nodes it claims and its partition count (katana's count over ORT's placement,
 * next to the provider's own count where its log gives one), and the nodes the requested provider
 * leaves to others with ORT's reason where its verbose log gives one. Where the provider is not
 * in this ONNX Runtime build the report says so and still lists katana's static checks (pattern
 * findings, dynamic dims, ops without a CoreML builder); that is not an error.
 */
int kat__onnx_coverage(const char *model_or_bundle, const char *preset, char **report, char *err,
                       size_t err_size);

/*
 * Applies the passes of `opt` (NULL for defaults) to the model at `in_path` and writes the result
 * to `out_path` (never the input file). Each pass that changes the graph is checked by running
 * the graphs before and after it in ONNX Runtime (CPU) on seeded random inputs; a failed check
 * returns KAT_ECHECK and writes nothing unless opt->force. When no pass changes anything, the
 * output is a byte-identical copy of the input. External data is read in and written inline.
 */
int kat__onnx_rewrite(const char *in_path, const char *out_path,
                      const kat__onnx_rewrite_options *opt, char **report, char *err,
                      size_t err_size);

/* The modules `katana onnx quantize` converts when none are named (see docs/performance.md,
 * "INT8": the modules whose INT8 run keeps the accuracy bar against FP32). */
#define KAT_ONNX_QUANTIZE_DEFAULT_MODULES "memory_encoder"

/* Options of kat__onnx_quantize(); pointers are borrowed for the call. Initialise with
 * kat__onnx_quantize_options_init(). */
typedef struct kat__onnx_quantize_options {
  const char *modules[8]; /* manifest module names; none: KAT_ONNX_QUANTIZE_DEFAULT_MODULES */
  int n_modules;
  int reduce_range; /* -1 auto (7-bit weights on AVX2 without VNNI), 0 off, 1 on; default -1 */
  int form;         /* 0 DynamicQuantizeMatMul (default), 1 DynamicQuantizeLinear+MatMulInteger */
  const char *exclude[KAT_ONNX_MAX_KEEP]; /* node-name substrings kept FP32 */
  int n_exclude;
  double tol_rel; /* per-module check bar on max relative output error, default 0.1 */
  int force;      /* write a module even when its check fails */
} kat__onnx_quantize_options;

void kat__onnx_quantize_options_init(kat__onnx_quantize_options *o);

/*
 * Writes an INT8 copy of the bundle `bundle_dir` into `out_dir` (created if missing; never the
 * input folder). Each chosen module's MatMul/Gemm nodes with constant float weights become
 * dynamically quantized int8 (weights per output channel, activations per tensor at run time;
 * Conv, LayerNorm, Softmax and activation x activation MatMuls stay FP32), checked in ONNX
 * Runtime against the FP32 module on seeded random inputs (KAT_ECHECK above opt->tol_rel unless
 * opt->force). The other modules and constants.bin are copied; the manifest gets the new sha256,
 * "precision": "int8" and a "quantization" object per converted module, and is validated again.
 * On failure files already written into `out_dir` stay there.
 */
int kat__onnx_quantize(const char *bundle_dir, const char *out_dir,
                       const kat__onnx_quantize_options *opt, char **report, char *err,
                       size_t err_size);

/*
 * Writes a one-line summary of a bundle's per-module precision into `buf` (always
 * NUL-terminated), e.g. "image_encoder=int8(w8) memory_attention=int8(w8) memory_encoder=fp32
 * mask_decoder=fp32" (wN: weight bits of an int8 module). The manifest must validate.
 */
int kat__onnx_bundle_precision(const char *bundle_dir, char *buf, size_t size, char *err,
                               size_t err_size);

/* Frees a report (NULL is a no-op). */
void kat__onnx_free(char *report);

#ifdef __cplusplus
}
#endif
#endif /* KAT_TOOLS_ONNX_ONNX_H */
