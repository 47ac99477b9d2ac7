/*
 * The tracker: 0..N objects through a video, SAMURAI or plain SAM 2, over the four ONNX modules
 * of a shared model (track/model.c). Per frame it mirrors sam2_video_predictor.py
 * (`add_new_points_or_box`, `add_new_mask`, `propagate_in_video` /
 * `_run_single_frame_inference`) and sam2_base.py `track_step`, with the reference
 * tools/reference/katana_reference/multi.py `MultiTracker.step` for prompts and objects:
 *
 *   preprocess (media/resize.h, Pillow-exact)          -> image [1,3,S,S]
 *   image_encoder, once per frame                      -> vision_feats [1,C,H,W] (+ high-res)
 *   per object, one after another (the modules have batch 1):
 *     started: memory_attention(curr, its bank memory) (`_prepare_memory_conditioned_features`)
 *              mask_decoder(no prompt)                 -> 4 masks, 4 IoUs, score, 4 pointers
 *     each prompt of the frame: Kalman reset, then
 *       first frame:  vision_feats + no_mem_embed      (`directly_add_no_mem_embed`)
 *       correction:   the memory-conditioned features above, the low-res logits as mask input
 *       mask_decoder(box corners 2/3 + points 1/0)     (`_forward_sam_heads`)
 *     choice: single mask + stability (2+ points) or 3 candidates (SAMURAI / argmax), gating,
 *             pointer mixing                           (select.c)
 *     memory_encoder(vision_feats, chosen low-res mask), is_mask_from_pts on prompted frames
 *     membank push (bf16; a prompted frame is a conditioning frame), box / mask (maskbox.c)
 *
 * Every buffer is allocated at create (model sizes), at reset (frame size) or when an object
 * starts; a frame without a new object allocates nothing in katana's code. ONNX Runtime values
 * are bound over these buffers (runtime/session.h); the per-object module inputs are copied into
 * shared scratch buffers bound once, so K objects rebind nothing but the memory length.
 *
 * DESIGN (threads): tracking runs on one thread at a time. Prompts and removals may be queued
 * from other threads (the stream's user thread) while a frame is tracked: the queue, the frame
 * counter that closes frames for prompts, the list of object ids and each object's count of
 * conditioning frames are guarded by `mu`. kat__tracker_consume takes `mu` once per frame to
 * take that frame's events and once more only on frames whose object set changed.
 */
#include "katana/tracker.h"

#include <math.h>
#include <pthread.h>
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
#include "track/model_internal.h"
#include "track/select.h"
#include "track/tracker_internal.h"

enum {
  IE = KAT_MODULE_IMAGE_ENCODER,
  MA = KAT_MODULE_MEMORY_ATTENTION,
  MD = KAT_MODULE_MASK_DECODER,
  ME = KAT_MODULE_MEMORY_ENCODER
};

/* Waiting prompts and removals per tracker, and points per frame of one object (box + appends). */
#define KAT__MAX_PENDING 256
#define KAT__MAX_FRAME_POINTS 64

enum { EV_PROMPT = 0, EV_REMOVE = 1 };

/* One queued event: a prompt or a removal of `obj_id` on `frame`. */
typedef struct kat__event {
  int kind;
  int64_t frame;
  int obj_id;
  int has_box;
  double box[4]; /* x, y, w, h source pixels (clipped once the size is known) */
  int clipped;
  int n_points;
  double points[KAT_MAX_PROMPT_POINTS][2];
  int labels[KAT_MAX_PROMPT_POINTS];
  int append;
  uint8_t *mask; /* owned: [mh, mw] u8 0/1, or NULL */
  int mw, mh;
} kat__event;

/* One object's state (multi.py ObjectState). */
typedef struct kat__object {
  int id;
  int started;
  kat__membank *bank;    /* owned */
  kat__samurai_state kf; /* SAMURAI's Kalman filter and stable counter */
  int absent;            /* consecutive absent frames */
  int n_cond;            /* conditioning frames, mirrored under `mu` for kat_tracker_add_prompt */
  float *low;            /* [L,L] f32: this frame's chosen low-res logits (gated) */
  uint8_t *mask_out;     /* [mask_h, mask_w] u8, or NULL without want_masks */
  int mask_w, mask_h;
  float pts[KAT__MAX_FRAME_POINTS][2]; /* this frame's point inputs (S pixels) */
  int32_t labels[KAT__MAX_FRAME_POINTS];
  int n_pts;
} kat__object;

struct kat_tracker {
  /* Error buffers, one per pipeline stage so that stages on different threads never share one:
   * `eb_pre` is written only by stage 1 (kat__tracker_begin_video, kat__tracker_preprocess),
   * `eb_enc` only by stage 2 (kat__tracker_encode), `eb` by stage 3 and the public calls. The
   * public calls copy a stage's message into `eb` when that stage fails on their thread.
   * `eb_q` is written by the queueing calls under `mu` and copied into `eb`. */
  kat__errbuf eb;
  kat__errbuf eb_pre;
  kat__errbuf eb_enc;
  kat_tracker_options opt;
  kat_model *model;       /* one reference held */
  kat__bundle *bundle;    /* borrowed from the model */
  const kat__manifest *m; /* borrowed from bundle */
  const kat__tracker_flags *fl;
  kat__session *sess[KAT_MODULE_COUNT]; /* owned views of the model's sessions */
  /* input / output indices in each session */
  int ie_image, ie_vf, ie_hr0, ie_hr1;
  int ma_curr, ma_mem, ma_pos, ma_nptr, ma_out;
  int md_embed, md_hr0, md_hr1, md_coords, md_labels, md_masks, md_iou, md_score, md_ptr;
  int md_mask_in, md_has_mask;
  int me_pix, me_mask, me_pts, me_out;
  int mask_input; /* the mask decoder takes mask_input / has_mask_input (format 2) */
  /* sizes */
  int S, H, W, HW, C, Cm, L;
  int use_hr;
  int64_t hr0_shape[4], hr1_shape[4];
  /* constants, borrowed from the bundle */
  const float *no_mem_embed;   /* [C] */
  const float *no_obj_ptr;     /* [C] */
  const float *no_obj_spatial; /* [Cm] or NULL */
  const float *ds_w, *ds_b;    /* mask_downsample [1,1,4,4], [1] (format 2) */
  /* parameters */
  int samurai;
  kat__samurai_choice_params sp;
  double min_obj;
  kat__membank_config bc; /* every object's bank */
  /* buffers, shared by the objects (one object runs at a time) */
  float *image;      /* [1,3,S,S] f32 NCHW: preprocessed frame */
  float *vision;     /* [1,C,H,W] f32: vision_feats */
  float *hr0, *hr1;  /* high-res features (SAM 2.1) */
  float *embed;      /* [1,C,H,W] f32: image_embed of the mask decoder */
  float *memory;     /* [1,Mmax,Cm] f32 */
  float *memory_pos; /* [1,Mmax,Cm] f32 */
  int64_t n_ptr_tokens;
  float coords[KAT__MAX_FRAME_POINTS * 2]; /* [1,N,2] f32 */
  int32_t labels[KAT__MAX_FRAME_POINTS];   /* [1,N] i32 */
  float *md_mask;                          /* [1,1,L,L] f32: the decoder's mask input */
  float has_mask[1];                       /* [1] f32: 1 when md_mask is used */
  float *masks;                            /* [1,4,L,L] f32 low-res mask logits */
  float iou[4];                            /* [1,4] f32 */
  float score[1];                          /* [1,1] f32 */
  float *ptr4;                             /* [1,4,C] f32 */
  float *mask_in;                          /* [1,1,L,L] f32: chosen gated mask */
  float from_pts[1];                       /* [1] f32 */
  float *maskmem;                          /* [1,Cm,H,W] f32 */
  float *ptr;                              /* [C] f32: mixed object pointer */
  kat__lin_axis ay_s, ax_s;                /* L -> S */
  kat__lin_axis ay_v, ax_v;                /* L -> video */
  kat__lin_axis ay_m, ax_m; /* L -> the output mask size (mask_width x mask_height) */
  kat__resizer *rs;
  int vw, vh;
  int mw, mh; /* output mask size */
  /* objects, in the order they were added; only the tracking thread changes the array, under
   * `mu` (kat_tracker_add_prompt reads the ids under `mu`) */
  kat__object **objs; /* [max_objects] owned */
  int n_objs;
  kat__object **work; /* [max_objects] scratch: a frame's objects */
  /* queued events, in the order given (guarded by `mu`) */
  pthread_mutex_t mu;
  kat__event *pend; /* [KAT__MAX_PENDING] */
  int n_pend;
  kat__event *now; /* [KAT__MAX_PENDING] scratch: this frame's events, taken under `mu` */
  int n_now;
  int64_t closed; /* frames <= closed have reached the tracker (guarded by `mu`) */
  int qw, qh;     /* video size for prompt checks (guarded by `mu`; 0 until known) */
  int video_open; /* prompts may be queued (after reset / start / a stream's open) */
  int64_t frame;  /* the next frame to track */
  int started;    /* the video is being tracked (no failure since reset/start) */
  /* The status of the step that ended the track (0 if none) and the frame it failed on: later
   * steps report it with KAT_ESTATE until the next kat_tracker_start. */
  int failed_status;
  int64_t failed_frame;
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
  o->max_objects = 16;
  o->max_cond_frames = 8;
}

void kat_prompt_init(kat_prompt *p) {
  if (p) memset(p, 0, sizeof *p);
}

const char *kat_tracker_last_error(const kat_tracker *t) {
  return t ? t->eb.msg : "";
}

int kat_tracker_image_size(const kat_tracker *t) {
  return t ? t->S : KAT_EINVAL;
}

kat_model *kat_tracker_model(const kat_tracker *t) {
  return t ? t->model : NULL;
}

static void object_destroy(kat__object *o) {
  if (!o) return;
  kat__membank_destroy(o->bank);
  kat__free(o->low);
  kat__free(o->mask_out);
  kat__free(o);
}

/* Frees every queued event's mask; the caller holds `mu` or is the only thread. */
static void clear_events(kat_tracker *t) {
  for (int i = 0; i < t->n_pend; i++) kat__free(t->pend[i].mask);
  t->n_pend = 0;
  for (int i = 0; i < t->n_now; i++) kat__free(t->now[i].mask);
  t->n_now = 0;
}

void kat_tracker_destroy(kat_tracker *t) {
  if (!t) return;
  for (int i = 0; i < KAT_MODULE_COUNT; i++) kat__session_destroy(t->sess[i]);
  if (t->pend && t->now) clear_events(t);
  if (t->objs)
    for (int i = 0; i < t->n_objs; i++) object_destroy(t->objs[i]);
  kat__free(t->objs);
  kat__free(t->work);
  kat__free(t->pend);
  kat__free(t->now);
  kat__resizer_destroy(t->rs);
  kat__lin_axis_cleanup(&t->ay_s);
  kat__lin_axis_cleanup(&t->ax_s);
  kat__lin_axis_cleanup(&t->ay_v);
  kat__lin_axis_cleanup(&t->ax_v);
  kat__lin_axis_cleanup(&t->ay_m);
  kat__lin_axis_cleanup(&t->ax_m);
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
  kat__free(t->maskmem);
  kat__free(t->ptr);
  kat__free(t->md_mask);
  pthread_mutex_destroy(&t->mu);
  kat_model_release(t->model);
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
  const kat__tensor_spec *spec = NULL;
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
static int bind_out_eb(kat_tracker *t, int module, int i, void *data, const int64_t *shape,
                       int rank, kat__errbuf *eb) {
  return kat__session_bind_output(t->sess[module], i, data, shape, rank, eb);
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
  if (t->mask_input && ((rc = bind_in(t, MD, t->md_mask_in, t->md_mask, mask1, 4)) ||
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

static int setup(kat_tracker *t) {
  int rc;
  t->bundle = t->model->bundle;
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
  const kat__samurai_defaults *ms = &m->samurai;
  t->sp.stable_frames_threshold = t->opt.stable_frames_threshold >= 0
                                      ? t->opt.stable_frames_threshold
                                      : ms->stable_frames_threshold;
  t->sp.stable_ious_threshold = pick(t->opt.stable_ious_threshold, ms->stable_ious_threshold);
  t->sp.kf_score_weight = pick(t->opt.kf_score_weight, ms->kf_score_weight);
  t->min_obj = t->samurai ? pick(t->opt.min_obj_score_logits, ms->min_obj_score_logits) : 0.0;

  /* Sessions: this tracker's views of the model's sessions (its own bindings). */
  for (int i = 0; i < KAT_MODULE_COUNT; i++)
    if ((rc = kat__session_view_create(t->model->proto[i], &t->sess[i], &t->eb))) return rc;
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
      (rc = io_index(t, MD, 0, "masks", 0, &t->md_masks)) ||
      (rc = io_index(t, MD, 0, "iou_pred", 0, &t->md_iou)) ||
      (rc = io_index(t, MD, 0, "obj_score_logits", 0, &t->md_score)) ||
      (rc = io_index(t, MD, 0, "obj_ptr", 0, &t->md_ptr)) ||
      (rc = io_index(t, ME, 1, "pix_feat", 0, &t->me_pix)) ||
      (rc = io_index(t, ME, 1, "mask_logits", 0, &t->me_mask)) ||
      (rc = io_index(t, ME, 1, "is_mask_from_pts", 0, &t->me_pts)) ||
      (rc = io_index(t, ME, 0, "maskmem_features", 0, &t->me_out)) ||
      (rc = io_index(t, MD, 1, "mask_input", 1, &t->md_mask_in)) ||
      (rc = io_index(t, MD, 1, "has_mask_input", 1, &t->md_has_mask)))
    return rc;
  t->mask_input = t->model->mask_input && t->md_mask_in >= 0 && t->md_has_mask >= 0;
  size_t hr0n = 0, hr1n = 0;
  if (t->use_hr) {
    const kat__tensor_spec *a = kat__session_output(t->sess[IE], t->ie_hr0);
    const kat__tensor_spec *b = kat__session_output(t->sess[IE], t->ie_hr1);
    const kat__module_manifest *mie = &m->modules[IE];
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
  if (t->mask_input) {
    t->ds_w = constant(t, "mask_downsample.weight", 16, 0, &rc);
    t->ds_b = constant(t, "mask_downsample.bias", 1, 0, &rc);
    if (rc) return rc;
  }

  /* Memory bank: the configuration of every object's bank; one bank sizes the buffers. */
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
  bc.max_cond = t->opt.max_cond_frames;
  t->bc = bc;
  kat__membank *sizing = NULL;
  if ((rc = kat__membank_create(&bc, &sizing, &t->eb))) return rc;
  size_t maxtok = kat__membank_max_tokens(sizing);
  kat__membank_destroy(sizing);

  /* Buffers. */
  size_t feat = (size_t)t->C * t->HW, lowres = (size_t)t->L * t->L;
  t->image = alloc_f32((size_t)3 * t->S * t->S);
  t->vision = alloc_f32(feat);
  t->embed = alloc_f32(feat);
  t->memory = alloc_f32(maxtok * (size_t)t->Cm);
  t->memory_pos = alloc_f32(maxtok * (size_t)t->Cm);
  t->masks = alloc_f32(4 * lowres);
  t->ptr4 = alloc_f32((size_t)4 * t->C);
  t->mask_in = alloc_f32(lowres);
  t->maskmem = alloc_f32((size_t)t->Cm * t->HW);
  t->ptr = alloc_f32((size_t)t->C);
  t->md_mask = alloc_f32(lowres);
  t->objs = kat__calloc((size_t)t->opt.max_objects, sizeof *t->objs);
  t->work = kat__calloc((size_t)t->opt.max_objects, sizeof *t->work);
  t->pend = kat__calloc(KAT__MAX_PENDING, sizeof *t->pend);
  t->now = kat__calloc(KAT__MAX_PENDING, sizeof *t->now);
  if (t->use_hr) {
    t->hr0 = alloc_f32(hr0n);
    t->hr1 = alloc_f32(hr1n);
  }
  if (!t->image || !t->vision || !t->embed || !t->memory || !t->memory_pos || !t->masks ||
      !t->ptr4 || !t->mask_in || !t->maskmem || !t->ptr || (t->use_hr && (!t->hr0 || !t->hr1)) ||
      !t->md_mask || !t->objs || !t->work || !t->pend || !t->now)
    return kat__fail(&t->eb, KAT_ENOMEM, "tracker: out of memory");
  if ((rc = kat__lin_axis_init(&t->ay_s, t->L, t->S)) ||
      (rc = kat__lin_axis_init(&t->ax_s, t->L, t->S)))
    return kat__fail(&t->eb, rc, "tracker: out of memory");
  return bind_fixed(t);
}

static void copy_err(char *err, size_t err_size, const char *msg) {
  if (err && err_size) kat__strlcpy(err, msg, err_size);
}

int kat_tracker_create_on_model(kat_model *model, const kat_tracker_options *opt, kat_tracker **out,
                                char *err, size_t err_size) {
  if (err && err_size) err[0] = '\0';
  if (!out) {
    copy_err(err, err_size, "kat_tracker_create: out is NULL");
    return KAT_EINVAL;
  }
  *out = NULL;
  if (!model) {
    copy_err(err, err_size, "kat_tracker_create_on_model: model is NULL");
    return KAT_EINVAL;
  }
  if (opt) {
    kat__errbuf veb;
    kat__errbuf_clear(&veb);
    int vrc = kat__validate_tracker_options(opt, &veb);
    if (vrc) {
      if (err && err_size) snprintf(err, err_size, "kat_tracker_create: %s", veb.msg);
      return vrc;
    }
  }
  kat_tracker *t = kat__calloc(1, sizeof *t);
  if (!t) {
    copy_err(err, err_size, "kat_tracker_create: out of memory");
    return KAT_ENOMEM;
  }
  pthread_mutex_init(&t->mu, NULL);
  kat__model_retain(model);
  t->model = model;
  t->closed = -1;
  if (opt)
    t->opt = *opt;
  else
    kat_tracker_options_init(&t->opt);
  int rc = setup(t);
  if (rc) {
    copy_err(err, err_size, t->eb.msg);
    kat_tracker_destroy(t);
    return rc;
  }
  *out = t;
  return KAT_OK;
}

int kat_tracker_create(const char *bundle_dir, const kat_tracker_options *opt, kat_tracker **out,
                       char *err, size_t err_size) {
  if (err && err_size) err[0] = '\0';
  if (!out) {
    copy_err(err, err_size, "kat_tracker_create: out is NULL");
    return KAT_EINVAL;
  }
  *out = NULL;
  if (!bundle_dir) {
    copy_err(err, err_size, "kat_tracker_create: no bundle folder");
    return KAT_EINVAL;
  }
  if (opt) {
    kat__errbuf veb;
    kat__errbuf_clear(&veb);
    int vrc = kat__validate_tracker_options(opt, &veb);
    if (vrc) {
      if (err && err_size) snprintf(err, err_size, "kat_tracker_create: %s", veb.msg);
      return vrc;
    }
  }
  kat_model_options mo;
  kat_model_options_init(&mo);
  if (opt) {
    mo.verify_hashes = opt->verify_hashes;
    mo.ep = opt->ep;
  }
  kat_model *m = NULL;
  int rc = kat_model_open(bundle_dir, &mo, &m, err, err_size);
  if (rc) return rc;
  rc = kat_tracker_create_on_model(m, opt, out, err, err_size);
  kat_model_release(m); /* the tracker holds the model now (or nothing on failure) */
  return rc;
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
  const kat__tracker_flags *f = t->fl;
  return f->multimask_output_in_sam && (is_init_cond_frame || f->multimask_output_for_tracking) &&
         f->multimask_min_pt_num <= num_pts && num_pts <= f->multimask_max_pt_num;
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
  kat__errbuf_clear(&t->eb_pre);
  if (!t->rs || frame->width != t->vw || frame->height != t->vh)
    return kat__fail(&t->eb_pre, KAT_EINVAL, "tracker: frame is %dx%d, the track's is %dx%d",
                     frame->width, frame->height, t->vw, t->vh);
  if (kat__resizer_run(t->rs, frame, image))
    return kat__fail(&t->eb_pre, KAT_EINVAL, "tracker: %s", kat__resizer_last_error(t->rs));
  return KAT_OK;
}

const char *kat__tracker_preprocess_error(const kat_tracker *t) {
  return t->eb_pre.msg;
}

const char *kat__tracker_encode_error(const kat_tracker *t) {
  return t->eb_enc.msg;
}

int kat__tracker_encode(kat_tracker *t, float *image, const kat__features *f, double *ms) {
  const int64_t img[4] = {1, 3, t->S, t->S}, feat[4] = {1, t->C, t->H, t->W};
  kat__errbuf *eb = &t->eb_enc;
  int rc;
  kat__errbuf_clear(eb);
  if ((rc = kat__session_bind_input(t->sess[IE], t->ie_image, image, img, 4, eb)) ||
      (rc = bind_out_eb(t, IE, t->ie_vf, f->vision, feat, 4, eb)))
    return rc;
  if (t->use_hr && ((rc = bind_out_eb(t, IE, t->ie_hr0, f->hr0, t->hr0_shape, 4, eb)) ||
                    (rc = bind_out_eb(t, IE, t->ie_hr1, f->hr1, t->hr1_shape, 4, eb))))
    return rc;
  rc = kat__session_run(t->sess[IE], eb);
  if (ms) *ms = kat__session_last_run_ms(t->sess[IE]);
  return rc;
}

static int run_module(kat_tracker *t, int module, kat_track_result *res) {
  int rc = kat__session_run(t->sess[module], &t->eb);
  res->timings.module_ms[module] += kat__session_last_run_ms(t->sess[module]);
  return rc;
}

/* ---- video, objects and the prompt queue ---------------------------------------------------- */

/* Per-video buffers for frames of width x height; failures are written into `eb`. */
static int begin_video(kat_tracker *t, int width, int height, kat__errbuf *eb) {
  int rc;
  if (width < 1 || height < 1)
    return kat__fail(eb, KAT_EINVAL, "tracker: bad frame size %dx%d", width, height);
  if (!t->rs || width != t->vw || height != t->vh) {
    /* Per-video buffers: allocated at start only when the frame size changes. */
    kat__resizer_destroy(t->rs);
    t->rs = NULL;
    kat__lin_axis_cleanup(&t->ay_v);
    kat__lin_axis_cleanup(&t->ax_v);
    kat__lin_axis_cleanup(&t->ay_m);
    kat__lin_axis_cleanup(&t->ax_m);
    t->vw = t->vh = 0;
    float mean[3], std[3];
    for (int i = 0; i < 3; i++) {
      mean[i] = (float)t->m->mean[i];
      std[i] = (float)t->m->std[i];
    }
    if ((rc = kat__resizer_create(width, height, t->S,
                                  t->opt.fast_resize ? KAT__RESIZE_FAST : KAT__RESIZE_EXACT, mean,
                                  std, &t->rs, eb)))
      return rc;
    t->mw = t->opt.mask_width > 0 ? t->opt.mask_width : width;
    t->mh = t->opt.mask_height > 0 ? t->opt.mask_height : height;
    if ((rc = kat__lin_axis_init(&t->ay_v, t->L, height)) ||
        (rc = kat__lin_axis_init(&t->ax_v, t->L, width)) ||
        (rc = kat__lin_axis_init(&t->ay_m, t->L, t->mh)) ||
        (rc = kat__lin_axis_init(&t->ax_m, t->L, t->mw)))
      return kat__fail(eb, rc, "tracker: out of memory");
    t->vw = width;
    t->vh = height;
  }
  pthread_mutex_lock(&t->mu);
  t->qw = width;
  t->qh = height;
  pthread_mutex_unlock(&t->mu);
  return KAT_OK;
}

int kat__tracker_begin_video(kat_tracker *t, int width, int height) {
  kat__errbuf_clear(&t->eb_pre);
  return begin_video(t, width, height, &t->eb_pre);
}

/* Drops every object and event and opens a new video (size unknown until begin_video). */
static void new_video(kat_tracker *t) {
  pthread_mutex_lock(&t->mu);
  clear_events(t);
  for (int i = 0; i < t->n_objs; i++) object_destroy(t->objs[i]);
  t->n_objs = 0;
  t->closed = -1;
  t->video_open = 1;
  pthread_mutex_unlock(&t->mu);
  t->frame = 0;
  t->started = 1;
  t->failed_status = 0;
}

void kat__tracker_open_video(kat_tracker *t) {
  new_video(t);
}

int kat_tracker_reset(kat_tracker *t, int width, int height) {
  if (!t) return KAT_EINVAL;
  kat__errbuf_clear(&t->eb);
  int rc = begin_video(t, width, height, &t->eb);
  if (rc) return rc;
  new_video(t);
  return KAT_OK;
}

int kat_tracker_object_count(const kat_tracker *t) {
  return t ? t->n_objs : -1;
}

/* Under `mu`: the object with id `id`, or NULL. */
static kat__object *find_object(const kat_tracker *t, int id) {
  for (int i = 0; i < t->n_objs; i++)
    if (t->objs[i]->id == id) return t->objs[i];
  return NULL;
}

/* Under `mu`: the number of distinct objects known now or by queued prompts, and whether `id` is
 * one of them. */
static int count_objects(const kat_tracker *t, int id, int *known) {
  int n = t->n_objs;
  *known = find_object(t, id) != NULL;
  for (int i = 0; i < t->n_pend; i++) {
    const kat__event *e = &t->pend[i];
    if (e->kind != EV_PROMPT || find_object(t, e->obj_id)) continue;
    int seen = 0;
    for (int j = 0; j < i && !seen; j++)
      seen = t->pend[j].kind == EV_PROMPT && t->pend[j].obj_id == e->obj_id;
    if (seen) continue;
    n++;
    if (e->obj_id == id) *known = 1;
  }
  return n;
}

/* Checks a prompt's values and, when the frame size is known (w, h > 0), its geometry; fills
 * `e` (a box clipped to the frame). The mask is checked but not copied. */
static int check_prompt(const kat_prompt *p, int w, int h, kat__event *e, kat__errbuf *eb) {
  const char *what = "kat_tracker_add_prompt";
  if (p->mask && (p->has_box || p->n_points))
    return kat__fail(eb, KAT_EINVAL, "%s: a mask prompt takes no box or points", what);
  if (!p->mask && !p->has_box && p->n_points == 0)
    return kat__fail(eb, KAT_EINVAL, "%s: the prompt has no box, point or mask", what);
  if (p->n_points < 0 || p->n_points > KAT_MAX_PROMPT_POINTS)
    return kat__fail(eb, KAT_EINVAL, "%s: %d points (0..%d)", what, p->n_points,
                     KAT_MAX_PROMPT_POINTS);
  if (p->has_box && p->append)
    return kat__fail(eb, KAT_EINVAL,
                     "%s: a box cannot be appended (it must be the first two points)", what);
  if (p->has_box) {
    int rc =
        kat__validate_box(p->box, w, h, "kat_tracker_add_prompt: box", e->box, &e->clipped, eb);
    if (rc) return rc;
    e->has_box = 1;
  }
  for (int i = 0; i < p->n_points; i++) {
    double x = p->points[i][0], y = p->points[i][1];
    if (!isfinite(x) || !isfinite(y))
      return kat__fail(eb, KAT_EINVAL, "%s: point %d (%g, %g) is not finite", what, i, x, y);
    if (p->labels[i] != 0 && p->labels[i] != 1)
      return kat__fail(eb, KAT_EINVAL, "%s: point %d has label %d (1 positive, 0 negative)", what,
                       i, p->labels[i]);
    if (w > 0 && h > 0 && (x < 0 || y < 0 || x > w || y > h))
      return kat__fail(eb, KAT_EINVAL, "%s: point %d (%g, %g) is outside the %dx%d frame", what, i,
                       x, y, w, h);
    e->points[i][0] = x;
    e->points[i][1] = y;
    e->labels[i] = p->labels[i];
  }
  e->n_points = p->n_points;
  e->append = p->append != 0;
  if (p->mask) {
    if (p->mask_width < 1 || p->mask_height < 1 || p->mask_stride < (size_t)p->mask_width)
      return kat__fail(eb, KAT_EINVAL, "%s: mask %dx%d with stride %zu", what, p->mask_width,
                       p->mask_height, p->mask_stride);
    if (w > 0 && h > 0 && (p->mask_width != w || p->mask_height != h))
      return kat__fail(eb, KAT_EINVAL, "%s: the mask is %dx%d, the frame %dx%d", what,
                       p->mask_width, p->mask_height, w, h);
    size_t on = 0;
    for (int y = 0; y < p->mask_height && !on; y++)
      for (int x = 0; x < p->mask_width && !on; x++)
        on += p->mask[(size_t)y * p->mask_stride + (size_t)x] != 0;
    if (!on) return kat__fail(eb, KAT_EINVAL, "%s: the mask has no object pixel", what);
    e->mw = p->mask_width;
    e->mh = p->mask_height;
  }
  return KAT_OK;
}

/* Queues a prompt; `need_started` for a reseed (KAT_ENOENT unless the object is tracked). */
static int queue_prompt(kat_tracker *t, int obj_id, int64_t frame, const kat_prompt *p,
                        int next_frame, int need_started) {
  kat__errbuf_clear(&t->eb);
  if (!p) return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_add_prompt: prompt is NULL");
  if (obj_id < 0)
    return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_add_prompt: object id %d is negative",
                     obj_id);
  kat__event e;
  memset(&e, 0, sizeof e);
  e.kind = EV_PROMPT;
  e.obj_id = obj_id;
  int rc = KAT_OK;
  uint8_t *copy = NULL;
  pthread_mutex_lock(&t->mu);
  if (next_frame) frame = t->closed + 1;
  e.frame = frame;
  if (!t->video_open) {
    rc = kat__fail(&t->eb, KAT_ESTATE,
                   "kat_tracker_add_prompt: no video (call kat_tracker_reset or kat_tracker_start "
                   "first)");
    goto done;
  }
  if (frame <= t->closed) {
    rc = kat__fail(&t->eb, KAT_ERANGE,
                   "kat_tracker_add_prompt: frame %lld has already reached the tracker (the next "
                   "frame it takes is %lld)",
                   (long long)frame, (long long)(t->closed + 1));
    goto done;
  }
  if ((rc = check_prompt(p, t->qw, t->qh, &e, &t->eb))) goto done;
  kat__object *o = find_object(t, obj_id);
  int known = 0, n = count_objects(t, obj_id, &known);
  if (need_started && !(o && o->started)) {
    rc = kat__fail(&t->eb, KAT_ENOENT, "kat_tracker_reseed: object %d is not tracked", obj_id);
    goto done;
  }
  if (!known && n >= t->opt.max_objects) {
    rc = kat__fail(&t->eb, KAT_ERANGE,
                   "kat_tracker_add_prompt: object %d would be object %d, the tracker holds at "
                   "most %d (kat_tracker_options.max_objects)",
                   obj_id, n + 1, t->opt.max_objects);
    goto done;
  }
  /* Frames of this object that will be conditioning frames, and whether this prompt needs the
   * decoder's mask input: a correction (the object is tracked before this frame) or a second
   * prompt on one frame. */
  int cond = o ? o->n_cond : 0, earlier = o && o->started, same = 0;
  for (int i = 0; i < t->n_pend; i++) {
    const kat__event *q = &t->pend[i];
    if (q->kind != EV_PROMPT || q->obj_id != obj_id) continue;
    if (q->frame < frame) earlier = 1;
    if (q->frame == frame) same = 1;
    int dup = 0;
    for (int j = 0; j < i && !dup; j++)
      dup = t->pend[j].kind == EV_PROMPT && t->pend[j].obj_id == obj_id &&
            t->pend[j].frame == q->frame;
    cond += !dup;
  }
  if (!same && cond + 1 > t->opt.max_cond_frames) {
    rc = kat__fail(&t->eb, KAT_ERANGE,
                   "kat_tracker_add_prompt: object %d would have %d conditioning frames, at most "
                   "%d (kat_tracker_options.max_cond_frames)",
                   obj_id, cond + 1, t->opt.max_cond_frames);
    goto done;
  }
  if (!t->mask_input && (p->mask || earlier || same)) {
    rc = kat__fail(&t->eb, KAT_ENOTSUP,
                   "kat_tracker_add_prompt: %s on frame %lld for object %d needs a mask decoder "
                   "with a mask input (bundle format 2); this bundle is format %d",
                   p->mask ? "a mask prompt"
                   : same  ? "a second prompt"
                           : "a correction",
                   (long long)frame, obj_id, t->m->format_version);
    goto done;
  }
  if (t->n_pend >= KAT__MAX_PENDING) {
    rc = kat__fail(&t->eb, KAT_ERANGE, "kat_tracker_add_prompt: %d prompts wait already",
                   KAT__MAX_PENDING);
    goto done;
  }
  if (p->mask) {
    size_t bytes;
    if (!kat__size_mul((size_t)p->mask_width, (size_t)p->mask_height, &bytes) ||
        !(copy = kat__malloc(bytes))) {
      rc = kat__fail(&t->eb, KAT_ENOMEM, "kat_tracker_add_prompt: out of memory for the mask");
      goto done;
    }
    for (int y = 0; y < p->mask_height; y++)
      for (int x = 0; x < p->mask_width; x++)
        copy[(size_t)y * p->mask_width + x] = p->mask[(size_t)y * p->mask_stride + x] != 0;
    e.mask = copy;
    copy = NULL;
  }
  t->pend[t->n_pend++] = e;
done:
  pthread_mutex_unlock(&t->mu);
  kat__free(copy);
  return rc;
}

int kat_tracker_add_prompt(kat_tracker *t, int obj_id, int64_t frame, const kat_prompt *p) {
  if (!t) return KAT_EINVAL;
  return queue_prompt(t, obj_id, frame, p, 0, 0);
}

int kat_tracker_reseed(kat_tracker *t, int obj_id, const double box[4]) {
  if (!t) return KAT_EINVAL;
  if (!box) {
    kat__errbuf_clear(&t->eb);
    return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_reseed: box is NULL");
  }
  kat_prompt p;
  kat_prompt_init(&p);
  p.has_box = 1;
  memcpy(p.box, box, sizeof p.box);
  return queue_prompt(t, obj_id, 0, &p, 1, 1);
}

int kat__tracker_remove_at(kat_tracker *t, int obj_id, int64_t frame, int next_frame) {
  kat__errbuf_clear(&t->eb);
  int rc = KAT_OK;
  pthread_mutex_lock(&t->mu);
  if (next_frame) frame = t->closed + 1;
  int known = 0;
  (void)count_objects(t, obj_id, &known);
  if (!known)
    rc = kat__fail(&t->eb, KAT_ENOENT, "kat_tracker_remove_object: no object %d", obj_id);
  else if (frame <= t->closed)
    rc = kat__fail(&t->eb, KAT_ERANGE,
                   "kat_tracker_remove_object: frame %lld has already reached the tracker (the "
                   "next frame it takes is %lld)",
                   (long long)frame, (long long)(t->closed + 1));
  else if (t->n_pend >= KAT__MAX_PENDING)
    rc = kat__fail(&t->eb, KAT_ERANGE, "kat_tracker_remove_object: %d events wait already",
                   KAT__MAX_PENDING);
  else {
    kat__event *e = &t->pend[t->n_pend++];
    memset(e, 0, sizeof *e);
    e->kind = EV_REMOVE;
    e->frame = frame;
    e->obj_id = obj_id;
  }
  pthread_mutex_unlock(&t->mu);
  return rc;
}

int kat_tracker_remove_object(kat_tracker *t, int obj_id) {
  if (!t) return KAT_EINVAL;
  return kat__tracker_remove_at(t, obj_id, 0, 1);
}

int kat__tracker_add_prompt_at(kat_tracker *t, int obj_id, int64_t frame, const kat_prompt *p) {
  return queue_prompt(t, obj_id, frame, p, 0, 0);
}

/* Allocates a new object with id `id` (its bank, low-res logits and output mask). */
static int object_create(kat_tracker *t, int id, kat__object **out) {
  *out = NULL;
  kat__object *o = kat__calloc(1, sizeof *o);
  if (!o) return kat__fail(&t->eb, KAT_ENOMEM, "tracker: out of memory for object %d", id);
  o->id = id;
  int rc = kat__membank_create(&t->bc, &o->bank, &t->eb);
  if (rc) {
    object_destroy(o);
    return rc;
  }
  o->low = alloc_f32((size_t)t->L * t->L);
  if (t->opt.want_masks) {
    size_t n;
    o->mask_w = t->mw;
    o->mask_h = t->mh;
    if (kat__size_mul((size_t)t->mw, (size_t)t->mh, &n)) o->mask_out = kat__malloc(n);
  }
  if (!o->low || (t->opt.want_masks && !o->mask_out)) {
    object_destroy(o);
    return kat__fail(&t->eb, KAT_ENOMEM, "tracker: out of memory for object %d", id);
  }
  *out = o;
  return KAT_OK;
}

/*
 * Takes frame t->frame's events from the queue (closing the frame for new prompts), applies its
 * removals and creates the objects its prompts start. Fills t->work with the frame's objects.
 */
static int take_events(kat_tracker *t, int *n_work) {
  int rc = KAT_OK;
  pthread_mutex_lock(&t->mu);
  t->closed = t->frame;
  t->n_now = 0;
  int k = 0;
  for (int i = 0; i < t->n_pend; i++) {
    if (t->pend[i].frame == t->frame)
      t->now[t->n_now++] = t->pend[i];
    else if (t->pend[i].frame > t->frame)
      t->pend[k++] = t->pend[i];
    else
      kat__free(t->pend[i].mask); /* cannot happen: frames are closed in order */
  }
  t->n_pend = k;
  for (int i = 0; i < t->n_now && !rc; i++) {
    kat__event *e = &t->now[i];
    int at = -1;
    for (int j = 0; j < t->n_objs; j++)
      if (t->objs[j]->id == e->obj_id) at = j;
    if (e->kind == EV_REMOVE) {
      if (at >= 0) {
        object_destroy(t->objs[at]);
        memmove(t->objs + at, t->objs + at + 1, (size_t)(t->n_objs - at - 1) * sizeof *t->objs);
        t->n_objs--;
      }
      /* Prompts of the removed object queued before the removal on this frame are dropped. */
      for (int j = 0; j < i; j++)
        if (t->now[j].kind == EV_PROMPT && t->now[j].obj_id == e->obj_id) {
          kat__free(t->now[j].mask);
          t->now[j].mask = NULL;
          t->now[j].kind = -1;
        }
    } else if (at < 0) {
      if (t->n_objs >= t->opt.max_objects) {
        rc = kat__fail(&t->eb, KAT_ERANGE, "tracker: more than %d objects on frame %lld",
                       t->opt.max_objects, (long long)t->frame);
        break;
      }
      kat__object *o = NULL;
      if ((rc = object_create(t, e->obj_id, &o))) break;
      t->objs[t->n_objs++] = o;
    }
  }
  pthread_mutex_unlock(&t->mu);
  for (int i = 0; i < t->n_objs; i++) t->work[i] = t->objs[i];
  *n_work = t->n_objs;
  return rc;
}

/* ---- one object on one frame ---------------------------------------------------------------- */

/* The mask decoder's outputs after the choice (multi.py _Out). */
typedef struct heads_out {
  int chosen;     /* decoder token whose mask is used */
  int multimask;  /* 1: chosen among the three candidates */
  float score;    /* object score logit */
  int present;    /* score above the presence threshold */
  float best_iou; /* predicted IoU of the chosen mask */
  kat__choice ch; /* SAMURAI choice (zeros otherwise) */
} heads_out;

/*
 * sam2_base.py `_forward_sam_heads` (+ the SAMURAI choice) for object `o` on t->embed (already
 * bound) with the point inputs coords/labels [1,n_pts], and with `mask_input` [L,L] f32 (the
 * previous logits, clamped to +-32) or NULL. Leaves the chosen gated logits in o->low and the
 * mixed pointer in t->ptr.
 */
static int run_heads(kat_tracker *t, kat__object *o, int n_pts, int init_cond,
                     const float *mask_input, heads_out *h, kat_track_result *res) {
  const size_t plane = (size_t)t->L * t->L;
  int rc;
  int64_t npts = n_pts;
  if (n_pts == 0) { /* no prompt: one padding point, label -1 */
    t->coords[0] = t->coords[1] = 0.0f;
    t->labels[0] = -1;
    npts = 1;
  } else {
    for (int i = 0; i < n_pts; i++) {
      t->coords[2 * i] = o->pts[i][0];
      t->coords[2 * i + 1] = o->pts[i][1];
      t->labels[i] = o->labels[i];
    }
  }
  if (t->mask_input) {
    if (mask_input) {
      for (size_t i = 0; i < plane; i++) {
        float v = mask_input[i];
        t->md_mask[i] = v > 32.0f ? 32.0f : v < -32.0f ? -32.0f : v;
      }
      t->has_mask[0] = 1.0f;
    } else {
      t->has_mask[0] = 0.0f;
    }
  }
  const int64_t cs[3] = {1, npts, 2}, ls[2] = {1, npts};
  if ((rc = bind_in(t, MD, t->md_coords, t->coords, cs, 3)) ||
      (rc = bind_in(t, MD, t->md_labels, t->labels, ls, 2)) || (rc = run_module(t, MD, res)))
    return rc;
  memset(h, 0, sizeof *h);
  const float score = t->score[0];
  const int present = t->fl->pred_obj_scores ? kat__object_present(score, t->min_obj) : 1;
  int chosen, token;
  if (use_multimask(t, init_cond, n_pts)) {
    for (int k = 1; k < 4; k++) kat__gate_mask(t->masks + (size_t)k * plane, plane, present);
    int k;
    if (t->samurai) {
      box_ctx bc = {t};
      kat__select_samurai(&o->kf, &t->sp, t->iou + 1, candidate_box, &bc, &h->ch);
      k = h->ch.cand;
    } else {
      k = kat__argmax_f32(t->iou + 1, 3);
    }
    chosen = 1 + k;
    token = t->fl->use_multimask_token_for_obj_ptr ? chosen : 0;
    h->multimask = 1;
  } else {
    chosen =
        kat__select_single_mask(t->masks, plane, t->iou, t->fl->dynamic_multimask_via_stability,
                                (float)t->fl->dynamic_multimask_stability_delta,
                                (float)t->fl->dynamic_multimask_stability_thresh);
    kat__gate_mask(t->masks + (size_t)chosen * plane, plane, present);
    token = 0;
  }
  memcpy(o->low, t->masks + (size_t)chosen * plane, plane * sizeof(float));
  memcpy(t->ptr, t->ptr4 + (size_t)token * t->C, (size_t)t->C * sizeof(float));
  if (t->fl->pred_obj_scores)
    kat__mix_obj_ptr(t->ptr, t->no_obj_ptr, t->C, score, present, 1, t->fl->soft_no_obj_ptr,
                     t->fl->fixed_no_obj_ptr);
  h->chosen = chosen;
  h->score = score;
  h->present = present;
  h->best_iou = t->iou[chosen];
  return KAT_OK;
}

/* add_new_points_or_box: the prompt's points in S pixels (box corners first, labels 2/3), after
 * the frame's earlier points when `append`. */
static int prompt_points(kat_tracker *t, kat__object *o, const kat__event *e, int *n_pts) {
  const float vw = (float)t->vw, vh = (float)t->vh, s = (float)t->S;
  int n = e->append ? *n_pts : 0;
  int add = (e->has_box ? 2 : 0) + e->n_points;
  if (n + add > KAT__MAX_FRAME_POINTS)
    return kat__fail(&t->eb, KAT_ERANGE, "tracker: object %d has more than %d points on frame %lld",
                     o->id, KAT__MAX_FRAME_POINTS, (long long)t->frame);
  if (e->has_box) {
    /* Corners / [W,H] * S in float32, as the reference. */
    o->pts[n][0] = (float)e->box[0] / vw * s;
    o->pts[n][1] = (float)e->box[1] / vh * s;
    o->labels[n++] = 2;
    o->pts[n][0] = (float)(e->box[0] + e->box[2]) / vw * s;
    o->pts[n][1] = (float)(e->box[1] + e->box[3]) / vh * s;
    o->labels[n++] = 3;
  }
  for (int i = 0; i < e->n_points; i++) {
    o->pts[n][0] = (float)e->points[i][0] / vw * s;
    o->pts[n][1] = (float)e->points[i][1] / vh * s;
    o->labels[n++] = e->labels[i];
  }
  *n_pts = n;
  return KAT_OK;
}

/* Fills the embedding of the first frame: vision_feats + no_mem_embed per channel. */
static void no_mem_features(kat_tracker *t, const kat__features *f) {
  for (int c = 0; c < t->C; c++) {
    float *dst = t->embed + (size_t)c * t->HW;
    const float *src = f->vision + (size_t)c * t->HW;
    for (int p = 0; p < t->HW; p++) dst[p] = src[p] + t->no_mem_embed[c];
  }
}

static int mask_prompt(kat_tracker *t, kat__object *o, const kat__features *f, const kat__event *e,
                       heads_out *h, kat_track_result *res);

/* multi.py MultiTracker.step for one object on the frame's features `f`. */
static int track_object(kat_tracker *t, kat__object *o, const kat__features *f,
                        kat_track_result *res, int *has_result) {
  const double t0 = kat__now_ms();
  int rc;
  *has_result = 0;
  int n_prompts = 0;
  for (int i = 0; i < t->n_now; i++)
    n_prompts += t->now[i].kind == EV_PROMPT && t->now[i].obj_id == o->id;
  if (!o->started && n_prompts == 0) return KAT_OK;
  memset(res, 0, sizeof *res);
  res->frame_index = t->frame;
  res->source_index = t->frame;
  res->obj_id = o->id;
  heads_out h;
  memset(&h, 0, sizeof h);
  int have_out = 0, tracked = 0;
  if (o->started) {
    int64_t ntok = 0;
    if ((rc = kat__membank_assemble(o->bank, t->frame, t->memory, t->memory_pos, &ntok,
                                    &t->n_ptr_tokens, &t->eb)))
      return rc;
    const int64_t ms[3] = {1, ntok, t->Cm};
    if ((rc = bind_in(t, MA, t->ma_mem, t->memory, ms, 3)) ||
        (rc = bind_in(t, MA, t->ma_pos, t->memory_pos, ms, 3)) || (rc = run_module(t, MA, res)))
      return rc;
    if ((rc = run_heads(t, o, 0, 0, NULL, &h, res))) return rc;
    have_out = tracked = 1;
  }
  int n_pts = 0;
  for (int i = 0; i < t->n_now; i++) {
    const kat__event *e = &t->now[i];
    if (e->kind != EV_PROMPT || e->obj_id != o->id) continue;
    memset(&o->kf, 0, sizeof o->kf); /* a prompt re-initialises SAMURAI's Kalman filter */
    if (e->mask) {
      if ((rc = mask_prompt(t, o, f, e, &h, res))) return rc;
      n_pts = 0;
    } else {
      kat__event ev = *e;
      /* The box against the video's size: clipped (and reported) or refused. */
      if (e->has_box && (rc = kat__validate_box(e->box, t->vw, t->vh, "tracker: prompt box", ev.box,
                                                &ev.clipped, &t->eb)))
        return rc;
      for (int k = 0; k < ev.n_points; k++)
        if (ev.points[k][0] < 0 || ev.points[k][1] < 0 || ev.points[k][0] > t->vw ||
            ev.points[k][1] > t->vh)
          return kat__fail(&t->eb, KAT_EINVAL,
                           "tracker: point %d (%g, %g) is outside the %dx%d frame", k,
                           ev.points[k][0], ev.points[k][1], t->vw, t->vh);
      if (!ev.append) n_pts = 0;
      if ((rc = prompt_points(t, o, &ev, &n_pts))) return rc;
      if (!tracked) no_mem_features(t, f);
      /* The embedding is t->embed either way: memory-conditioned (correction) or no_mem. */
      if ((rc = run_heads(t, o, n_pts, !tracked, have_out ? o->low : NULL, &h, res))) return rc;
      if (ev.has_box) {
        memcpy(res->prompt_box, ev.box, sizeof res->prompt_box);
        res->prompt_clipped = ev.clipped || e->clipped;
      }
    }
    have_out = 1;
    res->correction = tracked;
  }
  o->n_pts = n_pts;
  const int is_cond = n_prompts > 0;

  /* Memory (sam2_base.py `_encode_new_memory`; mask preparation is in the graph). */
  const size_t plane = (size_t)t->L * t->L;
  memcpy(t->mask_in, o->low, plane * sizeof(float));
  t->from_pts[0] = is_cond ? 1.0f : 0.0f;
  if ((rc = run_module(t, ME, res))) return rc;
  const float score = h.score;
  const float *add = (t->no_obj_spatial && !(score > 0.0f)) ? t->no_obj_spatial : NULL;
  kat__frame_scores sc = {h.best_iou, score, h.ch.has_kf_score, h.ch.kf_score};
  if ((rc = kat__membank_push_frame(o->bank, t->frame, is_cond, t->maskmem, add, t->ptr, &sc,
                                    &t->eb)))
    return rc;
  o->started = 1;

  /* Outputs at the source resolution (`_get_orig_video_res_output`, LaSOT box). */
  const float *low = o->low;
  int b[4];
  int nonempty = t->opt.box_mode == KAT_BOX_FAST
                     ? kat__mask_box_fast(low, t->L, t->L, t->vh, t->vw, b)
                     : kat__mask_box_exact(low, &t->ay_v, &t->ax_v, KAT__BILINEAR_SINGLE, b);
  res->box_valid = nonempty;
  res->box[0] = b[0];
  res->box[1] = b[1];
  res->box[2] = b[2] - b[0];
  res->box[3] = b[3] - b[1];
  if (t->opt.want_masks && o->mask_out) {
    kat__mask_render(low, &t->ay_m, &t->ax_m, KAT__BILINEAR_SINGLE, o->mask_out, (size_t)o->mask_w);
    res->mask = o->mask_out;
    res->mask_width = o->mask_w;
    res->mask_height = o->mask_h;
    res->mask_stride = (size_t)o->mask_w;
  }
  if (t->opt.want_logits) {
    res->low_res = o->low;
    res->low_res_size = t->L;
  }
  res->object_score = score;
  res->candidate = h.chosen;
  res->iou_pred = h.best_iou;
  res->has_kf_score = h.ch.has_kf_score;
  res->kf_score = h.ch.kf_score;
  res->kf_phase = t->samurai ? h.ch.phase : 0;
  res->is_cond = is_cond;
  if (h.ch.has_kf_box) {
    const double sx = (double)t->vw / t->S, sy = (double)t->vh / t->S;
    res->has_kf_box = 1;
    res->kf_box[0] = h.ch.kf_box[0] * sx;
    res->kf_box[1] = h.ch.kf_box[1] * sy;
    res->kf_box[2] = (h.ch.kf_box[2] - h.ch.kf_box[0]) * sx;
    res->kf_box[3] = (h.ch.kf_box[3] - h.ch.kf_box[1]) * sy;
  }
  /* Presence: see tracker.h. */
  o->absent = h.present ? 0 : o->absent + 1;
  res->absent_frames = o->absent;
  res->presence = h.present                               ? KAT_PRESENCE_TRACKED
                  : o->absent >= t->opt.lost_after_frames ? KAT_PRESENCE_LOST
                                                          : KAT_PRESENCE_OCCLUDED;
  res->timings.total_ms = kat__now_ms() - t0;
  res->timings.host_ms = res->timings.total_ms - res->timings.module_ms[MA] -
                         res->timings.module_ms[MD] - res->timings.module_ms[ME];
  *has_result = 1;
  return KAT_OK;
}

/* ---- mask prompts (bundle format 2) ---------------------------------------------------------- */

/* Antialiased bilinear resize weights of torch's interpolate(antialias=True, align_corners=False)
 * along one axis, as hostmath._aa_weights: out[o] = sum_k w[o * width + k] * in[first[o] + k] for
 * in_size -> out_size, in float64 (the reference's precision). */
static int aa_axis(int in_size, int out_size, int **first, int **count, double **w, int *width) {
  const double scale = (double)in_size / out_size;
  const double support = scale >= 1.0 ? scale : 1.0; /* bilinear support 1, widened by scale */
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  /* [center - support + 0.5, center + support + 0.5) holds at most ceil(2 * support) + 1 taps. */
  const int wmax = (int)ceil(2.0 * support) + 1;
  *first = kat__calloc((size_t)out_size, sizeof **first);
  *count = kat__calloc((size_t)out_size, sizeof **count);
  *w = kat__calloc((size_t)out_size * (size_t)wmax, sizeof **w);
  if (!*first || !*count || !*w) return KAT_ENOMEM;
  for (int o = 0; o < out_size; o++) {
    const double center = scale * (o + 0.5);
    const int lo = (int)fmax(center - support + 0.5, 0.0);
    const int hi = (int)fmin(center + support + 0.5, (double)in_size);
    const int n = hi - lo < wmax ? hi - lo : wmax;
    double total = 0.0, *wo = *w + (size_t)o * wmax;
    for (int k = 0; k < n; k++) {
      const double v = 1.0 - fabs((k + lo - center + 0.5) * inv);
      wo[k] = v > 0.0 ? v : 0.0;
      total += wo[k];
    }
    if (total != 0.0)
      for (int k = 0; k < n; k++) wo[k] /= total;
    (*first)[o] = lo;
    (*count)[o] = n;
  }
  *width = wmax;
  return KAT_OK;
}

/* Separable antialiased resize of src [ih, iw] f32 to dst [oh, ow] f32: the columns pass
 * [ih, iw] -> [ih, ow], then the rows pass -> [oh, ow], in float64, rounded to float32 at the end
 * (hostmath.resize_aa). Allocates its weight tables (a prompt, not a steady frame). */
static int resize_aa(kat_tracker *t, const float *src, int ih, int iw, float *dst, int oh, int ow) {
  int *fy = NULL, *cy = NULL, *fx = NULL, *cx = NULL, wy = 0, wx = 0;
  double *wyv = NULL, *wxv = NULL, *tmp = NULL;
  int rc = KAT_ENOMEM;
  if (aa_axis(ih, oh, &fy, &cy, &wyv, &wy) || aa_axis(iw, ow, &fx, &cx, &wxv, &wx)) goto done;
  tmp = kat__calloc((size_t)ih * (size_t)ow, sizeof *tmp);
  if (!tmp) goto done;
  for (int y = 0; y < ih; y++)
    for (int x = 0; x < ow; x++) {
      double acc = 0.0;
      for (int k = 0; k < cx[x]; k++)
        acc += wxv[(size_t)x * wx + k] * src[(size_t)y * iw + fx[x] + k];
      tmp[(size_t)y * ow + x] = acc;
    }
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      double acc = 0.0;
      for (int k = 0; k < cy[y]; k++)
        acc += wyv[(size_t)y * wy + k] * tmp[(size_t)(fy[y] + k) * ow + x];
      dst[(size_t)y * ow + x] = (float)acc;
    }
  rc = KAT_OK;
done:
  kat__free(fy);
  kat__free(cy);
  kat__free(fx);
  kat__free(cx);
  kat__free(wyv);
  kat__free(wxv);
  kat__free(tmp);
  if (rc) kat__fail(&t->eb, rc, "tracker: out of memory for a mask prompt");
  return rc;
}

/*
 * sam2_base.py `_use_mask_as_output` on add_new_mask's input: the mask resized to S x S
 * (antialiased, >= 0.5), logits mask*20-10 antialiased to L x L, the pointer from the decoder on
 * the raw vision_feats with the 4x4-conv downsampled mask as its mask input.
 */
static int mask_prompt(kat_tracker *t, kat__object *o, const kat__features *f, const kat__event *e,
                       heads_out *h, kat_track_result *res) {
  const int S = t->S, L = t->L;
  const size_t plane = (size_t)L * L;
  int rc;
  float *m01 = NULL, *src = NULL;
  size_t ss = (size_t)S * S, vv;
  if (!kat__size_mul((size_t)e->mw, (size_t)e->mh, &vv))
    return kat__fail(&t->eb, KAT_ERANGE, "tracker: mask prompt too large");
  m01 = kat__calloc(ss, sizeof *m01);
  src = kat__calloc(vv > ss ? vv : ss, sizeof *src);
  if (!m01 || !src) {
    rc = kat__fail(&t->eb, KAT_ENOMEM, "tracker: out of memory for a mask prompt");
    goto done;
  }
  for (size_t i = 0; i < vv; i++) src[i] = e->mask[i] ? 1.0f : 0.0f;
  if ((rc = resize_aa(t, src, e->mh, e->mw, m01, S, S))) goto done;
  int appearing = 0;
  for (size_t i = 0; i < ss; i++) {
    m01[i] = m01[i] >= 0.5f ? 1.0f : 0.0f;
    appearing |= m01[i] > 0.0f;
  }
  /* Output logits: mask * 20 - 10 at S x S, antialiased down to L x L. */
  for (size_t i = 0; i < ss; i++) src[i] = m01[i] * 20.0f - 10.0f;
  if ((rc = resize_aa(t, src, S, S, o->low, L, L))) goto done;
  /* Pointer: the decoder on the raw features (no no_mem_embed), no points, the mask input the
   * 4x4 stride-4 conv of the S x S mask (mask_downsample). */
  for (int y = 0; y < L; y++)
    for (int x = 0; x < L; x++) {
      float acc = t->ds_b[0];
      for (int ky = 0; ky < 4; ky++)
        for (int kx = 0; kx < 4; kx++)
          acc += t->ds_w[ky * 4 + kx] * m01[(size_t)(4 * y + ky) * S + (size_t)(4 * x + kx)];
      t->md_mask[(size_t)y * L + x] = acc;
    }
  memcpy(t->embed, f->vision, (size_t)t->C * t->HW * sizeof(float));
  t->coords[0] = t->coords[1] = 0.0f;
  t->labels[0] = -1;
  t->has_mask[0] = 1.0f;
  const int64_t cs[3] = {1, 1, 2}, ls[2] = {1, 1};
  if ((rc = bind_in(t, MD, t->md_coords, t->coords, cs, 3)) ||
      (rc = bind_in(t, MD, t->md_labels, t->labels, ls, 2)) || (rc = run_module(t, MD, res)))
    goto done;
  const float score_dec = t->score[0];
  const int present_dec = kat__object_present(score_dec, t->min_obj);
  memcpy(t->ptr, t->ptr4, (size_t)t->C * sizeof(float));
  if (t->fl->pred_obj_scores) {
    kat__mix_obj_ptr(t->ptr, t->no_obj_ptr, t->C, score_dec, present_dec, 1, t->fl->soft_no_obj_ptr,
                     t->fl->fixed_no_obj_ptr);
    /* Then by the mask's emptiness (lambda 1 or 0, not soft). */
    kat__mix_obj_ptr(t->ptr, t->no_obj_ptr, t->C, appearing ? 10.0f : -10.0f, appearing, 1, 0,
                     t->fl->fixed_no_obj_ptr);
  }
  memset(h, 0, sizeof *h);
  h->chosen = 0;
  h->score = appearing ? 10.0f : -10.0f;
  h->present = appearing;
  h->best_iou = 1.0f;
  (void)plane;
done:
  kat__free(m01);
  kat__free(src);
  return rc;
}

/* ---- frames -----------------------------------------------------------------------------------
 */

/* Everything after the image encoder for every object of the frame, on the features `f`. */
static int consume_frame(kat_tracker *t, const kat__features *f, kat_track_result *results,
                         int capacity, int *count) {
  int rc, n_work = 0, n = 0;
  *count = 0;
  if ((rc = bind_features(t, f))) return rc;
  if ((rc = take_events(t, &n_work))) goto done;
  for (int i = 0; i < n_work; i++) {
    kat__object *o = t->work[i];
    kat_track_result scratch;
    kat_track_result *res = n < capacity ? &results[n] : &scratch;
    int has = 0;
    const int before = o->n_cond;
    if ((rc = track_object(t, o, f, res, &has))) goto done;
    if (!has) continue;
    if (res->is_cond && before == o->n_cond) {
      pthread_mutex_lock(&t->mu);
      o->n_cond = kat__membank_cond_count(o->bank);
      pthread_mutex_unlock(&t->mu);
    }
    n++;
  }
  *count = n;
  t->frame++;
done:
  for (int i = 0; i < t->n_now; i++) kat__free(t->now[i].mask);
  t->n_now = 0;
  return rc;
}

int kat__tracker_consume(kat_tracker *t, const kat__features *f, kat_track_result *results,
                         int capacity, int *count) {
  kat__errbuf_clear(&t->eb);
  *count = 0;
  if (!t->started)
    return t->failed_status
               ? kat__fail(&t->eb, KAT_ESTATE,
                           "tracker: the track ended when frame %lld failed with %s",
                           (long long)t->failed_frame, kat_status_name(t->failed_status))
               : kat__fail(&t->eb, KAT_ESTATE, "tracker: no video");
  const int64_t frame = t->frame;
  int rc = consume_frame(t, f, results, capacity, count);
  if (rc) {
    t->started = 0;
    t->failed_status = rc;
    t->failed_frame = frame;
  }
  return rc;
}

/* One frame: preprocess, image encoder, then every object. */
static int track_frame(kat_tracker *t, const kat_frame *frame, kat_track_result *results,
                       int capacity, int *count) {
  const double t0 = kat__now_ms();
  int rc;
  *count = 0;
  kat__features own = {t->vision, t->hr0, t->hr1};
  /* Preprocess: Pillow-exact (or fast bilinear) resize + normalisation, [1,3,S,S]. The stage
   * functions write their own buffers; on this thread their message becomes the tracker's. */
  if ((rc = kat__tracker_preprocess(t, frame, t->image))) {
    kat__strlcpy(t->eb.msg, t->eb_pre.msg, sizeof t->eb.msg);
    return rc;
  }
  const double pre = kat__now_ms() - t0;
  double enc = 0;
  if ((rc = kat__tracker_encode(t, t->image, &own, &enc))) {
    kat__strlcpy(t->eb.msg, t->eb_enc.msg, sizeof t->eb.msg);
    return rc;
  }
  if ((rc = kat__tracker_consume(t, &own, results, capacity, count))) return rc;
  const double total = kat__now_ms() - t0;
  for (int i = 0; i < *count && i < capacity; i++) {
    kat_track_timings *tm = &results[i].timings;
    tm->preprocess_ms = pre;
    tm->module_ms[IE] = enc;
    tm->total_ms += pre + enc;
    (void)total;
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
  double used[4];
  int clipped = 0;
  if ((rc = kat__validate_box(box, frame->width, frame->height, "kat_tracker_start", used, &clipped,
                              &t->eb)))
    return rc;
  if ((rc = begin_video(t, frame->width, frame->height, &t->eb))) return rc;
  new_video(t);
  kat_prompt p;
  kat_prompt_init(&p);
  p.has_box = 1;
  memcpy(p.box, used, sizeof p.box);
  if ((rc = queue_prompt(t, 0, 0, &p, 0, 0))) {
    t->started = 0;
    return rc;
  }
  int n = 0;
  rc = track_frame(t, frame, result, 1, &n);
  if (rc) {
    t->started = 0;
    t->failed_status = 0; /* a failed start is not a failed track: the next start begins anew */
    return rc;
  }
  result->prompt_clipped = clipped;
  return KAT_OK;
}

int kat_tracker_track(kat_tracker *t, const kat_frame *frame, kat_track_result *results,
                      int capacity, int *count) {
  if (!t) return KAT_EINVAL;
  kat__errbuf_clear(&t->eb);
  if (count) *count = 0;
  if (!t->started && t->failed_status)
    return kat__fail(&t->eb, KAT_ESTATE,
                     "kat_tracker_step: the track ended when frame %lld failed with %s; call "
                     "kat_tracker_start to begin a new track",
                     (long long)t->failed_frame, kat_status_name(t->failed_status));
  if (!t->started) return kat__fail(&t->eb, KAT_ESTATE, "kat_tracker_step: no started track");
  /* Refused arguments touch no state, so they leave the track running. */
  if (!count || (capacity > 0 && !results) || capacity < 0)
    return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_track: no room for the results");
  int rc = kat__validate_frame(frame, "kat_tracker_step", &t->eb);
  if (rc) return rc;
  if (frame->width != t->vw || frame->height != t->vh)
    return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_step: frame is %dx%d, the track's is %dx%d",
                     frame->width, frame->height, t->vw, t->vh);
  const int64_t fi = t->frame;
  rc = track_frame(t, frame, results, capacity, count);
  if (rc && t->started) {
    /* The memory may hold part of the failed frame: the track is over. */
    t->started = 0;
    t->failed_status = rc;
    t->failed_frame = fi;
  }
  return rc;
}

int kat_tracker_step(kat_tracker *t, const kat_frame *frame, kat_track_result *result) {
  if (!t) return KAT_EINVAL;
  kat__errbuf_clear(&t->eb);
  if (t->started && t->n_objs == 0 && t->n_pend == 0)
    return kat__fail(&t->eb, KAT_ESTATE, "kat_tracker_step: no started track");
  if (!result) return kat__fail(&t->eb, KAT_EINVAL, "kat_tracker_step: result is NULL");
  /* One record per call: with several objects the others' results would be lost silently. */
  int known = 0;
  pthread_mutex_lock(&t->mu);
  const int n_obj = count_objects(t, -1, &known);
  pthread_mutex_unlock(&t->mu);
  if (n_obj > 1)
    return kat__fail(&t->eb, KAT_ESTATE,
                     "kat_tracker_step: the tracker holds %d objects (tracked or prompted) and a "
                     "step returns one record; use kat_tracker_track",
                     n_obj);
  int n = 0;
  int rc = kat_tracker_track(t, frame, result, 1, &n);
  if (rc) return rc;
  if (n == 0) return kat__fail(&t->eb, KAT_ESTATE, "kat_tracker_step: no object on this frame");
  return KAT_OK;
}
