/*
 * Internal interface of the ONNX tools: pattern matchers, rewrite passes, the numeric check and a
 * growable text buffer for reports. See docs/internals/onnx.md.
 */
#ifndef KAT_ONNX_PASSES_H
#define KAT_ONNX_PASSES_H

#include <stdarg.h>

#include "tools/onnx/onnx.h"
#include "tools/onnx/graph.h"
#include "tools/onnx/shape.h"

/* ---- text buffer ---- */
typedef struct kat__sb {
  char *p; /* kat__malloc'ed, NUL-terminated when len > 0 */
  size_t len, cap;
  bool oom;
} kat__sb;
void kat__sb_printf(kat__sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text to the caller (kat__free) and resets the buffer. */
char *kat__sb_take(kat__sb *b);
/* Ends a tool call: copies eb's message (or the status text) into `err` when rc fails, hands the
 * text to *report (or frees it when report is NULL), and returns rc. */
int kat__sb_finish(int rc, kat__errbuf *eb, kat__sb *b, char **report, char *err, size_t err_size);

/* ---- matchers (pure: they never edit the graph) ---- */

/* Gather node `i` with a scalar constant index on its data's last axis. Shapes come from `sh`
 * (kat__onnx_shapes_infer of `g`: declared and inferred) or, when it is NULL, from the declared
 * shapes only. Fills the axis as given, the normalised index and the axis size (-1 when
 * unknown). */
bool kat__match_gather_last(const Onnx__GraphProto *g, const kat__onnx_shapes *sh, size_t i,
                            int64_t *axis, int64_t *index, int64_t *dim);
/* Reshape node `i` whose target shape is constant with rank > 5 (the rank is returned). */
bool kat__match_reshape_rank(const Onnx__GraphProto *g, size_t i, int *rank);
/* True for op types producing or consuming complex numbers or FFTs (DFT, STFT, ...). */
bool kat__op_is_complex(const char *op_type);

/* ---- passes: each sets *changed to the number of sites rewritten ---- */
typedef struct kat__pass_ctx {
  const kat__onnx_rewrite_options *opt;
  kat__sb *log;         /* pass notes for the report */
  unsigned names;       /* counter for fresh names */
  char pinned_dim[128]; /* fixed-memory: the symbolic dim it pinned (for the check) */
} kat__pass_ctx;

int kat__pass_gather_to_split(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb);
int kat__pass_scatternd_to_concat(kat__onnx_model *m, kat__pass_ctx *c, int *changed,
                                  kat__errbuf *eb);
int kat__pass_expose_multimask(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb);
int kat__pass_fixed_memory(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb);
int kat__pass_fp16(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb);
int kat__pass_int8(kat__onnx_model *m, kat__pass_ctx *c, int *changed, kat__errbuf *eb);
/* Symmetric per-output-channel int8 quantization of w [K,N] f32 row-major into q [K,N] and
 * scale [N]: scale[n] = max_k |w[k,n]| / qmax (1 for an all-zero column), q = round-half-even
 * (w / scale) clamped to [-qmax, qmax], qmax = 63 with reduce_range, else 127. */
void kat__int8_quantize_weights(const float *w, int64_t K, int64_t N, bool reduce_range, int8_t *q,
                                float *scale);

/* ---- running models in ONNX Runtime ---- */

#define KAT_ONNX_RUN_MAX_OUT 16
typedef struct kat__onnx_tensor {
  char name[128];
  int32_t elem; /* ONNX element type */
  int rank;
  int64_t dims[KAT_ONNX_MAX_RANK];
  size_t count;
  void *data; /* owned (kat__malloc) */
} kat__onnx_tensor;

typedef struct kat__onnx_run_result {
  int n;
  kat__onnx_tensor out[KAT_ONNX_RUN_MAX_OUT];
} kat__onnx_run_result;

/*
 * Runs the serialized model `bytes` once on the CPU provider with seeded random inputs. Symbolic
 * dims of `decl` (the model's parsed graph, for dim names) take the sizes of `opt`. Float inputs
 * are uniform in [-1, 1); integer inputs uniform in {0, 1}; bool inputs random. Outputs are copied.
 */
int kat__onnx_run(const uint8_t *bytes, size_t size, const kat__onnx_model *decl,
                  const kat__onnx_rewrite_options *opt, kat__onnx_run_result *res, kat__errbuf *eb);
void kat__onnx_run_result_cleanup(kat__onnx_run_result *res);

/* Compares the outputs `a` and `b` have in common by name: max abs difference and the max of
 * |a-b| / (max|a| + 1e-6) over outputs. KAT_ECHECK when a shape or dtype differs or an output of
 * `a` is missing from `b`. */
int kat__onnx_compare(const kat__onnx_run_result *a, const kat__onnx_run_result *b, double *max_abs,
                      double *max_rel, char *worst, size_t worst_size, kat__errbuf *eb);

#endif /* KAT_ONNX_PASSES_H */
