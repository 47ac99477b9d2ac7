/*
 * Bounded memory bank; see membank.h for the retention rule and why it gives the same memory as
 * the reference's unbounded output_dict. Mirrors sam2_base.py
 * `_prepare_memory_conditioned_features` (samurai_mode and plain branches, object pointers and
 * their temporal encoding) and the storage of sam2_video_predictor.py `_run_single_frame_inference`
 * (bfloat16 memory features).
 */
#include "track/membank.h"

#include <math.h>
#include <string.h>

typedef struct slot {
  int64_t frame; /* -1: free */
  int valid;     /* passes the SAMURAI memory-bank thresholds (and frame >= 2) */
  float *feat;   /* [HW, Cm] f32, bf16-rounded */
} slot;

struct kat__membank {
  kat__membank_config cfg;
  int p; /* pointers attended: min(num_frames, max_obj_ptrs) */
  int k; /* valid frames retained (SAMURAI) */
  int nslots;
  slot *slots;
  int max_cond;        /* conditioning frames held, at most */
  int n_cond;          /* conditioning frames stored, ascending frame order */
  int64_t *cond_frame; /* [max_cond] */
  float *cond_feat;    /* [max_cond, HW, Cm] */
  float *cond_ptr;     /* [max_cond, C] */
  int ring;            /* pointer ring size, max(p - 1, 1) */
  float *ptrs;         /* [ring, C] */
  int64_t *ptr_frame;
  int64_t last_frame;
  float *pos_tok; /* [num_maskmem, HW, Cm]: maskmem_pos_enc^T + tpos row (num_maskmem - t - 1) */
  float *ptr_pos_tab; /* [p, Cm]: encoding of t_diff = 0..p-1 */
  float *pe;          /* [max(C, Cm)] scratch: sine encoding before projection */
  float *pe_out;      /* [Cm] scratch: one pointer's encoding */
};

float kat__round_bf16(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return v; /* NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  memcpy(&v, &u, sizeof v);
  return v;
}

void kat__sine_pe_1d(float pos, int dim, float *out) {
  /* sam2_utils.py get_1d_sine_pe, float32: dim_t = 10000 ** (2 * (i // 2) / pe_dim). */
  int pe_dim = dim / 2;
  for (int i = 0; i < pe_dim; i++) {
    float e = (2.0f * floorf((float)i / 2.0f)) / (float)pe_dim;
    float dt = powf(10000.0f, e);
    float a = pos / dt;
    out[i] = sinf(a);
    out[pe_dim + i] = cosf(a);
  }
}

/* Pointer temporal encoding of distance `pos` into out [Cm]. */
static void ptr_pos_enc(kat__membank *b, int64_t pos, float *out) {
  const kat__membank_config *c = &b->cfg;
  if (!c->add_tpos_enc_to_obj_ptrs || b->p < 2) {
    memset(out, 0, (size_t)c->mem_dim * sizeof *out);
    return;
  }
  float x = (float)pos / (float)(b->p - 1);
  if (c->proj_tpos_enc_in_obj_ptrs) {
    kat__sine_pe_1d(x, c->hidden_dim, b->pe);
    for (int j = 0; j < c->mem_dim; j++) {
      const float *w = c->tpos_proj_w + (size_t)j * (size_t)c->hidden_dim;
      float acc = 0.0f;
      for (int i = 0; i < c->hidden_dim; i++) acc += w[i] * b->pe[i];
      out[j] = acc + c->tpos_proj_b[j];
    }
  } else {
    kat__sine_pe_1d(x, c->mem_dim, out);
  }
}

int kat__membank_create(const kat__membank_config *cfg, kat__membank **out, kat__errbuf *eb) {
  *out = NULL;
  if (cfg->num_maskmem < 1 || cfg->num_maskmem > 16 || cfg->max_obj_ptrs < 2 ||
      cfg->max_obj_ptrs > 63 || cfg->hw < 1 || cfg->mem_dim < 1 || cfg->hidden_dim < 1 ||
      cfg->hidden_dim % cfg->mem_dim != 0 || cfg->max_cond < 0 ||
      cfg->max_cond > KAT__MEMBANK_MAX_COND)
    return kat__fail(eb, KAT_EINVAL,
                     "membank: unsupported config (num_maskmem %d, max_obj_ptrs %d)",
                     cfg->num_maskmem, cfg->max_obj_ptrs);
  if (cfg->add_tpos_enc_to_obj_ptrs && cfg->proj_tpos_enc_in_obj_ptrs &&
      (!cfg->tpos_proj_w || !cfg->tpos_proj_b))
    return kat__fail(eb, KAT_EINVAL, "membank: obj_ptr_tpos_proj constants missing");
  kat__membank *b = kat__calloc(1, sizeof *b);
  if (!b) return kat__fail(eb, KAT_ENOMEM, "membank: out of memory");
  b->cfg = *cfg;
  b->max_cond = cfg->max_cond > 0 ? cfg->max_cond : 1;
  b->p = cfg->max_obj_ptrs;
  if (cfg->num_frames > 0 && cfg->num_frames < b->p) b->p = (int)cfg->num_frames;
  b->k =
      cfg->max_obj_ptrs - 1 < cfg->num_maskmem - 1 ? cfg->max_obj_ptrs - 1 : cfg->num_maskmem - 1;
  b->nslots = cfg->samurai ? b->k + 2 : cfg->num_maskmem;
  b->ring = b->p - 1 > 1 ? b->p - 1 : 1;
  size_t feat = (size_t)cfg->hw * (size_t)cfg->mem_dim, c = (size_t)cfg->hidden_dim;
  size_t pos_n;
  int st = KAT_ENOMEM;
  size_t cond_n;
  if (!kat__size_mul(feat, (size_t)cfg->num_maskmem, &pos_n) ||
      !kat__size_mul(feat, (size_t)b->max_cond, &cond_n))
    goto fail;
  b->slots = kat__calloc((size_t)b->nslots, sizeof *b->slots);
  b->cond_frame = kat__calloc((size_t)b->max_cond, sizeof *b->cond_frame);
  b->cond_feat = kat__calloc(cond_n, sizeof(float));
  b->cond_ptr = kat__calloc(c * (size_t)b->max_cond, sizeof(float));
  b->ptrs = kat__calloc((size_t)b->ring * c, sizeof(float));
  b->ptr_frame = kat__calloc((size_t)b->ring, sizeof *b->ptr_frame);
  b->pos_tok = kat__calloc(pos_n, sizeof(float));
  b->ptr_pos_tab = kat__calloc((size_t)b->p * (size_t)cfg->mem_dim, sizeof(float));
  b->pe = kat__calloc(c > (size_t)cfg->mem_dim ? c : (size_t)cfg->mem_dim, sizeof(float));
  b->pe_out = kat__calloc((size_t)cfg->mem_dim, sizeof(float));
  if (!b->pe_out || !b->slots || !b->cond_frame || !b->cond_feat || !b->cond_ptr || !b->ptrs ||
      !b->ptr_frame || !b->pos_tok || !b->ptr_pos_tab || !b->pe)
    goto fail;
  for (int i = 0; i < b->nslots; i++) {
    b->slots[i].feat = kat__calloc(feat, sizeof(float));
    if (!b->slots[i].feat) goto fail;
  }
  /* Spatial position tokens per t_pos: maskmem_pos_enc [Cm,H,W] -> [HW,Cm] plus the tpos row. */
  if (cfg->maskmem_pos_enc && cfg->maskmem_tpos_enc) {
    for (int t = 0; t < cfg->num_maskmem; t++) {
      const float *row = cfg->maskmem_tpos_enc + (size_t)(cfg->num_maskmem - t - 1) * cfg->mem_dim;
      float *dst = b->pos_tok + (size_t)t * feat;
      for (int p = 0; p < cfg->hw; p++)
        for (int ch = 0; ch < cfg->mem_dim; ch++)
          dst[(size_t)p * cfg->mem_dim + ch] =
              cfg->maskmem_pos_enc[(size_t)ch * cfg->hw + p] + row[ch];
    }
  }
  for (int t = 0; t < b->p; t++) ptr_pos_enc(b, t, b->ptr_pos_tab + (size_t)t * cfg->mem_dim);
  kat__membank_reset(b);
  *out = b;
  return KAT_OK;
fail:
  kat__membank_destroy(b);
  return kat__fail(eb, st, "membank: out of memory");
}

void kat__membank_destroy(kat__membank *b) {
  if (!b) return;
  if (b->slots)
    for (int i = 0; i < b->nslots; i++) kat__free(b->slots[i].feat);
  kat__free(b->slots);
  kat__free(b->cond_frame);
  kat__free(b->cond_feat);
  kat__free(b->cond_ptr);
  kat__free(b->ptrs);
  kat__free(b->ptr_frame);
  kat__free(b->pos_tok);
  kat__free(b->ptr_pos_tab);
  kat__free(b->pe);
  kat__free(b->pe_out);
  kat__free(b);
}

void kat__membank_reset(kat__membank *b) {
  b->n_cond = 0;
  b->last_frame = -1;
  for (int i = 0; i < b->nslots; i++) b->slots[i].frame = -1;
  for (int i = 0; i < b->ring; i++) b->ptr_frame[i] = -1;
}

size_t kat__membank_max_tokens(const kat__membank *b) {
  size_t per_ptr = (size_t)(b->cfg.hidden_dim / b->cfg.mem_dim);
  return (size_t)(b->max_cond + b->cfg.num_maskmem - 1) * (size_t)b->cfg.hw +
         (size_t)(b->max_cond + b->p - 1) * per_ptr;
}

int kat__membank_cond_count(const kat__membank *b) {
  return b->n_cond;
}

int kat__membank_cond_capacity(const kat__membank *b) {
  return b->max_cond;
}

int64_t kat__membank_last_frame(const kat__membank *b) {
  return b->last_frame;
}

/* maskmem [Cm,HW] (+ add [Cm]) -> dst [HW,Cm], rounded to bf16. */
static void store_feat(const kat__membank *b, float *dst, const float *maskmem, const float *add) {
  const int hw = b->cfg.hw, cm = b->cfg.mem_dim;
  if (!maskmem) return;
  for (int ch = 0; ch < cm; ch++) {
    const float *src = maskmem + (size_t)ch * hw;
    float a = add ? add[ch] : 0.0f;
    for (int p = 0; p < hw; p++) {
      float v = add ? src[p] + a : src[p];
      dst[(size_t)p * cm + ch] = kat__round_bf16(v);
    }
  }
}

static const slot *find_slot(const kat__membank *b, int64_t frame) {
  for (int i = 0; i < b->nslots; i++)
    if (b->slots[i].frame == frame) return &b->slots[i];
  return NULL;
}

int kat__membank_push(kat__membank *b, int64_t frame, const float *maskmem,
                      const float *add_spatial, const float *obj_ptr, const kat__frame_scores *sc,
                      kat__errbuf *eb) {
  return kat__membank_push_frame(b, frame, frame == 0, maskmem, add_spatial, obj_ptr, sc, eb);
}

int kat__membank_push_frame(kat__membank *b, int64_t frame, int is_cond, const float *maskmem,
                            const float *add_spatial, const float *obj_ptr,
                            const kat__frame_scores *sc, kat__errbuf *eb) {
  const kat__membank_config *c = &b->cfg;
  if (frame < 0 || frame <= b->last_frame || (!is_cond && b->n_cond == 0))
    return kat__fail(eb, KAT_ESTATE, "membank: frame %lld out of order (last %lld)%s",
                     (long long)frame, (long long)b->last_frame,
                     b->n_cond == 0 && !is_cond ? ", and no conditioning frame" : "");
  if (is_cond) {
    if (b->n_cond >= b->max_cond)
      return kat__fail(eb, KAT_ERANGE, "membank: %d conditioning frames held already (the most)",
                       b->n_cond);
    const size_t feat = (size_t)c->hw * (size_t)c->mem_dim;
    store_feat(b, b->cond_feat + (size_t)b->n_cond * feat, maskmem, add_spatial);
    if (obj_ptr)
      memcpy(b->cond_ptr + (size_t)b->n_cond * c->hidden_dim, obj_ptr,
             (size_t)c->hidden_dim * sizeof(float));
    b->cond_frame[b->n_cond++] = frame;
    b->last_frame = frame;
    return KAT_OK;
  }
  slot *s = NULL;
  for (int i = 0; i < b->nslots && !s; i++)
    if (b->slots[i].frame < 0) s = &b->slots[i];
  if (!s) return kat__fail(eb, KAT_EINTERNAL, "membank: no free slot");
  /* sam2_base.py samurai_mode memory rule, .item() comparisons in float64. */
  s->valid = c->samurai && frame >= 2 && (double)sc->best_iou > c->iou_threshold &&
             (double)sc->obj_score > c->obj_threshold &&
             (!sc->has_kf || (double)sc->kf_score > c->kf_threshold);
  s->frame = frame;
  store_feat(b, s->feat, maskmem, add_spatial);
  b->last_frame = frame;
  /* Keep what a later frame can reach (membank.h); free the rest. */
  for (int i = 0; i < b->nslots; i++) {
    slot *o = &b->slots[i];
    if (o->frame < 0 || o == s) continue;
    int keep;
    if (c->samurai) {
      int newer_valid = 0;
      for (int j = 0; j < b->nslots; j++)
        if (b->slots[j].frame > o->frame && b->slots[j].valid) newer_valid++;
      keep = o->valid && newer_valid < b->k;
    } else {
      keep = o->frame >= frame - (c->num_maskmem - 2);
    }
    if (!keep) o->frame = -1;
  }
  int r = (int)(frame % b->ring);
  if (obj_ptr)
    memcpy(b->ptrs + (size_t)r * c->hidden_dim, obj_ptr, (size_t)c->hidden_dim * sizeof(float));
  b->ptr_frame[r] = frame;
  return KAT_OK;
}

void kat__membank_select(const kat__membank *b, int64_t f, kat__mem_selection *sel) {
  const kat__membank_config *c = &b->cfg;
  const int nm = c->num_maskmem;
  sel->n_mem = 0;
  sel->n_ptr = 0;
  /* Every conditioning frame (max_cond_frames_in_attn = -1), t_pos 0, in insertion order. A
   * spatial entry of a conditioning frame is marked by mem_cond. */
  for (int i = 0; i < b->n_cond; i++) {
    sel->mem_frame[sel->n_mem] = b->cond_frame[i];
    sel->mem_tpos[sel->n_mem] = 0;
    sel->mem_cond[sel->n_mem] = i;
    sel->n_mem++;
  }
  if (c->samurai) {
    /* valid_indices: the retained valid frames in 2..f-1, ascending, at most max_obj_ptrs - 1
     * most recent; then f-1 appended when absent. */
    int64_t list[64];
    int n = 0;
    for (int64_t best = INT64_MAX;;) { /* collect descending, then reverse */
      int64_t next = -1;
      for (int i = 0; i < b->nslots; i++) {
        const slot *s = &b->slots[i];
        if (s->frame >= 0 && s->valid && s->frame < best && s->frame <= f - 1 && s->frame > next)
          next = s->frame;
      }
      if (next < 0 || n >= c->max_obj_ptrs - 1) break;
      list[n++] = next;
      best = next;
    }
    for (int i = 0; i < n / 2; i++) {
      int64_t t = list[i];
      list[i] = list[n - 1 - i];
      list[n - 1 - i] = t;
    }
    if (n == 0 || list[n - 1] != f - 1) list[n++] = f - 1;
    for (int t_pos = 1; t_pos < nm; t_pos++) {
      int idx = t_pos - nm;
      if (idx < -n) continue;
      int64_t fr = list[n + idx];
      if (fr < 0 || !find_slot(b, fr)) continue; /* conditioning frames are not in the slots */
      sel->mem_frame[sel->n_mem] = fr;
      sel->mem_tpos[sel->n_mem] = t_pos;
      sel->mem_cond[sel->n_mem] = -1;
      sel->n_mem++;
    }
  } else {
    for (int t_pos = 1; t_pos < nm; t_pos++) {
      int64_t fr = f - (nm - t_pos);
      if (fr < 0 || !find_slot(b, fr)) continue;
      sel->mem_frame[sel->n_mem] = fr;
      sel->mem_tpos[sel->n_mem] = t_pos;
      sel->mem_cond[sel->n_mem] = -1;
      sel->n_mem++;
    }
  }
  /* Pointers of the conditioning frames at or before f (forward tracking), |f - t|. */
  for (int i = 0; i < b->n_cond; i++) {
    if (b->cond_frame[i] > f) continue;
    sel->ptr_frame[sel->n_ptr] = b->cond_frame[i];
    sel->ptr_pos[sel->n_ptr] = f - b->cond_frame[i];
    sel->ptr_cond[sel->n_ptr] = i;
    sel->n_ptr++;
  }
  for (int t_diff = 1; t_diff < b->p; t_diff++) {
    int64_t t = f - t_diff;
    if (t < 0) break;
    int r = (int)(t % b->ring);
    if (b->ptr_frame[r] != t) continue; /* a conditioning frame, or not retained */
    sel->ptr_frame[sel->n_ptr] = t;
    sel->ptr_pos[sel->n_ptr] = t_diff;
    sel->ptr_cond[sel->n_ptr] = -1;
    sel->n_ptr++;
  }
}

int kat__membank_assemble(kat__membank *b, int64_t f, float *memory, float *memory_pos,
                          int64_t *n_tokens, int64_t *n_ptr_tokens, kat__errbuf *eb) {
  const kat__membank_config *c = &b->cfg;
  if (b->n_cond == 0) return kat__fail(eb, KAT_ESTATE, "membank: no conditioning frame");
  kat__mem_selection sel;
  kat__membank_select(b, f, &sel);
  const size_t feat = (size_t)c->hw * (size_t)c->mem_dim;
  size_t off = 0;
  for (int i = 0; i < sel.n_mem; i++) {
    const float *src = sel.mem_cond[i] >= 0 ? b->cond_feat + (size_t)sel.mem_cond[i] * feat
                                            : find_slot(b, sel.mem_frame[i])->feat;
    memcpy(memory + off, src, feat * sizeof(float));
    memcpy(memory_pos + off, b->pos_tok + (size_t)sel.mem_tpos[i] * feat, feat * sizeof(float));
    off += feat;
  }
  const int per_ptr = c->hidden_dim / c->mem_dim;
  for (int i = 0; i < sel.n_ptr; i++) {
    const float *src = sel.ptr_cond[i] >= 0
                           ? b->cond_ptr + (size_t)sel.ptr_cond[i] * c->hidden_dim
                           : b->ptrs + (size_t)(sel.ptr_frame[i] % b->ring) * c->hidden_dim;
    memcpy(memory + off, src, (size_t)c->hidden_dim * sizeof(float));
    const float *pos;
    if (sel.ptr_pos[i] < b->p) {
      pos = b->ptr_pos_tab + (size_t)sel.ptr_pos[i] * c->mem_dim;
    } else {
      ptr_pos_enc(b, sel.ptr_pos[i], b->pe_out); /* the cond pointer's distance grows with f */
      pos = b->pe_out;
    }
    for (int k = 0; k < per_ptr; k++) /* repeat_interleave over the pointer's tokens */
      memcpy(memory_pos + off + (size_t)k * c->mem_dim, pos, (size_t)c->mem_dim * sizeof(float));
    off += (size_t)c->hidden_dim;
  }
  *n_tokens = (int64_t)(off / (size_t)c->mem_dim);
  *n_ptr_tokens = (int64_t)sel.n_ptr * per_ptr;
  return KAT_OK;
}
