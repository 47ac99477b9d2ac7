/*
 * The loaded model behind kat_model (katana/model.h), as the tracker sees it: the bundle and one
 * prototype session per module. The prototypes are never bound or run; each tracker makes its
 * own views of them (runtime/session.h kat__session_view_create).
 *
 * Thread-safety: immutable after kat_model_open; the reference count is atomic.
 */
#ifndef KAT_TRACK_MODEL_INTERNAL_H
#define KAT_TRACK_MODEL_INTERNAL_H

#include <stdatomic.h>

#include "katana/model.h"
#include "model/bundle.h"
#include "runtime/session.h"

struct kat_model {
  atomic_int refs;
  kat_model_options opt;
  kat__bundle *bundle;                   /* owned */
  kat__session *proto[KAT_MODULE_COUNT]; /* owned; only viewed, never bound */
  int mask_input;                        /* the mask decoder has mask_input / has_mask_input */
};

/* Takes one more reference to `m` (a tracker's). */
void kat__model_retain(kat_model *m);

#endif /* KAT_TRACK_MODEL_INTERNAL_H */
