/*
 * The tracker: one object from a box prompt through a video, SAMURAI or plain SAM 2, over the four
 * ONNX modules of a bundle. Per frame it mirrors sam2_video_predictor.py
 * (`add_new_points_or_box` on the first frame, then `propagate_in_video` /
 * `_run_single_frame_inference`) and sam2_base.py `track_step`:
 *
 *   preprocess (media/resize.h, Pillow-exact)          -> image [1,3,S,S]
 *   image_encoder                                      -> vision_feats [1,C,H,W] (+ high-res)
 *   frame 0: vision_feats + no_mem_embed               (`directly_add_no_mem_embed`)
 *   else:    memory_attention(curr, bank memory)       (`_prepare_memory_conditioned_features`)
 *   mask_decoder(box points | no prompt)               -> 4 masks, 4 IoUs, score, 4 pointers
 *   choice: single mask + stability (frame 0) or 3 candidates (SAMURAI / argmax), gating,
 *           pointer mixing                             (`_forward_sam_heads`, select.c)
 *   memory_encoder(vision_feats, chosen low-res mask)  (`_encode_new_memory`)
 *   membank push (bf16), output box / mask at the source resolution (maskbox.c)
 *
 * Every buffer is allocated at create (model sizes) or at start (frame size); a step allocates
 * nothing in katana's code. ONNX Runtime values are bound over these buffers (runtime/session.h).
 */
#include "katana/tracker.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/validate.h"
#include "media/resize.h"
#include "model/bundle.h"
#include "model/manifest.h"
#include "runtime/session.h"
#include "track/kalman.h"
#include "track/maskbox.h"
#include "track/membank.h"
#include "track/select.h"
#include "track/tracker_internal.h"

enum {
  IE = KAT_MODULE_IMAGE_ENCODER,
  MA = KAT_MODULE_MEMORY_ATTENTION,
  MD = KAT_MODULE_MASK_DECODER,
  ME = KAT_MODULE_MEMORY_ENCODER
};

struct kat_tracker {
  kat_errbuf eb;
  kat_tracker_options opt;
  kat__bundle *bundle;
  const kat__manifest *m; /* borrowed from bundle */
  const kat_tracker_flags *fl;
  kat__session *sess[KAT_MODULE_COUNT];
  /* input / output indices in each session */
  int ie_image, ie_vf, ie_hr0, ie_hr1;
  int ma_curr, ma_mem, ma_pos, ma_nptr, ma_out;
  int md_embed, md_hr0, md_hr1, md_coords, md_labels, md_masks, md_iou, md_score, md_ptr;
  int md_mask, md_has_mask; /* bundle format 2 mask input; -1 on format 1 */
  int me_pix, me_mask, me_pts, me_out;
  /* sizes */
  int S, H, W, HW, C, Cm, L;
  int use_hr;
  int64_t hr0_shape[4], hr1_shape[4];
  /* constants, borrowed from the bundle */
  const float *no_mem_embed;   /* [C] */
  const float *no_obj_ptr;     /* [C] */
  const float *no_obj_spatial; /* [Cm] or NULL */
  /* parameters */
  int samurai;
  kat__samurai_params sp;
  double min_obj;
  /* buffers */
  float *image;      /* [1,3,S,S] f32 NCHW: preprocessed frame */
  float *vision;     /* [1,C,H,W] f32: vision_feats */
  float *hr0, *hr1;  /* high-res features (SAM 2.1) */
  float *embed;      /* [1,C,H,W] f32: image_embed of the mask decoder */
  float *memory;     /* [1,Mmax,Cm] f32 */
  float *memory_pos; /* [1,Mmax,Cm] f32 */
  int64_t n_ptr_tokens;
  float coords[4];   /* [1,N,2] f32 */
  int32_t labels[2]; /* [1,N] i32 */
  float *masks;      /* [1,4,L,L] f32 low-res mask logits */
  float iou[4];      /* [1,4] f32 */
  float score[1];    /* [1,1] f32 */
  float *ptr4;       /* [1,4,C] f32 */
  float *mask_in;    /* [1,1,L,L] f32: chosen gated mask */
  float *md_mask_in; /* [1,1,L,L] f32 zeros: mask_input of a format 2 decoder (no mask prompt) */
  float has_mask[1]; /* [1] f32: has_mask_input, always 0 (the no-mask embedding) */
  float from_pts[1]; /* [1] f32 */
  float *maskmem;    /* [1,Cm,H,W] f32 */
  float *ptr;        /* [C] f32: mixed object pointer */
  kat__membank *bank;
  kat__samurai_state kf;
  kat__lin_axis ay_s, ax_s; /* L -> S */
  kat__lin_axis ay_v, ax_v; /* L -> video */
  kat__resizer *rs;
  int vw, vh;
  uint8_t *mask_out; /* [vh, vw] u8 */
  int64_t frame;
  int started;
  int absent;
  double prompt_box[4]; /* the start frame's box after validation and clipping */
  int prompt_clipped;   /* 1 when that box was clipped to the frame */
};

const char *kat_presence_name(kat_presence p) {
  switch (p) {
    case KAT_PRESENCE_TRACKED: return "tracked";
    case KAT_PRESENCE_OCCLUDED: return "occluded";
    case KAT_PRESENCE_LOST: return "lost";
  }
  return "unknown";
}

int kat_selection_parse(const char *name) {
  if (!name) return -1;
  if (strcmp(name, "samurai") == 0) return KAT_SELECTION_SAMURAI;
  if (strcmp(name, "sam2") == 0) return KAT_SELECTION_SAM2;
  return -1;
}

void kat_tracker_options_init(kat_tracker_options *o) {
  memset(o, 0, sizeof *o);
  o->selection = KAT_SELECTION_SAMURAI;
  o->stable_frames_threshold = -1;
  o->stable_ious_threshold = NAN;
  o->min_obj_score_logits = NAN;
  o->kf_score_weight = NAN;
  o->memory_bank_iou_threshold = NAN;
  o->memory_bank_obj_score_threshold = NAN;
  o->memory_bank_kf_score_threshold = NAN;
  o->lost_after_frames = 30;
  o->want_masks = 0;
  o->box_mode = KAT_BOX_EXACT;
  o->verify_hashes = 1;
  (void)kat_ep_profile_preset("cpu", &o->ep);
}

const char *kat_tracker_last_error(const kat_tracker *t) {
  return t ? t->eb.msg : "";
}

int kat_tracker_image_size(const kat_tracker *t) {
  return t ? t->S : KAT_EINVAL;
}

void kat_tracker_destroy(kat_tracker *t) {
  if (!t) return;
  for (int i = 0; i < KAT_MODULE_COUNT; i++) kat__session_destroy(t->sess[i]);
  kat__bundle_destroy(t->bundle);
  kat__membank_destroy(t->bank);
  kat__resizer_destroy(t->rs);
  kat__lin_axis_cleanup(&t->ay_s);
  kat__lin_axis_cleanup(&t->ax_s);
  kat__lin_axis_cleanup(&t->ay_v);
  kat__lin_axis_cleanup(&t->ax_v);
  kat__free(t->image);
  kat__free(t->vision);
  kat__free(t->hr0);
  kat__free(t->hr1);
  kat__free(t->embed);
  kat__free(t->memory);
  kat__free(t->memory_pos);
  kat__free(t->masks);
  kat__free(t->ptr4);
  kat__free(t->mask_in);
  kat__free(t->md_mask_in);
  kat__free(t->maskmem);
  kat__free(t->ptr);
  kat__free(t->mask_out);
  kat__free(t);
}

static double pick(double opt, double bundle) {
  return isnan(opt) ? bundle : opt;
}

/* Index of a named tensor in a session, KAT_ECONTRACT if missing (optional: -1 allowed). */
static int io_index(kat_tracker *t, int module, int is_input, const char *name, int optional,
                    int *out) {
  *out = is_input ? kat__session_input_index(t->sess[module], name)
                  : kat__session_output_index(t->sess[module], name);
  if (*out < 0 && !optional)
    return kat__fail(&t->eb, KAT_ECONTRACT, "%s: no %s '%s'", kat_module_name((kat_module)module),
                     is_input ? "input" : "output", name);
  return KAT_OK;
}

static float *alloc_f32(size_t n) {
  return kat__calloc(n ? n : 1, sizeof(float));
}

/* A constant of exactly `count` floats, or NULL with an error. */
static const float *constant(kat_tracker *t, const char *name, size_t count, int optional,
                             int *rc) {
  const kat_tensor_spec *spec = NULL;
  const float *p = kat__bundle_constant(t->bundle, name, &spec);
  if (!p) {
    if (!optional) *rc = kat__fail(&t->eb, KAT_EMODEL, "bundle: constant '%s' missing", name);
    return NULL;
  }
  size_t n = 1;
  for (int i = 0; i < spec->rank; i++) n *= (size_t)spec->dims[i];
  if (n != count) {
    *rc = kat__fail(&t->eb, KAT_EMODEL, "bundle: constant '%s' has %zu values, expected %zu", name,
                    n, count);
    return NULL;
  }
  return p;
}

static int bind_in(kat_tracker *t, int module, int i, void *data, const int64_t *shape, int rank) {
  return kat__session_bind_input(t->sess[module], i, data, shape, rank, &t->eb);
}
static int bind_out(kat_tracker *t, int module, int i, void *data, const int64_t *shape, int rank) {
  return kat__session_bind_output(t->sess[module], i, data, shape, rank, &t->eb);
}

/* Binds every tensor whose buffer and shape never change. */
static int bind_fixed(kat_tracker *t) {
  const int64_t img[4] = {1, 3, t->S, t->S}, feat[4] = {1, t->C, t->H, t->W};
  const int64_t masks[4] = {1, 4, t->L, t->L}, iou[2] = {1, 4}, score[2] = {1, 1};
  const int64_t ptr[3] = {1, 4, t->C}, mask1[4] = {1, 1, t->L, t->L}, one[1] = {1};
  const int64_t mm[4] = {1, t->Cm, t->H, t->W};
  const int64_t scalar[1] = {0}; /* rank 0: shape unused */
  int rc;
  if ((rc = bind_in(t, IE, t->ie_image, t->image, img, 4)) ||
      (rc = bind_out(t, IE, t->ie_vf, t->vision, feat, 4)))
    return rc;
  if (t->use_hr && ((rc = bind_out(t, IE, t->ie_hr0, t->hr0, t->hr0_shape, 4)) ||
                    (rc = bind_out(t, IE, t->ie_hr1, t->hr1, t->hr1_shape, 4)) ||
                    (rc = bind_in(t, MD, t->md_hr0, t->hr0, t->hr0_shape, 4)) ||
                    (rc = bind_in(t, MD, t->md_hr1, t->hr1, t->hr1_shape, 4))))
    return rc;
  /* Format 2: mask_input = zeros, has_mask_input = 0, so the decoder uses no_mask_embed exactly
   * as a format 1 decoder does. */
  if (t->md_mask >= 0 && ((rc = bind_in(t, MD, t->md_mask, t->md_mask_in, mask1, 4)) ||
                          (rc = bind_in(t, MD, t->md_has_mask, t->has_mask, one, 1))))
    return rc;
  if ((rc = bind_in(t, MA, t->ma_curr, t->vision, feat, 4)) ||
      (rc = bind_out(t, MA, t->ma_out, t->embed, feat, 4)) ||
      (rc = bind_in(t, MA, t->ma_nptr, &t->n_ptr_tokens, scalar, 0)) ||
      (rc = bind_in(t, MD, t->md_embed, t->embed, feat, 4)) ||
      (rc = bind_out(t, MD, t->md_masks, t->masks, masks, 4)) ||
      (rc = bind_out(t, MD, t->md_iou, t->iou, iou, 2)) ||
      (rc = bind_out(t, MD, t->md_score, t->score, score, 2)) ||
      (rc = bind_out(t, MD, t->md_ptr, t->ptr4, ptr, 3)) ||
      (rc = bind_in(t, ME, t->me_pix, t->vision, feat, 4)) ||
      (rc = bind_in(t, ME, t->me_mask, t->mask_in, mask1, 4)) ||
      (rc = bind_in(t, ME, t->me_pts, t->from_pts, one, 1)) ||
      (rc = bind_out(t, ME, t->me_out, t->maskmem, mm, 4)))
    return rc;
  return KAT_OK;
}

static int setup(kat_tracker *t, const char *dir) {
  int rc;
  kat__bundle_options bo;
  kat__bundle_options_init(&bo);
  bo.verify_hashes = t->opt.verify_hashes != 0;
  if ((rc = kat__bundle_open(dir, &bo, &t->bundle, &t->eb))) return rc;
  const kat__manifest *m = t->m = kat__bundle_manifest(t->bundle);
  t->fl = &m->tracker;
  if (!t->fl->directly_add_no_mem_embed)
    return kat__fail(&t->eb, KAT_ENOTSUP, "tracker: directly_add_no_mem_embed=false unsupported");
  if (!m->modules[MA].dynamic)
    return kat__fail(&t->eb, KAT_ENOTSUP, "tracker: memory_attention must have dynamic M");
  t->S = m->image_size;
  t->H = m->feat_h;
  t->W = m->feat_w;
  t->HW = t->H * t->W;
  t->C = m->hidden_dim;
  t->Cm = m->mem_dim;
  t->L = m->low_res_mask_size;
  t->use_hr = m->use_high_res_features;
  t->samurai = t->opt.selection == KAT_SELECTION_SAMURAI;
  if (!t->samurai && t->fl->memory_temporal_stride_for_eval != 1)
    return kat__fail(&t->eb, KAT_ENOTSUP, "tracker: memory_temporal_stride_for_eval %d != 1",
                     t->fl->memory_temporal_stride_for_eval);
  const kat_samurai_params *ms = &m->samurai;
  t->sp.stable_frames_threshold = t->opt.stable_frames_threshold >= 0
                                      ? t->opt.stable_frames_threshold
                                      : ms->stable_frames_threshold;
  t->sp.stable_ious_threshold = pick(t->opt.stable_ious_threshold, ms->stable_ious_threshold);
  t->sp.kf_score_weight = pick(t->opt.kf_score_weight, ms->kf_score_weight);
  t->min_obj = t->samurai ? pick(t->opt.min_obj_score_logits, ms->min_obj_score_logits) : 0.0;

  /* Sessions. */
  for (int i = 0; i < KAT_MODULE_COUNT; i++)
    if ((rc = kat__bundle_create_session(t->bundle, i, &t->opt.ep.module[i], t->opt.ep.fallback,
                                         &t->sess[i], &t->eb)))
      return rc;
  if ((rc = io_index(t, IE, 1, "image", 0, &t->ie_image)) ||
      (rc = io_index(t, IE, 0, "vision_feats", 0, &t->ie_vf)) ||
      (rc = io_index(t, IE, 0, "high_res_feats_0", !t->use_hr, &t->ie_hr0)) ||
      (rc = io_index(t, IE, 0, "high_res_feats_1", !t->use_hr, &t->ie_hr1)) ||
      (rc = io_index(t, MA, 1, "curr", 0, &t->ma_curr)) ||
      (rc = io_index(t, MA, 1, "memory", 0, &t->ma_mem)) ||
      (rc = io_index(t, MA, 1, "memory_pos", 0, &t->ma_pos)) ||
      (rc = io_index(t, MA, 1, "num_obj_ptr_tokens", 0, &t->ma_nptr)) ||
      (rc = io_index(t, MA, 0, "pix_feat_with_mem", 0, &t->ma_out)) ||
      (rc = io_index(t, MD, 1, "image_embed", 0, &t->md_embed)) ||
      (rc = io_index(t, MD, 1, "high_res_feats_0", !t->use_hr, &t->md_hr0)) ||
      (rc = io_index(t, MD, 1, "high_res_feats_1", !t->use_hr, &t->md_hr1)) ||
      (rc = io_index(t, MD, 1, "point_coords", 0, &t->md_coords)) ||
      (rc = io_index(t, MD, 1, "point_labels", 0, &t->md_labels)) ||
      (rc = io_index(t, MD, 1, "mask_input", !m->mask_decoder_has_mask_input, &t->md_mask)) ||
      (rc = io_index(t, MD, 1, "has_mask_input", !m->mask_decoder_has_mask_input,
                     &t->md_has_mask)) ||
      (rc = io_index(t, MD, 0, "masks", 0, &t->md_masks)) ||
      (rc = io_index(t, MD, 0, "iou_pred", 0, &t->md_iou)) ||
      (rc = io_index(t, MD, 0, "obj_score_logits", 0, &t->md_score)) ||
      (rc = io_index(t, MD, 0, "obj_ptr", 0, &t->md_ptr)) ||
      (rc = io_index(t, ME, 1, "pix_feat", 0, &t->me_pix)) ||
      (rc = io_index(t, ME, 1, "mask_logits", 0, &t->me_mask)) ||
      (rc = io_index(t, ME, 1, "is_mask_from_pts", 0, &t->me_pts)) ||
      (rc = io_index(t, ME, 0, "maskmem_features", 0, &t->me_out)))
    return rc;
  size_t hr0n = 0, hr1n = 0;
  if (t->use_hr) {
    const kat_tensor_spec *a = kat__session_output(t->sess[IE], t->ie_hr0);
    const kat_tensor_spec *b = kat__session_output(t->sess[IE], t->ie_hr1);
    const kat_module_manifest *mie = &m->modules[IE];
    int ia = kat__manifest_output_index(mie, "high_res_feats_0");
    int ib = kat__manifest_output_index(mie, "high_res_feats_1");
    if (ia < 0 || ib < 0 || a->rank != 4 || b->rank != 4)
      return kat__fail(&t->eb, KAT_ECONTRACT, "image_encoder: high-res outputs malformed");
    hr0n = hr1n = 1;
    for (int d = 0; d < 4; d++) {
      t->hr0_shape[d] = mie->outputs[ia].dims[d];
      t->hr1_shape[d] = mie->outputs[ib].dims[d];
      if (t->hr0_shape[d] < 1 || t->hr1_shape[d] < 1)
        return kat__fail(&t->eb, KAT_ECONTRACT, "image_encoder: high-res outputs not fixed");
      hr0n *= (size_t)t->hr0_shape[d];
      hr1n *= (size_t)t->hr1_shape[d];
    }
  }

  /* Constants. */
  rc = KAT_OK;
  t->no_mem_embed = constant(t, "no_mem_embed", (size_t)t->C, 0, &rc);
  t->no_obj_ptr = constant(t, "no_obj_ptr", (size_t)t->C, !t->fl->pred_obj_scores, &rc);
  const float *pos = constant(t, "maskmem_pos_enc", (size_t)t->Cm * t->HW, 0, &rc);
  const float *tpos = constant(t, "maskmem_tpos_enc", (size_t)m->num_maskmem * t->Cm, 0, &rc);
  const float *pw = NULL, *pb = NULL;
  if (t->fl->add_tpos_enc_to_obj_ptrs && t->fl->proj_tpos_enc_in_obj_ptrs) {
    pw = constant(t, "obj_ptr_tpos_proj.weight", (size_t)t->Cm * t->C, 0, &rc);
    pb = constant(t, "obj_ptr_tpos_proj.bias", (size_t)t->Cm, 0, &rc);
  }
  if (t->fl->no_obj_embed_spatial)
    t->no_obj_spatial = constant(t, "no_obj_embed_spatial", (size_t)t->Cm, 0, &rc);
  if (rc) return rc;
  if (t->fl->pred_obj_scores && !t->no_obj_ptr)
    return kat__fail(&t->eb, KAT_EMODEL, "bundle: constant 'no_obj_ptr' missing");

  /* Memory bank. */
  kat__membank_config bc = {0};
  bc.samurai = t->samurai;
  bc.num_maskmem = m->num_maskmem;
  bc.max_obj_ptrs = m->max_obj_ptrs_in_encoder;
  bc.num_frames = t->opt.num_frames;
  bc.iou_threshold = pick(t->opt.memory_bank_iou_threshold, ms->memory_bank_iou_threshold);
  bc.obj_threshold =
      pick(t->opt.memory_bank_obj_score_threshold, ms->memory_bank_obj_score_threshold);
  bc.kf_threshold = pick(t->opt.memory_bank_kf_score_threshold, ms->memory_bank_kf_score_threshold);
  bc.hw = t->HW;
  bc.mem_dim = t->Cm;
  bc.hidden_dim = t->C;
  bc.add_tpos_enc_to_obj_ptrs = t->fl->add_tpos_enc_to_obj_ptrs;
  bc.proj_tpos_enc_in_obj_ptrs = t->fl->proj_tpos_enc_in_obj_ptrs;
  bc.use_signed_tpos_enc_to_obj_ptrs = t->fl->use_signed_tpos_enc_to_obj_ptrs;
  bc.maskmem_pos_enc = pos;
  bc.maskmem_tpos_enc = tpos;
  bc.tpos_proj_w = pw;
  bc.tpos_proj_b = pb;
  if ((rc = kat__membank_create(&bc, &t->bank, &t->eb))) return rc;

  /* Buffers. */
  size_t feat = (size_t)t->C * t->HW, lowres = (size_t)t->L * t->L, maxtok = 0;
  maxtok = kat__membank_max_tokens(t->bank);
  t->image = alloc_f32((size_t)3 * t->S * t->S);
  t->vision = alloc_f32(feat);
  t->embed = alloc_f32(feat);
  t->memory = alloc_f32(maxtok * (size_t)t->Cm);
  t->memory_pos = alloc_f32(maxtok * (size_t)t->Cm);
  t->masks = alloc_f32(4 * lowres);
  t->ptr4 = alloc_f32((size_t)4 * t->C);
  t->mask_in = alloc_f32(lowres);
  if (t->md_mask >= 0) t->md_mask_in = alloc_f32(lowres); /* zeros, never written */
  t->maskmem = alloc_f32((size_t)t->Cm * t->HW);
  t->ptr = alloc_f32((size_t)t->C);
  if (t->use_hr) {
    t->hr0 = alloc_f32(hr0n);
    t->hr1 = alloc_f32(hr1n);
  }
  if (!t->image || !t->vision || !t->embed || !t->memory || !t->memory_pos || !t->masks ||
      !t->ptr4 || !t->mask_in || !t->maskmem || !t->ptr || (t->use_hr && (!t->hr0 || !t->hr1)) ||
      (t->md_mask >= 0 && !t->md_mask_in))
    return kat__fail(&t->eb, KAT_ENOMEM, "tracker: out of memory");
  if ((rc = kat__lin_axis_init(&t->ay_s, t->L, t->S)) ||
      (rc = kat__lin_axis_init(&t->ax_s, t->L, t->S)))
    return kat__fail(&t->eb, rc, "tracker: out of memory");
  return bind_fixed(t);
}

int kat_tracker_create(const char *bundle_dir, const kat_tracker_options *opt, kat_tracker **out,
                       char *err, size_t err_size) {
  if (err && err_size) err[0] = '\0';
  if (!out) {
    if (err && err_size) kat__strlcpy(err, "kat_tracker_create: out is NULL", err_size);
    return KAT_EINVAL;
  }
  *out = NULL;
  if (!bundle_dir) {
    if (err && err_size) kat__strlcpy(err, "kat_tracker_create: no bundle folder", err_size);
    return KAT_EINVAL;
  }
  if (opt) {
    kat_errbuf veb;
    kat__errbuf_clear(&veb);
    int vrc = kat__validate_tracker_options(opt, &veb);
    if (vrc) {
      if (err && err_size) snprintf(err, err_size, "kat_tracker_create: %s", veb.msg);
      return vrc;
    }
  }
  kat_tracker *t = kat__calloc(1, sizeof *t);
  if (!t) {
    if (err && err_size) kat__strlcpy(err, "kat_tracker_create: out of memory", err_size);
    return KAT_ENOMEM;
  }
  if (opt)
    t->opt = *opt;
  else
    kat_tracker_options_init(&t->opt);
  int rc = setup(t, bundle_dir);
  if (rc) {
    if (err && err_size) kat__strlcpy(err, t->eb.msg, err_size);
    kat_tracker_destroy(t);
    return rc;
  }
  *out = t;
  return KAT_OK;
}

/* Candidate boxes for the SAMURAI choice: box of candidate k of the gated masks at S x S. */
typedef struct box_ctx {
  kat_tracker *t;
} box_ctx;

static void candidate_box(void *user, int cand, double xyxy[4]) {
  kat_tracker *t = ((box_ctx *)user)->t;
  const float *plane = t->masks + (size_t)(1 + cand) * t->L * t->L;
  int b[4];
  if (t->opt.box_mode == KAT_BOX_FAST)
    kat__mask_box_fast(plane, t->L, t->L, t->S, t->S, b);
  else
    kat__mask_box_exact(plane, &t->ay_s, &t->ax_s, KAT__BILINEAR_MULTI, b);
  for (int i = 0; i < 4; i++) xyxy[i] = b[i];
}

/* sam2_base.py `_use_multimask`. */
static int use_multimask(const kat_tracker *t, int is_init_cond_frame, int num_pts) {
  const kat_tracker_flags *f = t->fl;
  return f->multimask_output_in_sam && (is_init_cond_frame || f->multimask_output_for_tracking) &&
         f->multimask_min_pt_num <= num_pts && num_pts <= f->multimask_max_pt_num;
}

static int run_module(kat_tracker *t, int module, kat_track_result *res) {
  int rc = kat__session_run(t->sess[module], &t->eb);
  res->timings.module_ms[module] = kat__session_last_run_ms(t->sess[module]);
  return rc;
}

/* Points the bindings that read a frame's features at `f` (free when unchanged). */
static int bind_features(kat_tracker *t, const kat__features *f) {
  const int64_t feat[4] = {1, t->C, t->H, t->W};
  int rc;
  if ((rc = bind_in(t, MA, t->ma_curr, f->vision, feat, 4)) ||
      (rc = bind_in(t, ME, t->me_pix, f->vision, feat, 4)))
    return rc;
  if (t->use_hr && ((rc = bind_in(t, MD, t->md_hr0, f->hr0, t->hr0_shape, 4)) ||
                    (rc = bind_in(t, MD, t->md_hr1, f->hr1, t->hr1_shape, 4))))
    return rc;
  return KAT_OK;
}

size_t kat__tracker_image_floats(const kat_tracker *t) {
  return (size_t)3 * t->S * t->S;
}

void kat__tracker_feature_floats(const kat_tracker *t, size_t *vision, size_t *hr0, size_t *hr1) {
  *vision = (size_t)t->C * t->HW;
  *hr0 = t->use_hr ? (size_t)(t->hr0_shape[1] * t->hr0_shape[2] * t->hr0_shape[3]) : 0;
  *hr1 = t->use_hr ? (size_t)(t->hr1_shape[1] * t->hr1_shape[2] * t->hr1_shape[3]) : 0;
}

int kat__tracker_preprocess(kat_tracker *t, const kat_frame *frame, float *image) {
  if (!t->rs || frame->width != t->vw || frame->height != t->vh)
    return kat__fail(&t->eb, KAT_EINVAL, "tracker: frame is %dx%d, the track's is %dx%d",
                     frame->width, frame->height, t->vw, t->vh);
  if (kat__resizer_run(t->rs, frame, image))
    return kat__fail(&t->eb, KAT_EINVAL, "tracker: %s", kat__resizer_last_error(t->rs));
  return KAT_OK;
}

int kat__tracker_encode(kat_tracker *t, float *image, const kat__features *f, double *ms) {
  const int64_t img[4] = {1, 3, t->S, t->S}, feat[4] = {1, t->C, t->H, t->W};
  int rc;
  if ((rc = bind_in(t, IE, t->ie_image, image, img, 4)) ||
      (rc = bind_out(t, IE, t->ie_vf, f->vision, feat, 4)))
    return rc;
  if (t->use_hr && ((rc = bind_out(t, IE, t->ie_hr0, f->hr0, t->hr0_shape, 4)) ||
                    (rc = bind_out(t, IE, t->ie_hr1, f->hr1, t->hr1_shape, 4))))
    return rc;
  rc = kat__session_run(t->sess[IE], &t->eb);
  if (ms) *ms = kat__session_last_run_ms(t->sess[IE]);
  return rc;
}

static int consume(kat_tracker *t, const kat__features *f, const double *box,
                   kat_track_result *res);

/* One frame; `box` is the prompt (first frame) or NULL. */
static int track_frame(kat_tracker *t, const kat_frame *frame, const double *box,
                       kat_track_result *res) {
  const double t0 = kat__now_ms();
  int rc;
  kat__features own = {t->vision, t->hr0, t->hr1};
  /* Preprocess: Pillow-exact (or fast bilinear) resize + normalisation, [1,3,S,S]. */
  if ((rc = kat__tracker_preprocess(t, frame, t->image))) return rc;
  const double pre = kat__now_ms() - t0;
  double enc = 0;
  if ((rc = kat__tracker_encode(t, t->image, &own, &enc))) return rc;
  if ((rc = consume(t, &own, box, res))) return rc;
  res->timings.preprocess_ms = pre;
  res->timings.module_ms[IE] = enc;
  res->timings.total_ms = kat__now_ms() - t0;
  res->timings.host_ms = res->timings.total_ms - pre - enc - res->timings.module_ms[MA] -
                         res->timings.module_ms[MD] - res->timings.module_ms[ME];
  return KAT_OK;
}

int kat__tracker_consume(kat_tracker *t, const kat__features *f, const double *box,
                         kat_track_result *res) {
  kat__errbuf_clear(&t->eb);
  if (!box && !t->started) return kat__fail(&t->eb, KAT_ESTATE, "tracker: no started track");
  if (box) {
    /* The prompt box against the video's size: clipped (and reported) or refused. */
    int rc = kat__validate_box(box, t->vw, t->vh, "tracker: prompt", t->prompt_box,
                               &t->prompt_clipped, &t->eb);
    if (rc) {
      t->started = 0;
      return rc;
    }
    box = t->prompt_box;
    kat__membank_reset(t->bank);
    memset(&t->kf, 0, sizeof t->kf);
    t->frame = 0;
    t->absent = 0;
    t->started = 0;
  }
  const double t0 = kat__now_ms();
  int rc = consume(t, f, box, res);
  if (rc) {
    t->started = 0;
    return rc;
  }
  t->started = 1;
  res->timings.total_ms = kat__now_ms() - t0;
  res->timings.host_ms = res->timings.total_ms - res->timings.module_ms[MA] -
                         res->timings.module_ms[MD] - res->timings.module_ms[ME];
  return KAT_OK;
}

/* Everything after the image encoder, on the features `f`. */
static int consume(kat_tracker *t, const kat__features *f, const double *box,
                   kat_track_result *res) {
  const int first = box != NULL;
  const size_t plane = (size_t)t->L * t->L;
  int rc;
  memset(res, 0, sizeof *res);
  res->frame_index = t->frame;
  res->source_index = t->frame;
  if ((rc = bind_features(t, f))) return rc;

  /* Image embedding of the mask decoder. */
  int64_t npts;
  if (first) {
    /* `directly_add_no_mem_embed`: vision_feats + no_mem_embed per channel. */
    for (int c = 0; c < t->C; c++) {
      float *dst = t->embed + (size_t)c * t->HW;
      const float *src = f->vision + (size_t)c * t->HW;
      for (int p = 0; p < t->HW; p++) dst[p] = src[p] + t->no_mem_embed[c];
    }
    /* sam2_video_predictor.py add_new_points_or_box: corners / [W,H] * S in float32. */
    const float vw = (float)t->vw, vh = (float)t->vh, s = (float)t->S;
    t->coords[0] = (float)box[0] / vw * s;
    t->coords[1] = (float)box[1] / vh * s;
    t->coords[2] = (float)(box[0] + box[2]) / vw * s;
    t->coords[3] = (float)(box[1] + box[3]) / vh * s;
    t->labels[0] = 2;
    t->labels[1] = 3;
    npts = 2;
  } else {
    int64_t ntok = 0;
    if ((rc = kat__membank_assemble(t->bank, t->frame, t->memory, t->memory_pos, &ntok,
                                    &t->n_ptr_tokens, &t->eb)))
      return rc;
    const int64_t ms[3] = {1, ntok, t->Cm};
    if ((rc = bind_in(t, MA, t->ma_mem, t->memory, ms, 3)) ||
        (rc = bind_in(t, MA, t->ma_pos, t->memory_pos, ms, 3)) || (rc = run_module(t, MA, res)))
      return rc;
    t->coords[0] = t->coords[1] = 0.0f; /* no prompt: one padding point, label -1 */
    t->labels[0] = -1;
    npts = 1;
  }
  const int64_t cs[3] = {1, npts, 2}, ls[2] = {1, npts};
  if ((rc = bind_in(t, MD, t->md_coords, t->coords, cs, 3)) ||
      (rc = bind_in(t, MD, t->md_labels, t->labels, ls, 2)) || (rc = run_module(t, MD, res)))
    return rc;

  /* Choice (sam2_base.py `_forward_sam_heads`). num_pts is 0 without point inputs. */
  const float score = t->score[0];
  const int present = t->fl->pred_obj_scores ? kat__object_present(score, t->min_obj) : 1;
  int chosen, token;
  kat__choice ch;
  memset(&ch, 0, sizeof ch);
  if (use_multimask(t, first, first ? 2 : 0)) {
    for (int k = 1; k < 4; k++) kat__gate_mask(t->masks + (size_t)k * plane, plane, present);
    int k;
    if (t->samurai) {
      box_ctx bc = {t};
      kat__select_samurai(&t->kf, &t->sp, t->iou + 1, candidate_box, &bc, &ch);
      k = ch.cand;
    } else {
      k = kat__argmax_f32(t->iou + 1, 3);
    }
    chosen = 1 + k;
    token = t->fl->use_multimask_token_for_obj_ptr ? chosen : 0;
  } else {
    chosen =
        kat__select_single_mask(t->masks, plane, t->iou, t->fl->dynamic_multimask_via_stability,
                                (float)t->fl->dynamic_multimask_stability_delta,
                                (float)t->fl->dynamic_multimask_stability_thresh);
    kat__gate_mask(t->masks + (size_t)chosen * plane, plane, present);
    token = 0;
  }
  const float *low = t->masks + (size_t)chosen * plane;
  memcpy(t->ptr, t->ptr4 + (size_t)token * t->C, (size_t)t->C * sizeof(float));
  if (t->fl->pred_obj_scores)
    kat__mix_obj_ptr(t->ptr, t->no_obj_ptr, t->C, score, present, 1, t->fl->soft_no_obj_ptr,
                     t->fl->fixed_no_obj_ptr);

  /* Memory (sam2_base.py `_encode_new_memory`; mask preparation is in the graph). */
  memcpy(t->mask_in, low, plane * sizeof(float));
  t->from_pts[0] = first ? 1.0f : 0.0f;
  if ((rc = run_module(t, ME, res))) return rc;
  const float *add = (t->no_obj_spatial && !(score > 0.0f)) ? t->no_obj_spatial : NULL;
  kat__frame_scores sc = {t->iou[chosen], score, ch.has_kf_score, ch.kf_score};
  if ((rc = kat__membank_push(t->bank, t->frame, t->maskmem, add, t->ptr, &sc, &t->eb))) return rc;

  /* Outputs at the source resolution (`_get_orig_video_res_output`, LaSOT box). */
  int b[4];
  int nonempty = t->opt.box_mode == KAT_BOX_FAST
                     ? kat__mask_box_fast(low, t->L, t->L, t->vh, t->vw, b)
                     : kat__mask_box_exact(low, &t->ay_v, &t->ax_v, KAT__BILINEAR_SINGLE, b);
  res->box_valid = nonempty;
  res->box[0] = b[0];
  res->box[1] = b[1];
  res->box[2] = b[2] - b[0];
  res->box[3] = b[3] - b[1];
  if (t->opt.want_masks) {
    kat__mask_render(low, &t->ay_v, &t->ax_v, KAT__BILINEAR_SINGLE, t->mask_out, (size_t)t->vw);
    res->mask = t->mask_out;
    res->mask_width = t->vw;
    res->mask_height = t->vh;
    res->mask_stride = (size_t)t->vw;
  }
  res->object_score = score;
  res->candidate = chosen;
  res->iou_pred = t->iou[chosen];
  res->has_kf_score = ch.has_kf_score;
  res->kf_score = ch.kf_score;
  res->kf_phase = t->samurai && !first ? ch.phase : 0;
  if (first) {
    memcpy(res->prompt_box, box, sizeof res->prompt_box);
    res->prompt_clipped = t->prompt_clipped;
  }
  if (ch.has_kf_box) {
    const double sx = (double)t->vw / t->S, sy = (double)t->vh / t->S;
    res->has_kf_box = 1;
    res->kf_box[0] = ch.kf_box[0] * sx;
    res->kf_box[1] = ch.kf_box[1] * sy;
    res->kf_box[2] = (ch.kf_box[2] - ch.kf_box[0]) * sx;
    res->kf_box[3] = (ch.kf_box[3] - ch.kf_box[1]) * sy;
  }
  /* Presence: see tracker.h. */
  t->absent = present ? 0 : t->absent + 1;
  res->absent_frames = t->absent;
  res->presence = present                                 ? KAT_PRESENCE_TRACKED
                  : t->absent >= t->opt.lost_after_frames ? KAT_PRESENCE_LOST
                                                          : KAT_PRESENCE_OCCLUDED;
  t->frame++;
  return KAT_OK;
}

int kat__tracker_begin_video(kat_tracker *t, int width, int height) {
  int rc;
  if (width < 1 || height < 1)
    return kat__fail(&t->eb, KAT_EINVAL, "tracker: bad frame size %dx%d", width, height);
  if (!t->rs || width != t->vw || height != t->vh) {
    /* Per-video buffers: allocated at start only when the frame size changes. */
    kat__resizer_destroy(t->rs);
    t->rs = NULL;
    kat__lin_axis_cleanup(&t->ay_v);
    kat__lin_axis_cleanup(&t->ax_v);
    kat__free(t->mask_out);
    t->mask_out = NULL;
    t->vw = t->vh = 0;
    float mean[3], std[3];
    for (int i = 0; i < 3; i++) {
      mean[i] = (float)t->m->mean[i];
      std[i] = (float)t->m->std[i];
    }
    if ((rc = kat__resizer_create(width, height, t->S,
                                  t->opt.fast_resize ? KAT__RESIZE_FAST : KAT__RESIZE_EXACT, mean,
                                  std, &t->rs, &t->eb)))
      return rc;
    if ((rc = kat__lin_axis_init(&t->ay_v, t->L, height)) ||
        (rc = kat__lin_axis_init(&t->ax_v, t->L, width)))
      return kat__fail(&t->eb, rc, "tracker: out of memory");
    if (t->opt.want_masks) {
      size_t n;
      if (!kat__size_mul((size_t)width, (size_t)height, &n) || !(t->mask_out = kat__malloc(n)))
        return kat__fail(&t->eb, KAT_ENOMEM, "tracker: out of memory for the mask");
    }
    t->vw = width;
    t->vh = height;
  }
  return KAT_OK;
}

int kat_tracker_start(kat_tracker *t, const kat_frame *frame, const double box[4],
                      kat_track_result *result) {
  int rc;
  if (!t) return KAT_EINVAL;
  kat__errbuf_clear(&t->eb);
  t->started = 0;
  if (!result) return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_start: result is NULL");
  if ((rc = kat__validate_frame(frame, "kat_tracker_start", &t->eb))) return rc;
  /* The box against this frame: clipped (logged, result->prompt_clipped) or refused. */
  if ((rc = kat__validate_box(box, frame->width, frame->height, "kat_tracker_start", t->prompt_box,
                              &t->prompt_clipped, &t->eb)))
    return rc;
  box = t->prompt_box;
  if ((rc = kat__tracker_begin_video(t, frame->width, frame->height))) return rc;
  kat__membank_reset(t->bank);
  memset(&t->kf, 0, sizeof t->kf);
  t->frame = 0;
  t->absent = 0;
  if ((rc = track_frame(t, frame, box, result))) return rc;
  t->started = 1;
  return KAT_OK;
}

int kat_tracker_step(kat_tracker *t, const kat_frame *frame, kat_track_result *result) {
  if (!t) return KAT_EINVAL;
  kat__errbuf_clear(&t->eb);
  if (!t->started) return kat__fail(&t->eb, KAT_ESTATE, "kat_tracker_step: no started track");
  if (!result) return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_step: result is NULL");
  int rc = kat__validate_frame(frame, "kat_tracker_step", &t->eb);
  if (rc) return rc;
  if (frame->width != t->vw || frame->height != t->vh)
    return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_step: frame is %dx%d, the track's is %dx%d",
                     frame->width, frame->height, t->vw, t->vh);
  rc = track_frame(t, frame, NULL, result);
  if (rc) t->started = 0;
  return rc;
}
