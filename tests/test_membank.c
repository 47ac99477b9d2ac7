/*
 * Tests of src/track/membank.c: the bounded bank attends to exactly the frames an unbounded
 * implementation of the reference rule (sam2_base.py `_prepare_memory_conditioned_features`,
 * written out literally below) selects, over 10,000 synthetic frames of score histories with long
 * invalid stretches, in SAMURAI and plain SAM 2 modes; the assembled memory carries the right
 * frames' features, pointers and position encodings; bfloat16 rounding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kat_test.h"
#include "track/membank.h"

enum { HW = 4, CM = 2, C = 8, NM = 7, MAXP = 16, NFRAMES = 10000 };

static uint64_t rng_state = 88172645463325252ull;
static double rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

static kat__frame_scores hist[NFRAMES + 1];

static void make_history(void) {
  int regime = 0;
  for (int f = 1; f <= NFRAMES; f++) {
    if (rnd() < 0.01) regime = (int)(rnd() * 4); /* 0 good, 1 mixed, 2 all invalid, 3 edges */
    kat__frame_scores *s = &hist[f];
    s->best_iou = (float)rnd();
    s->obj_score = (float)(rnd() * 4 - 1);
    s->has_kf = rnd() < 0.7;
    s->kf_score = (float)rnd();
    if (regime == 0) {
      s->best_iou = 0.6f + 0.4f * (float)rnd();
      s->obj_score = 1.0f;
    } else if (regime == 2) {
      s->best_iou = 0.2f;
    } else if (regime == 3) { /* exact thresholds: not valid (strict >) */
      double u = rnd();
      if (u < 0.3)
        s->best_iou = 0.5f;
      else if (u < 0.6)
        s->obj_score = 0.0f;
      else if (u < 0.9)
        s->kf_score = 0.0f;
    }
  }
}

/* The reference rule over the full history (frames 0..f-1 all kept). */
static void reference_select(int samurai, int64_t f, int p, kat__mem_selection *sel) {
  sel->n_mem = 1;
  sel->mem_frame[0] = 0;
  sel->mem_tpos[0] = 0;
  if (samurai) {
    int64_t valid[64];
    int n = 0;
    if (f > 1) {
      for (int64_t i = f - 1; i > 1; i--) {
        const kat__frame_scores *s = &hist[i];
        if ((double)s->best_iou > 0.5 && (double)s->obj_score > 0.0 &&
            (!s->has_kf || (double)s->kf_score > 0.0)) {
          memmove(valid + 1, valid, (size_t)n * sizeof *valid);
          valid[0] = i;
          n++;
        }
        if (n >= MAXP - 1) break;
      }
    }
    int found = 0;
    for (int i = 0; i < n; i++) found |= valid[i] == f - 1;
    if (!found) valid[n++] = f - 1;
    for (int t_pos = 1; t_pos < NM; t_pos++) {
      int idx = t_pos - NM;
      if (idx < -n) continue;
      int64_t fr = valid[n + idx];
      if (fr == 0) continue; /* output_dict["non_cond_frame_outputs"].get(0) is None */
      sel->mem_frame[sel->n_mem] = fr;
      sel->mem_tpos[sel->n_mem++] = t_pos;
    }
  } else {
    for (int t_pos = 1; t_pos < NM; t_pos++) {
      int64_t fr = f - (NM - t_pos);
      if (fr < 1) continue;
      sel->mem_frame[sel->n_mem] = fr;
      sel->mem_tpos[sel->n_mem++] = t_pos;
    }
  }
  sel->n_ptr = 1;
  sel->ptr_frame[0] = 0;
  sel->ptr_pos[0] = f;
  for (int t_diff = 1; t_diff < p; t_diff++) {
    int64_t t = f - t_diff;
    if (t < 0) break;
    if (t == 0) continue;
    sel->ptr_frame[sel->n_ptr] = t;
    sel->ptr_pos[sel->n_ptr++] = t_diff;
  }
}

/* Features of frame f: ((f % 61) + ch/2) * 2^pos, at most 7 significant bits: exact in bf16. */
static float feat_tag(int64_t f, int ch, int pos) {
  return ldexpf((float)(f % 61) + 0.5f * (float)ch, pos);
}

static float pos_enc[CM * HW], tpos_enc[NM * CM], proj_w[CM * C], proj_b[CM];

static void run_equivalence(int samurai, int64_t num_frames) {
  kat__membank_config cfg = {0};
  cfg.samurai = samurai;
  cfg.num_maskmem = NM;
  cfg.max_obj_ptrs = MAXP;
  cfg.num_frames = num_frames;
  cfg.iou_threshold = 0.5;
  cfg.obj_threshold = 0.0;
  cfg.kf_threshold = 0.0;
  cfg.hw = HW;
  cfg.mem_dim = CM;
  cfg.hidden_dim = C;
  cfg.add_tpos_enc_to_obj_ptrs = 1;
  cfg.proj_tpos_enc_in_obj_ptrs = 1;
  cfg.maskmem_pos_enc = pos_enc;
  cfg.maskmem_tpos_enc = tpos_enc;
  cfg.tpos_proj_w = proj_w;
  cfg.tpos_proj_b = proj_b;
  kat__errbuf eb;
  kat__membank *b = NULL;
  KAT_CHECK_INT_EQ(kat__membank_create(&cfg, &b, &eb), KAT_OK);
  if (!b) return;
  int p = MAXP;
  if (num_frames > 0 && num_frames < p) p = (int)num_frames;
  size_t maxtok = kat__membank_max_tokens(b);
  float *mem = calloc(maxtok * CM, sizeof(float)), *mpos = calloc(maxtok * CM, sizeof(float));
  float maskmem[CM * HW], ptr[C];
  int mismatches = 0, tag_errors = 0, pos_errors = 0, max_mem = 0, reached_old = 0;
  int64_t last = num_frames > 0 ? num_frames - 1 : NFRAMES;
  for (int64_t f = 0; f <= last; f++) {
    if (f > 0) {
      kat__mem_selection got, want;
      kat__membank_select(b, f, &got);
      reference_select(samurai, f, p, &want);
      int same = got.n_mem == want.n_mem && got.n_ptr == want.n_ptr;
      for (int i = 0; same && i < got.n_mem; i++)
        same = got.mem_frame[i] == want.mem_frame[i] && got.mem_tpos[i] == want.mem_tpos[i];
      for (int i = 0; same && i < got.n_ptr; i++)
        same = got.ptr_frame[i] == want.ptr_frame[i] && got.ptr_pos[i] == want.ptr_pos[i];
      if (!same) {
        if (mismatches < 5) fprintf(stderr, "frame %lld: selection differs\n", (long long)f);
        mismatches++;
      }
      for (int i = 1; i < want.n_mem; i++)
        if (f - want.mem_frame[i] > 100) reached_old = 1;
      if (want.n_mem > max_mem) max_mem = want.n_mem;
      int64_t ntok = 0, nptr = 0;
      KAT_CHECK_INT_EQ(kat__membank_assemble(b, f, mem, mpos, &ntok, &nptr, &eb), KAT_OK);
      if (ntok != (int64_t)want.n_mem * HW + (int64_t)want.n_ptr * (C / CM)) tag_errors++;
      if (nptr != (int64_t)want.n_ptr * (C / CM)) tag_errors++;
      for (int i = 0; i < want.n_mem; i++)
        for (int q = 0; q < HW; q++)
          for (int ch = 0; ch < CM; ch++) {
            size_t at = ((size_t)i * HW + q) * CM + ch;
            if (mem[at] != feat_tag(want.mem_frame[i], ch, q)) tag_errors++;
            float ep = pos_enc[ch * HW + q] + tpos_enc[(NM - want.mem_tpos[i] - 1) * CM + ch];
            if (mpos[at] != ep) pos_errors++;
          }
      for (int i = 0; i < want.n_ptr; i++) {
        float pe[C], ep[CM];
        kat__sine_pe_1d((float)want.ptr_pos[i] / (float)(p - 1), C, pe);
        for (int j = 0; j < CM; j++) {
          float acc = 0;
          for (int k = 0; k < C; k++) acc += proj_w[j * C + k] * pe[k];
          ep[j] = acc + proj_b[j];
        }
        for (int k = 0; k < C; k++) {
          size_t at = (size_t)want.n_mem * HW * CM + (size_t)i * C + (size_t)k;
          if (mem[at] != (float)(want.ptr_frame[i] * C + k)) tag_errors++;
          if (fabsf(mpos[at] - ep[k % CM]) > 1e-6f) pos_errors++;
        }
      }
    }
    for (int ch = 0; ch < CM; ch++)
      for (int q = 0; q < HW; q++) maskmem[ch * HW + q] = feat_tag(f, ch, q);
    for (int k = 0; k < C; k++) ptr[k] = (float)(f * C + k);
    KAT_CHECK_INT_EQ(kat__membank_push(b, f, maskmem, NULL, ptr, &hist[f > 0 ? f : 1], &eb),
                     KAT_OK);
  }
  printf(
      "membank %s num_frames=%lld: %lld frames, %d selection mismatches, %d tag errors, %d pos "
      "errors, max memories %d, reached >100 frames back: %d\n",
      samurai ? "samurai" : "sam2", (long long)num_frames, (long long)last, mismatches, tag_errors,
      pos_errors, max_mem, reached_old);
  KAT_CHECK_INT_EQ(mismatches, 0);
  KAT_CHECK_INT_EQ(tag_errors, 0);
  KAT_CHECK_INT_EQ(pos_errors, 0);
  KAT_CHECK_INT_EQ(max_mem, NM);
  if (samurai && num_frames == 0) KAT_CHECK(reached_old); /* the history exercised old memories */
  free(mem);
  free(mpos);
  kat__membank_destroy(b);
}

KAT_TEST(test_equivalence) {
  make_history();
  for (int i = 0; i < CM * HW; i++) pos_enc[i] = (float)rnd();
  for (int i = 0; i < NM * CM; i++) tpos_enc[i] = (float)rnd();
  for (int i = 0; i < CM * C; i++) proj_w[i] = (float)rnd() - 0.5f;
  for (int i = 0; i < CM; i++) proj_b[i] = (float)rnd();
  run_equivalence(1, 0);
  run_equivalence(0, 0);
  run_equivalence(1, 9); /* short video: fewer pointers, t_diff_max = 8 */
}

KAT_TEST(test_bf16) {
  KAT_CHECK(kat__round_bf16(1.0f) == 1.0f);
  KAT_CHECK(kat__round_bf16(1.0f + 0x1p-8f) == 1.0f);                      /* tie -> even */
  KAT_CHECK(kat__round_bf16(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);        /* tie -> even (up) */
  KAT_CHECK(kat__round_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f); /* above tie */
  KAT_CHECK(kat__round_bf16(-1.0f - 0x1p-8f - 0x1p-20f) == -1.0f - 0x1p-7f);
  float big = 3.4028234663852886e38f; /* FLT_MAX rounds to inf in bf16 */
  KAT_CHECK(isinf(kat__round_bf16(big)));
  KAT_CHECK(isnan(kat__round_bf16(NAN)));
}

KAT_TEST(test_sine_pe) {
  float pe[8];
  kat__sine_pe_1d(0.5f, 8, pe);
  /* pe_dim 4, dim_t = 10000^(2*(i//2)/4) = [1, 1, 100, 100] */
  KAT_CHECK_NEAR(pe[0], sin(0.5), 1e-6);
  KAT_CHECK_NEAR(pe[1], sin(0.5), 1e-6);
  KAT_CHECK_NEAR(pe[2], sin(0.005), 1e-6);
  KAT_CHECK_NEAR(pe[4], cos(0.5), 1e-6);
  KAT_CHECK_NEAR(pe[7], cos(0.005), 1e-6);
}

KAT_TEST(test_order_errors) {
  kat__membank_config cfg = {0};
  cfg.samurai = 1;
  cfg.num_maskmem = NM;
  cfg.max_obj_ptrs = MAXP;
  cfg.hw = HW;
  cfg.mem_dim = CM;
  cfg.hidden_dim = C;
  kat__errbuf eb;
  kat__membank *b = NULL;
  KAT_CHECK_INT_EQ(kat__membank_create(&cfg, &b, &eb), KAT_OK);
  kat__frame_scores s = {0.9f, 1.0f, 0, 0.0f};
  float mem[CM * HW] = {0}, ptr[C] = {0};
  float m2[64], p2[64];
  int64_t nt, np;
  KAT_CHECK_INT_EQ(kat__membank_assemble(b, 1, m2, p2, &nt, &np, &eb), KAT_ESTATE);
  KAT_CHECK_INT_EQ(kat__membank_push(b, 1, mem, NULL, ptr, &s, &eb), KAT_ESTATE);
  KAT_CHECK_INT_EQ(kat__membank_push(b, 0, mem, NULL, ptr, &s, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__membank_push(b, 0, mem, NULL, ptr, &s, &eb), KAT_ESTATE);
  /* no_obj_embed_spatial is added before the bf16 rounding */
  float add[CM] = {1.0f, 0x1p-8f};
  KAT_CHECK_INT_EQ(kat__membank_push(b, 1, mem, add, ptr, &s, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__membank_assemble(b, 2, m2, p2, &nt, &np, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(nt, 2 * HW + 2 * (C / CM)); /* memories and pointers of frames 0, 1 */
  KAT_CHECK(m2[HW * CM + 0] == 1.0f);
  KAT_CHECK(m2[HW * CM + 1] == 0x1p-8f);
  cfg.max_obj_ptrs = 1;
  kat__membank *bad = NULL;
  KAT_CHECK_INT_EQ(kat__membank_create(&cfg, &bad, &eb), KAT_EINVAL);
  KAT_CHECK(bad == NULL);
  kat__membank_destroy(b);
}

KAT_TEST_MAIN(KAT_CASE(test_equivalence), KAT_CASE(test_bf16), KAT_CASE(test_sine_pe),
              KAT_CASE(test_order_errors))
