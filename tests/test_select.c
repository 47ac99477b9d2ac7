/*
 * Tests of src/track/select.c (every branch of SAMURAI's choice on crafted inputs, plain argmax,
 * dynamic multimask via stability, gating, pointer mixing) and src/track/maskbox.c (the lazy
 * exact box equals a brute-force full upsample on random masks; the fast box measured against it;
 * the rendered mask equals the brute force).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kat_test.h"
#include "track/maskbox.h"
#include "track/select.h"

/* Candidate boxes from a table. */
typedef struct boxes3 {
  double b[3][4];
  int asked[3];
} boxes3;

static void box_of(void *user, int cand, double xyxy[4]) {
  boxes3 *t = user;
  t->asked[cand]++;
  memcpy(xyxy, t->b[cand], sizeof t->b[cand]);
}

static const kat__samurai_choice_params k_params = {15, 0.3, 0.25};

KAT_TEST(test_samurai_phases) {
  kat__samurai_state st = {0};
  kat__choice ch;
  boxes3 bx = {{{10, 10, 50, 90}, {100, 100, 140, 180}, {0, 0, 0, 0}}, {0}};
  float iou[3] = {0.9f, 0.8f, 0.1f};
  /* Phase 1: no filter yet -> argmax IoU, initiate on its box, stable_frames 1. */
  kat__select_samurai(&st, &k_params, iou, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.phase, 1);
  KAT_CHECK_INT_EQ(ch.cand, 0);
  KAT_CHECK_INT_EQ(ch.boxes_computed, 1);
  KAT_CHECK_INT_EQ(bx.asked[0], 1);
  KAT_CHECK_INT_EQ(st.stable_frames, 1);
  KAT_CHECK(st.has_kf);
  KAT_CHECK_NEAR(st.kf.mean[0], 30.0, 0);
  KAT_CHECK_INT_EQ(ch.has_kf_score, 0);
  /* Phase 2 with a confident IoU: update, stable_frames grows. */
  for (int i = 0; i < 13; i++) {
    kat__select_samurai(&st, &k_params, iou, box_of, &bx, &ch);
    KAT_CHECK_INT_EQ(ch.phase, 2);
  }
  KAT_CHECK_INT_EQ(st.stable_frames, 14);
  KAT_CHECK(ch.has_kf_box);
  /* Phase 2 with IoU <= 0.3 (exactly 0.3f is not > 0.3f): reset to 0. */
  float low[3] = {0.3f, 0.2f, 0.1f};
  kat__samurai_state saved = st;
  kat__select_samurai(&st, &k_params, low, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.phase, 2);
  KAT_CHECK_INT_EQ(st.stable_frames, 0);
  /* ...and the next frame re-initiates (phase 1) even though a filter exists. */
  kat__select_samurai(&st, &k_params, iou, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.phase, 1);
  KAT_CHECK_INT_EQ(st.stable_frames, 1);
  /* Phase 3: from 15 stable frames; the Kalman term overturns a small IoU lead. */
  st = saved;
  kat__select_samurai(&st, &k_params, iou, box_of, &bx, &ch); /* 14 -> 15 */
  KAT_CHECK_INT_EQ(st.stable_frames, 15);
  memset(bx.asked, 0, sizeof bx.asked);
  float close[3] = {0.80f, 0.82f, 0.5f}; /* cand 1 leads by IoU, cand 0 matches the motion */
  kat__select_samurai(&st, &k_params, close, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.phase, 3);
  KAT_CHECK_INT_EQ(ch.boxes_computed, 3);
  KAT_CHECK(bx.asked[0] == 1 && bx.asked[1] == 1 && bx.asked[2] == 1);
  KAT_CHECK_INT_EQ(ch.cand, 0);
  KAT_CHECK(ch.has_kf_score);
  KAT_CHECK(ch.kf_score > 0.9f);
  KAT_CHECK_INT_EQ(st.stable_frames, 15); /* phase 3 does not count */
  /* weight 0: plain IoU decides even in phase 3 */
  kat__samurai_choice_params p0 = k_params;
  p0.kf_score_weight = 0.0;
  kat__samurai_state s2 = st;
  kat__select_samurai(&s2, &p0, close, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.cand, 1);
  KAT_CHECK_NEAR(ch.kf_score, 0.0, 0); /* cand 1 does not overlap the motion box */
  /* empty candidate box ([0,0,0,0]) gets kf IoU 0 */
  kat__samurai_state s3 = st;
  float third[3] = {0.1f, 0.1f, 0.95f};
  kat__select_samurai(&s3, &k_params, third, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.cand, 2);
  KAT_CHECK_NEAR(ch.kf_score, 0.0, 0);
  /* Phase 3 with the chosen IoU < 0.3: reset, no update. */
  kat__samurai_state s4 = st;
  float weak[3] = {0.29f, 0.1f, 0.1f};
  kat__select_samurai(&s4, &k_params, weak, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.phase, 3);
  KAT_CHECK_INT_EQ(s4.stable_frames, 0);
  /* ...while exactly 0.3f is not < 0.3f: update, stays stable */
  kat__samurai_state s5 = st;
  float edge[3] = {0.3f, 0.1f, 0.1f};
  kat__select_samurai(&s5, &k_params, edge, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(s5.stable_frames, 15);
}

KAT_TEST(test_weighted_float32) {
  /* The weighted score is float32 (torch.tensor of Python floats): with w = 0.25 a tie in
   * float32 goes to the first index. */
  kat__samurai_state st = {0};
  kat__choice ch;
  boxes3 bx = {{{0, 0, 100, 100}, {0, 0, 100, 100}, {0, 0, 100, 100}}, {0}};
  float iou[3] = {0.5f, 0.5f, 0.5f};
  for (int i = 0; i < 15; i++) kat__select_samurai(&st, &k_params, iou, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(st.stable_frames, 15);
  float tie[3] = {0.5f, 0.5f, 0.5f};
  kat__select_samurai(&st, &k_params, tie, box_of, &bx, &ch);
  KAT_CHECK_INT_EQ(ch.phase, 3);
  KAT_CHECK_INT_EQ(ch.cand, 0);
}

KAT_TEST(test_argmax_and_stability) {
  float v[4] = {0.1f, 0.7f, 0.7f, 0.2f};
  KAT_CHECK_INT_EQ(kat__argmax_f32(v, 4), 1); /* first maximum */
  float m[4 * 4] = {/* token 0: values around the +-delta band -> unstable */
                    0.5f, 0.01f, 0.02f, -0.5f,
                    /* tokens 1..3 */
                    1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  KAT_CHECK_NEAR(kat__stability_score(m, 4, 0.05f), 1.0f / 3.0f, 1e-7);
  float all_neg[4] = {-1, -1, -1, -1};
  KAT_CHECK_NEAR(kat__stability_score(all_neg, 4, 0.05f), 1.0f, 0); /* empty union -> 1 */
  float iou[4] = {0.9f, 0.2f, 0.6f, 0.4f};
  KAT_CHECK_INT_EQ(kat__select_single_mask(m, 4, iou, 1, 0.05f, 0.98f), 2);
  KAT_CHECK_INT_EQ(kat__select_single_mask(m, 4, iou, 0, 0.05f, 0.98f), 0);
  float stable[4 * 4] = {5, 5, -5, -5, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  KAT_CHECK_INT_EQ(kat__select_single_mask(stable, 4, iou, 1, 0.05f, 0.98f), 0);
}

KAT_TEST(test_gating_and_pointer) {
  KAT_CHECK(kat__object_present(-0.5f, -1.0));  /* SAMURAI: > -1 */
  KAT_CHECK(!kat__object_present(-1.0f, -1.0)); /* strict */
  KAT_CHECK(!kat__object_present(-0.5f, 0.0));  /* SAM 2: > 0 */
  float mk[3] = {1, -2, 3};
  kat__gate_mask(mk, 3, 1);
  KAT_CHECK(mk[0] == 1 && mk[2] == 3);
  kat__gate_mask(mk, 3, 0);
  KAT_CHECK(mk[0] == KAT_NO_OBJ_SCORE && mk[1] == KAT_NO_OBJ_SCORE && mk[2] == -1024.0f);
  float no_obj[2] = {10, 20};
  float p[2] = {1, 2};
  kat__mix_obj_ptr(p, no_obj, 2, 3.0f, 1, 1, 0, 1);
  KAT_CHECK(p[0] == 1 && p[1] == 2); /* present, hard: unchanged */
  kat__mix_obj_ptr(p, no_obj, 2, -3.0f, 0, 1, 0, 1);
  KAT_CHECK(p[0] == 10 && p[1] == 20); /* absent, fixed: the no-object pointer */
  float q[2] = {1, 2};
  kat__mix_obj_ptr(q, no_obj, 2, -3.0f, 0, 1, 0, 0);
  KAT_CHECK(q[0] == 11 && q[1] == 22); /* absent, not fixed: added */
  float r[2] = {1, 2};
  kat__mix_obj_ptr(r, no_obj, 2, 0.0f, 1, 1, 1, 1); /* soft: lambda = 0.5 */
  KAT_CHECK_NEAR(r[0], 5.5, 1e-6);
  KAT_CHECK_NEAR(r[1], 11.0, 1e-6);
  float s[2] = {1, 2};
  kat__mix_obj_ptr(s, no_obj, 2, -3.0f, 0, 0, 0, 1); /* no object scores: untouched */
  KAT_CHECK(s[0] == 1 && s[1] == 2);
}

/* ---- maskbox ---- */

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static double urand(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (double)(rs >> 11) / 9007199254740992.0;
}

/* Straightforward full upsample, written independently of maskbox.c: PyTorch 1.13's CPU
 * F.interpolate(bilinear, align_corners=False) with its multi-channel (FMA) and single-channel
 * (double sum) kernels. */
static void axis_weights(int in, int out, int d, int *i0, int *i1, float *l0, float *l1) {
  double scale = (float)in / (float)out;
  double src = scale * (d + 0.5) - 0.5;
  if (src < 0) src = 0;
  *i0 = (int)src;
  if (*i0 > in - 1) *i0 = in - 1;
  *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
  double l = src - *i0;
  *l1 = (float)(l > 1 ? 1 : l);
  *l0 = 1.0f - *l1;
}

static void brute_upsample(const float *m, int lh, int lw, int oh, int ow, int single, float *out) {
  for (int y = 0; y < oh; y++) {
    int y0, y1;
    float ly0, ly1;
    axis_weights(lh, oh, y, &y0, &y1, &ly0, &ly1);
    for (int x = 0; x < ow; x++) {
      int x0, x1;
      float lx0, lx1;
      axis_weights(lw, ow, x, &x0, &x1, &lx0, &lx1);
      float a = m[y0 * lw + x0], b = m[y0 * lw + x1], c = m[y1 * lw + x0], d = m[y1 * lw + x1];
      float v;
      if (single) {
        float w00 = ly0 * lx0, w01 = ly0 * lx1, w10 = ly1 * lx0, w11 = ly1 * lx1;
        v = (float)((double)a * w00 + (double)b * w01 + (double)c * w10 + (double)d * w11);
      } else {
        float t0 = fmaf(a, lx0, b * lx1), t1 = fmaf(c, lx0, d * lx1);
        v = fmaf(t0, ly0, t1 * ly1);
      }
      out[(size_t)y * ow + x] = v;
    }
  }
}

static int brute_box(const float *up, int oh, int ow, int box[4]) {
  int x0 = ow, y0 = oh, x1 = -1, y1 = -1;
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++)
      if (up[(size_t)y * ow + x] > 0.0f) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  if (x1 < 0) {
    box[0] = box[1] = box[2] = box[3] = 0;
    return 0;
  }
  box[0] = x0;
  box[1] = y0;
  box[2] = x1;
  box[3] = y1;
  return 1;
}

/* Random mask: a blob of positive logits with a soft edge, noise, sometimes empty / tiny. */
static void random_mask(float *m, int lh, int lw, int kind) {
  double cx = urand() * lw, cy = urand() * lh, rx = 1 + urand() * lw / 3, ry = 1 + urand() * lh / 3;
  for (int y = 0; y < lh; y++)
    for (int x = 0; x < lw; x++) {
      double d = ((x - cx) / rx) * ((x - cx) / rx) + ((y - cy) / ry) * ((y - cy) / ry);
      double v = (1.0 - d) * 8.0 + (urand() - 0.5) * 2.0;
      if (kind == 1) v = -5.0 - urand();                                /* empty */
      if (kind == 2) v = (x == (int)cx && y == (int)cy) ? 0.01 : -0.01; /* single faint pixel */
      if (kind == 3) v = urand() < 0.01 ? urand() : -urand();           /* speckle */
      m[y * lw + x] = (float)v;
    }
}

KAT_TEST(test_maskbox_exact_vs_brute) {
  const int sizes[][4] = {
      {128, 128, 512, 512}, {64, 64, 256, 256}, {128, 128, 720, 1280}, {32, 48, 101, 77}};
  int mismatches = 0, trials = 0, nonempty = 0;
  double fast_err = 0;
  int fast_n = 0;
  for (int s = 0; s < 4; s++) {
    int lh = sizes[s][0], lw = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
    float *m = malloc(sizeof(float) * lh * lw), *up = malloc(sizeof(float) * oh * ow);
    uint8_t *render = malloc((size_t)oh * ow);
    kat__lin_axis ay, ax;
    KAT_CHECK_INT_EQ(kat__lin_axis_init(&ay, lh, oh), KAT_OK);
    KAT_CHECK_INT_EQ(kat__lin_axis_init(&ax, lw, ow), KAT_OK);
    int n = s == 2 ? 6 : 25;
    for (int t = 0; t < n; t++) {
      random_mask(m, lh, lw, t % 5 == 4 ? 3 : t % 7 == 1 ? 1 : t % 7 == 2 ? 2 : 0);
      const int single = t % 2;
      const kat__bilinear_kernel k = single ? KAT__BILINEAR_SINGLE : KAT__BILINEAR_MULTI;
      brute_upsample(m, lh, lw, oh, ow, single, up);
      int want[4], got[4], fast[4];
      int we = brute_box(up, oh, ow, want);
      int ge = kat__mask_box_exact(m, &ay, &ax, k, got);
      trials++;
      nonempty += we;
      if (we != ge || memcmp(want, got, sizeof want) != 0) {
        mismatches++;
        fprintf(stderr, "size %d trial %d: exact [%d %d %d %d] vs brute [%d %d %d %d]\n", s, t,
                got[0], got[1], got[2], got[3], want[0], want[1], want[2], want[3]);
      }
      if (kat__mask_box_fast(m, lh, lw, oh, ow, fast) && we)
        for (int i = 0; i < 4; i++) {
          fast_err += fabs((double)fast[i] - want[i]);
          fast_n++;
        }
      kat__mask_render(m, &ay, &ax, k, render, (size_t)ow);
      int pix_bad = 0;
      for (size_t i = 0; i < (size_t)oh * ow; i++) pix_bad += (render[i] != 0) != (up[i] > 0.0f);
      KAT_CHECK_INT_EQ(pix_bad, 0);
    }
    kat__lin_axis_cleanup(&ay);
    kat__lin_axis_cleanup(&ax);
    free(m);
    free(up);
    free(render);
  }
  printf(
      "maskbox: %d random masks (%d non-empty), exact box mismatches %d; fast box mean |error| "
      "%.2f px per coordinate\n",
      trials, nonempty, mismatches, fast_n ? fast_err / fast_n : 0.0);
  KAT_CHECK_INT_EQ(mismatches, 0);
  KAT_CHECK(nonempty > trials / 2);
  KAT_CHECK(fast_n > 0 && fast_err / fast_n < 4.0);
}

KAT_TEST(test_lin_axis) {
  kat__lin_axis a;
  KAT_CHECK_INT_EQ(kat__lin_axis_init(&a, 0, 4), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat__lin_axis_init(&a, 128, 512), KAT_OK);
  /* scale 1/4: dst 0 -> src max(0.125 - 0.5, 0) = 0; dst 2 -> 0.125; dst 511 -> 127.375 */
  KAT_CHECK_INT_EQ(a.i0[0], 0);
  KAT_CHECK_NEAR(a.w1[0], 0.0, 0);
  KAT_CHECK_NEAR(a.w1[2], 0.125, 0);
  KAT_CHECK_INT_EQ(a.i0[511], 127);
  KAT_CHECK_INT_EQ(a.i1[511], 127);
  kat__lin_axis_cleanup(&a);
  kat__lin_axis_cleanup(&a); /* no-op on a zeroed struct */
}

KAT_TEST_MAIN(KAT_CASE(test_samurai_phases), KAT_CASE(test_weighted_float32),
              KAT_CASE(test_argmax_and_stability), KAT_CASE(test_gating_and_pointer),
              KAT_CASE(test_maskbox_exact_vs_brute), KAT_CASE(test_lin_axis))
