/*
 * kat_model: a bundle opened once with its four module sessions, shared by trackers. The
 * sessions made here are prototypes: trackers bind and run views of them, so the model itself
 * never changes after open and needs no lock (the reference count is atomic).
 */
#include "katana/model.h"

#include <string.h>

#include "core/core.h"
#include "track/model_internal.h"

void kat_model_options_init(kat_model_options *o) {
  memset(o, 0, sizeof *o);
  o->verify_hashes = 1;
  (void)kat_ep_profile_preset("cpu", &o->ep);
}

static void model_free(kat_model *m) {
  for (int i = 0; i < KAT_MODULE_COUNT; i++) kat__session_destroy(m->proto[i]);
  kat__bundle_destroy(m->bundle);
  kat__free(m);
}

void kat__model_retain(kat_model *m) {
  atomic_fetch_add(&m->refs, 1);
}

void kat_model_release(kat_model *m) {
  if (!m) return;
  if (atomic_fetch_sub(&m->refs, 1) == 1) model_free(m);
}

int kat_model_open(const char *bundle_dir, const kat_model_options *o, kat_model **out, char *err,
                   size_t err_size) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  if (err && err_size) err[0] = '\0';
  if (!out || !bundle_dir) {
    if (err && err_size) kat__strlcpy(err, "kat_model_open: missing argument", err_size);
    return KAT_EINVAL;
  }
  *out = NULL;
  kat_model *m = kat__calloc(1, sizeof *m);
  if (!m) {
    if (err && err_size) kat__strlcpy(err, "kat_model_open: out of memory", err_size);
    return KAT_ENOMEM;
  }
  atomic_init(&m->refs, 1);
  if (o)
    m->opt = *o;
  else
    kat_model_options_init(&m->opt);
  kat__bundle_options bo;
  kat__bundle_options_init(&bo);
  bo.verify_hashes = m->opt.verify_hashes != 0;
  int rc = kat__bundle_open(bundle_dir, &bo, &m->bundle, &eb);
  for (int i = 0; !rc && i < KAT_MODULE_COUNT; i++)
    rc = kat__bundle_create_session(m->bundle, i, &m->opt.ep.module[i], m->opt.ep.fallback,
                                    &m->proto[i], &eb);
  if (rc) {
    if (err && err_size) kat__strlcpy(err, eb.msg, err_size);
    model_free(m);
    return rc;
  }
  const kat__session *md = m->proto[KAT_MODULE_MASK_DECODER];
  m->mask_input = kat__session_input_index(md, "mask_input") >= 0 &&
                  kat__session_input_index(md, "has_mask_input") >= 0 &&
                  kat__bundle_constant(m->bundle, "mask_downsample.weight", NULL) != NULL;
  *out = m;
  return KAT_OK;
}

int kat_model_image_size(const kat_model *m) {
  return m ? kat__bundle_manifest(m->bundle)->image_size : KAT_EINVAL;
}

int kat_model_supports_mask_input(const kat_model *m) {
  return m ? m->mask_input : 0;
}

const char *kat_model_provider(const kat_model *m, kat_module module, int *fell_back) {
  if (!m || (int)module < 0 || module >= KAT_MODULE_COUNT) return NULL;
  const kat__placement *p = kat__session_placement(m->proto[module]);
  if (fell_back) *fell_back = p->fell_back;
  int best = -1;
  for (int i = 0; i < p->count; i++)
    if (best < 0 || p->nodes[i] > p->nodes[best]) best = i;
  return best >= 0 ? p->ep[best] : "CPUExecutionProvider";
}
