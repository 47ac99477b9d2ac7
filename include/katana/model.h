/*
 * A loaded model: a bundle (docs/bundle-format.md) opened once, with its manifest, constants and
 * the four ONNX Runtime module sessions, shared by any number of trackers on any threads.
 *
 * Use: kat_model_options_init, kat_model_open(bundle folder), then kat_tracker_create_on_model
 * for each tracker (katana/tracker.h), and kat_model_release when the caller no longer needs its
 * handle.
 *
 * Lifetime: a model is reference counted. kat_model_open returns one reference owned by the
 * caller; each tracker created on the model holds another, dropped by kat_tracker_destroy. The
 * model is freed when the last reference goes, so the caller may release its handle while its
 * trackers still run.
 *
 * Thread-safety: a model is immutable after open. Every function here may be called from any
 * thread at any time, and trackers on one model may run concurrently on different threads (ORT
 * sessions allow concurrent Run; each tracker binds its own buffers).
 */
#ifndef KATANA_MODEL_H
#define KATANA_MODEL_H

#include <stddef.h>

#include "katana/common.h"
#include "katana/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kat_model kat_model;

typedef struct kat_model_options {
  int verify_hashes; /* 1: check the bundle files' SHA-256 at open (default 1) */
  kat_ep_profile ep; /* execution providers; default the "cpu" preset */
} kat_model_options;

/* Fills `o` with the defaults above. */
KAT_API void kat_model_options_init(kat_model_options *o);

/*
 * Opens the bundle folder `bundle_dir` and creates the four module sessions with o->ep (`o` may
 * be NULL for the defaults). On success *out holds one reference to a new model. On failure
 * returns a negative status, *out is NULL, nothing stays allocated, and a message is written to
 * `err` (`err_size` bytes, may be NULL/0). Statuses as kat_tracker_create's for the bundle.
 */
KAT_API int kat_model_open(const char *bundle_dir, const kat_model_options *o, kat_model **out,
                           char *err, size_t err_size);

/* Drops the caller's reference (see Lifetime above); NULL is a no-op. */
KAT_API void kat_model_release(kat_model *m);

/* The model's input size S (frames are resized to S x S); KAT_EINVAL (negative) when m is NULL. */
KAT_API int kat_model_image_size(const kat_model *m);

/* 1 when the mask decoder takes a mask input (bundle format 2: mask prompts and corrections),
 * 0 otherwise (format 1) or when m is NULL. */
KAT_API int kat_model_supports_mask_input(const kat_model *m);

/* The execution provider that runs most nodes of `module` (an ORT name such as
 * "CPUExecutionProvider", owned by the model), and in *fell_back (may be NULL) 1 when the requested
 * provider was unavailable and CPU ran instead. NULL on a NULL model or an unknown module. */
KAT_API const char *kat_model_provider(const kat_model *m, kat_module module, int *fell_back);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_MODEL_H */
