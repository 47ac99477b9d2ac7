/*
 * A model bundle opened from its folder (docs/bundle-format.md): the validated manifest, the
 * verified module files and the constants, plus helpers that create a module's ONNX Runtime
 * session and check it against the manifest.
 *
 * Opening checks, in order: the manifest (see model/manifest.h), that every module file and
 * constants.bin exist (KAT_ENOENT naming the file) as regular files (KAT_EFORMAT for a FIFO or a
 * device such as a symlink to /dev/zero) of at most KAT__BUNDLE_FILE_MAX = 4 GiB (KAT_ERANGE),
 * their SHA-256 against the manifest (KAT_EMODEL naming the file and both digests; skipped when
 * verify_hashes is false), constants.bin's size against the entries (KAT_EMODEL naming the entry
 * that runs past the end, or the trailing bytes), and that every constant is finite (KAT_EMODEL
 * naming the constant and the index of the first NaN or infinity).
 * Sessions are not created at open time; kat__bundle_create_session does it per module.
 *
 * Ownership: the bundle owns its manifest and constants; pointers returned by the getters are
 * borrowed and valid until kat__bundle_destroy. Thread-safety: after open, a bundle is immutable
 * and may be read from several threads at once.
 */
#ifndef KAT_MODEL_BUNDLE_H
#define KAT_MODEL_BUNDLE_H

#include <stdbool.h>

#include "core/core.h"
#include "model/manifest.h"
#include "runtime/session.h"

typedef struct kat__bundle_options {
  bool verify_hashes; /* SHA-256 of every file against the manifest (default true) */
} kat__bundle_options;

/* Fills the defaults. */
void kat__bundle_options_init(kat__bundle_options *o);

typedef struct kat__bundle kat__bundle;

/*
 * Opens the bundle in folder `dir` (copied). `options` may be NULL for the defaults. On success
 * *out owns the bundle (kat__bundle_destroy); on failure returns a negative status with the
 * message in `eb`, nothing is left allocated and *out is NULL.
 */
int kat__bundle_open(const char *dir, const kat__bundle_options *options, kat__bundle **out,
                     kat__errbuf *eb);
/* Frees the bundle; NULL is a no-op. Sessions created from it are independent of it. */
void kat__bundle_destroy(kat__bundle *b);

/* The validated manifest (borrowed). */
const kat__manifest *kat__bundle_manifest(const kat__bundle *b);
/* The folder as given to open. */
const char *kat__bundle_dir(const kat__bundle *b);
/* Whether module slot `module` (kat_module, or KAT_MODULE_MEMORY_ATTENTION_FIXED) is present. */
bool kat__bundle_has_module(const kat__bundle *b, int module);
/* Full path of the module's ONNX file (borrowed), or NULL when the slot is absent. */
const char *kat__bundle_module_path(const kat__bundle *b, int module);

/*
 * The named constant as host-endian float32 (borrowed), with its entry's spec (name, KAT_DT_F32,
 * shape) in *spec when spec is not NULL. NULL (and *spec NULL) when there is no such constant.
 * E.g. kat__bundle_constant(b, "no_mem_embed", &spec) -> [1,1,C] f32.
 */
const float *kat__bundle_constant(const kat__bundle *b, const char *name,
                                  const kat__tensor_spec **spec);

/*
 * Checks a session created from module `module`'s file against the manifest, both ways:
 * every manifest input/output must exist in the model with the same dtype, rank and fixed dims
 * (kat__session_check); every model input must be listed in the manifest (the host feeds only
 * those); and a dim the manifest declares symbolic must be symbolic in the model too.
 * KAT_ECONTRACT with a message naming the module and tensor otherwise.
 */
int kat__bundle_check_session(const kat__bundle *b, int module, const kat__session *s,
                              kat__errbuf *eb);

/*
 * Creates the session of module `module` from its file (kat__session_create with `ep` and
 * `fallback`) and checks it with kat__bundle_check_session. On failure *out is NULL and the
 * message names the module and file (e.g. a truncated ONNX file gives ONNX Runtime's error).
 */
int kat__bundle_create_session(const kat__bundle *b, int module, const kat_ep_config *ep,
                               kat_ep_fallback fallback, kat__session **out, kat__errbuf *eb);

#endif /* KAT_MODEL_BUNDLE_H */
