/*
 * ONNX Runtime session wrapper: one session per ONNX module, created with an execution-provider
 * config, with a typed contract check and input/output binding over caller-owned buffers, so a
 * steady-state run allocates nothing in katana's code.
 *
 * Thread-safety: a kat__session (its bindings, IoBinding and timing) is used by one thread at a
 * time. Different sessions may run concurrently on different threads (the process-wide ORT
 * environment is thread-safe). Views (kat__session_view_create) share one ORT session, whose Run
 * is thread-safe, each with its own bindings: several trackers on one loaded model run
 * concurrently through their own views.
 */
#ifndef KAT_RUNTIME_SESSION_H
#define KAT_RUNTIME_SESSION_H

#include <stdint.h>

#include "core/core.h"
#include "katana/runtime.h"

#define KAT_MAX_RANK 8
#define KAT_MAX_IO 16
#define KAT_NAME_MAX 128

/* Element types, numerically equal to ONNXTensorElementDataType for the ones we use. */
typedef enum kat__dtype {
  KAT_DT_UNDEFINED = 0,
  KAT_DT_F32 = 1,
  KAT_DT_U8 = 2,
  KAT_DT_I8 = 3,
  KAT_DT_I32 = 6,
  KAT_DT_I64 = 7,
  KAT_DT_BOOL = 9,
  KAT_DT_F16 = 10
} kat__dtype;

/* Returns the byte size of one element, 0 if unknown; and a name ("float32", ...). */
size_t kat__dtype_size(kat__dtype dt);
const char *kat__dtype_name(kat__dtype dt);
/* Parses "float32", "int64", ... ; KAT_DT_UNDEFINED if unknown. */
kat__dtype kat__dtype_parse(const char *name);

/* A tensor's declared name, dtype and shape; a dim of -1 is symbolic (dynamic). */
typedef struct kat__tensor_spec {
  char name[KAT_NAME_MAX];
  kat__dtype dtype;
  int rank;
  int64_t dims[KAT_MAX_RANK];
} kat__tensor_spec;

/* Which provider runs how many nodes of a session (from ORT's verbose session log). */
typedef struct kat__placement {
  int count;
  char ep[8][48];
  int nodes[8];
  int total_nodes;
  int fell_back; /* 1 when the requested provider was unavailable and CPU ran instead */
} kat__placement;

typedef struct kat__session kat__session;

/*
 * Creates a session for the ONNX file at `path` (or, if `path` is NULL, for `model_data` of
 * `model_size` bytes, which is only borrowed for the call) with the given provider config and
 * fallback rule. `label` names the module in messages ("memory_attention"). On failure returns a
 * negative status with the message in `eb`, and *out stays NULL.
 */
int kat__session_create(const char *path, const void *model_data, size_t model_size,
                        const kat_ep_config *ep, kat_ep_fallback fallback, const char *label,
                        kat__session **out, kat__errbuf *eb);
/*
 * As kat__session_create, with `model_sha256` (64 hex digits, borrowed for the call; may be
 * NULL) the model's verified SHA-256, e.g. from a bundle manifest. A cache key (model identity
 * + options + ORT version) is made only when a cache is used (TensorRT engines, or save_optimized
 * on the CPU); it takes the model identity from `model_sha256` when given, and otherwise hashes
 * the model's bytes. Every configuration that uses ep->cache_dir (those two and CoreML, unless
 * the provider fell back to CPU) creates it and its parents before the session; a folder that
 * cannot be created, or a path part that is not a folder, is KAT_EIO naming the folder and the
 * reason, and an empty cache_dir is KAT_EINVAL.
 */
int kat__session_create_keyed(const char *path, const void *model_data, size_t model_size,
                              const char *model_sha256, const kat_ep_config *ep,
                              kat_ep_fallback fallback, const char *label, kat__session **out,
                              kat__errbuf *eb);
void kat__session_destroy(kat__session *s);

/*
 * Creates a view of `src`: the same ORT session and tensor specs (borrowed: `src` must outlive
 * the view), with its own bindings, IoBinding and run time, so that each user of a shared model
 * binds its own buffers. The view never changes `src`; several views of one session may run at
 * the same time on different threads. *out owns the view (kat__session_destroy frees only the
 * view); on failure *out is NULL.
 */
int kat__session_view_create(const kat__session *src, kat__session **out, kat__errbuf *eb);

/*
 * Total bytes of model files and buffers read to make cache keys since the process started (a
 * process-wide atomic counter, for tests: a session without a cache reads none). Thread-safe.
 */
uint64_t kat__session_bytes_hashed(void);

/* The model's declared inputs and outputs (borrowed, valid for the session's life). */
int kat__session_input_count(const kat__session *s);
int kat__session_output_count(const kat__session *s);
const kat__tensor_spec *kat__session_input(const kat__session *s, int i);
const kat__tensor_spec *kat__session_output(const kat__session *s, int i);
/* Index of the named input/output, or -1. */
int kat__session_input_index(const kat__session *s, const char *name);
int kat__session_output_index(const kat__session *s, const char *name);

/*
 * Checks the model's inputs/outputs against what the caller expects: every expected tensor must
 * exist with the same dtype and rank, and each fixed expected dim must equal the model's dim when
 * that one is fixed. KAT_ECONTRACT with a message naming the tensor otherwise.
 */
int kat__session_check(const kat__session *s, const kat__tensor_spec *inputs, int n_inputs,
                       const kat__tensor_spec *outputs, int n_outputs, kat__errbuf *eb);

/*
 * Binds input/output `i` (model order) to a caller-owned buffer of `shape` (rank dims). The
 * buffer stays owned by the caller and must stay valid until rebound or the session is destroyed.
 * Rebinding with the same pointer and shape is free; a new shape re-creates the small ORT value.
 * An output left unbound is allocated by ORT at each run (avoid in the frame loop).
 */
int kat__session_bind_input(kat__session *s, int i, void *data, const int64_t *shape, int rank,
                            kat__errbuf *eb);
int kat__session_bind_output(kat__session *s, int i, void *data, const int64_t *shape, int rank,
                             kat__errbuf *eb);

/*
 * Switches between Run() over the bound OrtValues (default) and an OrtIoBinding over the same
 * values (RunWithBinding; used only while every output is bound). bench/ measures both.
 */
int kat__session_set_iobinding(kat__session *s, int on, kat__errbuf *eb);

/* Runs the session on the bound inputs into the bound outputs. */
int kat__session_run(kat__session *s, kat__errbuf *eb);

/* After a run: data and shape of output i (bound buffer, or ORT's value for unbound outputs). */
const void *kat__session_output_data(const kat__session *s, int i, int64_t *shape, int *rank);

/* Where the session's nodes run (filled at create). */
const kat__placement *kat__session_placement(const kat__session *s);

/* Milliseconds of the last run. */
double kat__session_last_run_ms(const kat__session *s);

#endif /* KAT_RUNTIME_SESSION_H */
