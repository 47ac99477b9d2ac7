/*
 * Tests for the evaluation metrics and readers (src/tools/eval/): box IoU edge cases, the success
 * curve and its AUC, precision at 20 px, normalised precision, absent ground truth, held
 * predictions, mask IoU, the box-file and results.jsonl parsers on messy input, PNG masks, whole
 * results folders through the public API, and `katana eval` on those folders. Every expected value
 * is worked out by hand in the comment next to it.
 */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "tools/eval/metrics.h"
#include "tools/eval/results.h"
#include "tools/eval/eval.h"
#include "kat_test.h"

static kat__eval_box B(double x, double y, double w, double h) {
  kat__eval_box b = {x, y, w, h};
  return b;
}

KAT_TEST(test_box_iou_edges) {
  kat__eval_box a = B(0, 0, 10, 10);
  kat__eval_box same = B(0, 0, 10, 10);
  KAT_CHECK_NEAR(kat__box_iou(&a, &same), 1.0, 1e-12);
  kat__eval_box far = B(20, 20, 5, 5);
  KAT_CHECK_NEAR(kat__box_iou(&a, &far), 0.0, 0);
  /* Contained: 5x5 inside 10x10 -> 25 / 100. */
  kat__eval_box inner = B(2, 2, 5, 5);
  KAT_CHECK_NEAR(kat__box_iou(&a, &inner), 0.25, 1e-12);
  KAT_CHECK_NEAR(kat__box_iou(&inner, &a), 0.25, 1e-12);
  /* Touching along an edge (x = 10) or at a corner: no shared pixel. */
  kat__eval_box right = B(10, 0, 10, 10), corner = B(10, 10, 3, 3);
  KAT_CHECK_NEAR(kat__box_iou(&a, &right), 0.0, 0);
  KAT_CHECK_NEAR(kat__box_iou(&a, &corner), 0.0, 0);
  /* One pixel of overlap in x: 1*10 / (100 + 100 - 10). */
  kat__eval_box one = B(9, 0, 10, 10);
  KAT_CHECK_NEAR(kat__box_iou(&a, &one), 10.0 / 190.0, 1e-12);
  /* Partial: 5x5 shared -> 25 / 175. */
  kat__eval_box part = B(5, 5, 10, 10);
  KAT_CHECK_NEAR(kat__box_iou(&a, &part), 25.0 / 175.0, 1e-12);
  /* Empty, negative and NaN boxes never overlap anything (not even themselves). */
  kat__eval_box empty = B(0, 0, 0, 0), flat = B(0, 0, 10, 0), neg = B(0, 0, -5, 5);
  kat__eval_box nan = B(NAN, NAN, NAN, NAN);
  KAT_CHECK_NEAR(kat__box_iou(&a, &empty), 0.0, 0);
  KAT_CHECK_NEAR(kat__box_iou(&empty, &empty), 0.0, 0);
  KAT_CHECK_NEAR(kat__box_iou(&a, &flat), 0.0, 0);
  KAT_CHECK_NEAR(kat__box_iou(&a, &neg), 0.0, 0);
  KAT_CHECK_NEAR(kat__box_iou(&a, &nan), 0.0, 0);
  KAT_CHECK(!kat__box_valid(&empty));
  KAT_CHECK(!kat__box_valid(&nan));
  KAT_CHECK(kat__box_valid(&a));
  KAT_CHECK_NEAR(kat__eval_box_iou(&a, &inner), 0.25, 1e-12);
  /* Fractional boxes: [0.5,0.5,2,2] vs [1.5,0.5,2,2] share 1x2 -> 2 / (4 + 4 - 2). */
  kat__eval_box f1 = B(0.5, 0.5, 2, 2), f2 = B(1.5, 0.5, 2, 2);
  KAT_CHECK_NEAR(kat__box_iou(&f1, &f2), 2.0 / 6.0, 1e-12);
  /* Identical fractional boxes are exactly 1 although (x + w) - x != w in floating point. */
  kat__eval_box r1 = B(123.45, 67.89, 46.1, 35.3), r2 = r1;
  KAT_CHECK(kat__box_iou(&r1, &r2) == 1.0);
}

KAT_TEST(test_worst_list) {
  /* Keys: min(box, mask) where both exist. Ties go by frame number; NaN and full agreement (1)
   * never enter; a lower key pushes the last entry out. */
  kat__eval_frame list[3];
  size_t count = 0;
  const kat__eval_frame in[] = {
      {3, 0.5, NAN, -1, -1}, {7, 0.9, 0.2, -1, -1}, {1, NAN, 0.5, -1, -1},
      {4, NAN, NAN, -1, -1}, {5, 1.0, 1.0, -1, -1}, {6, 0.8, NAN, -1, -1},
  };
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) kat__worst_insert(list, &count, 3, &in[i]);
  KAT_CHECK_INT_EQ(count, 3);
  KAT_CHECK_INT_EQ(list[0].frame, 7);
  KAT_CHECK_INT_EQ(list[1].frame, 1);
  KAT_CHECK_INT_EQ(list[2].frame, 3);
  const kat__eval_frame low = {9, 0.1, NAN, -1, -1};
  kat__worst_insert(list, &count, 3, &low);
  KAT_CHECK_INT_EQ(count, 3);
  KAT_CHECK_INT_EQ(list[0].frame, 9);
  KAT_CHECK_INT_EQ(list[1].frame, 7);
  KAT_CHECK_INT_EQ(list[2].frame, 1);
  kat__worst_insert(list, &count, 0, &low); /* cap 0: nothing */
  KAT_CHECK_INT_EQ(count, 3);
}

KAT_TEST(test_center_errors) {
  kat__eval_box gt = B(100, 100, 20, 20);
  kat__eval_box p = B(103, 104, 20, 20);
  KAT_CHECK_NEAR(kat__box_center_error(&p, &gt), 5.0, 1e-12);
  /* Same center, other size: (x + (w-1)/2) = 100 + 9.5 = 105 + 4.5. */
  kat__eval_box q = B(105, 105, 10, 10);
  KAT_CHECK_NEAR(kat__box_center_error(&q, &gt), 0.0, 1e-12);
  /* Normalised: dx = 20 on w = 100, dy = 5 on h = 50 -> sqrt(0.04 + 0.01). */
  kat__eval_box g2 = B(0, 0, 100, 50), p2 = B(20, 5, 100, 50);
  KAT_CHECK_NEAR(kat__box_center_error_norm(&p2, &g2), sqrt(0.05), 1e-12);
}

KAT_TEST(test_success_curve_and_auc) {
  /* IoUs {1, 0.5, 0, 0.72}; success(t) counts iou > t (strict):
   * t = 0 .. 0.45 (10 points): 3/4; t = 0.5 .. 0.7 (5): 2/4 (0.5 is not > 0.5);
   * t = 0.75 .. 0.95 (5): 1/4; t = 1: 0. AUC = (10*0.75 + 5*0.5 + 5*0.25) / 21 = 11.25 / 21. */
  double iou[4] = {1.0, 0.5, 0.0, 0.72};
  double s[KAT_EVAL_SUCCESS_POINTS];
  kat__success_curve(iou, 4, 4, s);
  KAT_CHECK_NEAR(s[0], 0.75, 1e-12);
  KAT_CHECK_NEAR(s[9], 0.75, 1e-12);
  KAT_CHECK_NEAR(s[10], 0.5, 1e-12);
  KAT_CHECK_NEAR(s[14], 0.5, 1e-12);
  KAT_CHECK_NEAR(s[15], 0.25, 1e-12);
  KAT_CHECK_NEAR(s[19], 0.25, 1e-12);
  KAT_CHECK_NEAR(s[20], 0.0, 0);
  KAT_CHECK_NEAR(kat__curve_mean(s, KAT_EVAL_SUCCESS_POINTS), 11.25 / 21.0, 1e-12);
  /* A larger denominator (absent frames as failures) scales every point. */
  kat__success_curve(iou, 4, 8, s);
  KAT_CHECK_NEAR(s[0], 0.375, 1e-12);
  double three[3] = {0.0, 0.5, 1.0};
  KAT_CHECK_NEAR(kat__curve_mean(three, 3), 0.5, 1e-12);
  KAT_CHECK_NEAR(kat__success_threshold(3), 0.15, 1e-15);
  KAT_CHECK_NEAR(kat__norm_precision_threshold(20), 0.2, 1e-15);
  KAT_CHECK_NEAR(kat__curve_mean(s, 0), 0.0, 0);
}

static kat__eval_options defaults(void) {
  kat__eval_options o;
  kat__eval_options_default(&o);
  return o;
}

KAT_TEST(test_precision_20px) {
  /* gt 20x20 at (100,100); predictions offset by (0,0), (12,16) -> 20 px exactly (counts: the
   * threshold is inclusive), (15,15) -> 21.2 px (misses), (3,4) -> 5 px. */
  kat__eval_box gt[4] = {B(100, 100, 20, 20), B(100, 100, 20, 20), B(100, 100, 20, 20),
                         B(100, 100, 20, 20)};
  kat__eval_box pred[4] = {B(100, 100, 20, 20), B(112, 116, 20, 20), B(115, 115, 20, 20),
                           B(103, 104, 20, 20)};
  double work[12], iou[4];
  kat__eval_options o = defaults();
  kat__eval_score sc;
  memset(&sc, 0, sizeof sc);
  KAT_CHECK_INT_EQ(kat__score_boxes(pred, 4, gt, 4, &o, work, iou, &sc), 4);
  KAT_CHECK_NEAR(sc.precision_20, 0.75, 1e-12);
  KAT_CHECK_NEAR(sc.precision[20], 0.75, 1e-12);
  KAT_CHECK_NEAR(sc.precision[21], 0.75, 1e-12); /* 21.2 px passes from 22 on */
  KAT_CHECK_NEAR(sc.precision[22], 1.0, 1e-12);
  KAT_CHECK_NEAR(sc.precision[5], 0.5, 1e-12);
  KAT_CHECK_NEAR(sc.precision[4], 0.25, 1e-12);
  /* IoU of frame 3: 17x16 shared = 272 / (400 + 400 - 272). */
  KAT_CHECK_NEAR(iou[3], 272.0 / 528.0, 1e-12);
  KAT_CHECK_NEAR(iou[0], 1.0, 1e-12);
}

KAT_TEST(test_norm_precision) {
  /* gt 100x50 at the origin; normalised errors: frame 0 = gt (0), frame 1 dx 20 -> 0.2 (counts
   * at 0.2), frame 2 dy 15 -> 0.3 (misses at 0.2, though only 15 px), frame 3 (10,5) -> 0.1414.
   * norm_precision[20] = 3/4, plain precision_20 = 1. The curve over 0:0.01:0.5 counts
   * 1 (i = 0..14), 2 (15..19), 3 (20..29), 4 (30..50): (15 + 10 + 30 + 84) / 4 / 51. */
  kat__eval_box gt[4], pred[4];
  for (int i = 0; i < 4; i++) gt[i] = B(0, 0, 100, 50);
  pred[0] = B(0, 0, 100, 50);
  pred[1] = B(20, 0, 100, 50);
  pred[2] = B(0, 15, 100, 50);
  pred[3] = B(10, 5, 100, 50);
  double work[12];
  kat__eval_options o = defaults();
  kat__eval_score sc;
  memset(&sc, 0, sizeof sc);
  kat__score_boxes(pred, 4, gt, 4, &o, work, NULL, &sc);
  KAT_CHECK_NEAR(sc.norm_precision_020, 0.75, 1e-12);
  KAT_CHECK_NEAR(sc.precision_20, 1.0, 1e-12);
  KAT_CHECK_NEAR(sc.norm_precision[14], 0.25, 1e-12);
  KAT_CHECK_NEAR(sc.norm_precision[15], 0.5, 1e-12);
  KAT_CHECK_NEAR(sc.norm_precision[29], 0.75, 1e-12);
  KAT_CHECK_NEAR(sc.norm_precision[30], 1.0, 1e-12);
  KAT_CHECK_NEAR(sc.norm_precision_auc, 139.0 / 4.0 / 51.0, 1e-12);
}

KAT_TEST(test_absent_and_held) {
  /* gt: f2 is 0,0,0,0 and f3 NaN (absent). pred: f0 replaced by gt; f1 exact (1); f2 far;
   * f3 invalid -> holds f2's box (frame is absent anyway); f4 shifted by 5 -> 50 / 150.
   * Scored frames 0, 1, 4: mean IoU (1 + 1 + 1/3) / 3. */
  kat__eval_box gt[5] = {B(0, 0, 10, 10), B(0, 0, 10, 10), B(0, 0, 0, 0), B(NAN, NAN, NAN, NAN),
                         B(0, 0, 10, 10)};
  kat__eval_box pred[5] = {B(40, 40, 1, 1), B(0, 0, 10, 10), B(50, 50, 10, 10), B(0, 0, 0, 0),
                           B(5, 0, 10, 10)};
  double work[15], iou[5];
  kat__eval_options o = defaults();
  kat__eval_score sc;
  memset(&sc, 0, sizeof sc);
  KAT_CHECK_INT_EQ(kat__score_boxes(pred, 5, gt, 5, &o, work, iou, &sc), 3);
  KAT_CHECK_INT_EQ(sc.box_frames, 3);
  KAT_CHECK_INT_EQ(sc.absent_frames, 2);
  KAT_CHECK_INT_EQ(sc.invalid_pred, 0);
  KAT_CHECK(isnan(iou[2]) && isnan(iou[3]));
  KAT_CHECK_NEAR(iou[0], 1.0, 1e-12);
  KAT_CHECK_NEAR(iou[4], 1.0 / 3.0, 1e-12);
  KAT_CHECK_NEAR(sc.mean_box_iou, (2.0 + 1.0 / 3.0) / 3.0, 1e-12);
  KAT_CHECK_NEAR(sc.success[0], 1.0, 1e-12);
  KAT_CHECK_NEAR(sc.success[10], 2.0 / 3.0, 1e-12);
  /* pytracking's default keeps absent frames in the denominator as failures: 3/5, 2/5. */
  o.absent_as_failure = 1;
  kat__score_boxes(pred, 5, gt, 5, &o, work, iou, &sc);
  KAT_CHECK_NEAR(sc.success[0], 0.6, 1e-12);
  KAT_CHECK_NEAR(sc.success[10], 0.4, 1e-12);
  /* Without the first-frame rule frame 0 scores its own (disjoint) box. */
  o = defaults();
  o.first_frame_gt = 0;
  kat__score_boxes(pred, 5, gt, 5, &o, work, iou, &sc);
  KAT_CHECK_NEAR(iou[0], 0.0, 0);

  /* Held prediction: f2 is NaN and takes f1's box (IoU 80/120); without holding it scores 0 and
   * its center error is infinite (fails every precision threshold). A run shorter than the gt
   * counts its missing frames as invalid. */
  kat__eval_box g3[4] = {B(0, 0, 10, 10), B(0, 0, 10, 10), B(0, 0, 10, 10), B(0, 0, 10, 10)};
  kat__eval_box p3[3] = {B(0, 0, 10, 10), B(2, 0, 10, 10), B(NAN, 0, 10, 10)};
  double w4[12], i4[4];
  o = defaults();
  kat__score_boxes(p3, 3, g3, 4, &o, w4, i4, &sc);
  KAT_CHECK_NEAR(i4[2], 80.0 / 120.0, 1e-12);
  KAT_CHECK_NEAR(i4[3], 80.0 / 120.0, 1e-12);
  KAT_CHECK_INT_EQ(sc.invalid_pred, 2);
  KAT_CHECK_NEAR(sc.precision[50], 1.0, 1e-12);
  o.hold_last_box = 0;
  kat__score_boxes(p3, 3, g3, 4, &o, w4, i4, &sc);
  KAT_CHECK_NEAR(i4[2], 0.0, 0);
  KAT_CHECK_NEAR(i4[3], 0.0, 0);
  KAT_CHECK_NEAR(sc.precision[50], 0.5, 1e-12);
}

KAT_TEST(test_mask_iou) {
  /* 3x3 masks: a = left 2x2 block, b = right 2x2 block of the top two rows: 2 shared, 6 in the
   * union -> 1/3. */
  const uint8_t a[9] = {1, 1, 0, 1, 1, 0, 0, 0, 0};
  const uint8_t b[9] = {0, 255, 1, 0, 1, 1, 0, 0, 0};
  const uint8_t z[9] = {0};
  size_t inter = 0, uni = 0;
  KAT_CHECK_NEAR(kat__mask_iou(a, b, 9, &inter, &uni), 1.0 / 3.0, 1e-12);
  KAT_CHECK_INT_EQ(inter, 2);
  KAT_CHECK_INT_EQ(uni, 6);
  KAT_CHECK_NEAR(kat__mask_iou(a, a, 9, NULL, NULL), 1.0, 0);
  KAT_CHECK_NEAR(kat__mask_iou(z, z, 9, NULL, NULL), 1.0, 0); /* both empty: 1 (DAVIS) */
  KAT_CHECK_NEAR(kat__mask_iou(a, z, 9, NULL, NULL), 0.0, 0);
  kat__eval_box bb;
  KAT_CHECK(kat__mask_bbox(b, 3, 3, &bb));
  KAT_CHECK_NEAR(bb.x, 1, 0);
  KAT_CHECK_NEAR(bb.y, 0, 0);
  KAT_CHECK_NEAR(bb.w, 2, 0);
  KAT_CHECK_NEAR(bb.h, 2, 0);
  KAT_CHECK(!kat__mask_bbox(z, 3, 3, &bb));
  KAT_CHECK(isnan(bb.w));
}

KAT_TEST(test_boxfile_parser) {
  /* Commas, spaces, tabs, CRLF, NaN, padding, blank trailing lines. */
  const char *txt = "1,2,3,4\n5 6\t7 8\r\nNaN,NaN,NaN,NaN\n  9 , 10 ,11.5, 12  \n0,0,0,0\n\n  \n";
  kat__eval_box *boxes = NULL;
  size_t n = 0;
  char err[256] = "";
  KAT_CHECK_INT_EQ(kat__boxfile_parse(txt, strlen(txt), "gt.txt", &boxes, &n, err, sizeof err),
                   KAT_OK);
  KAT_CHECK_INT_EQ(n, 5);
  if (n == 5) {
    KAT_CHECK_NEAR(boxes[0].x, 1, 0);
    KAT_CHECK_NEAR(boxes[0].h, 4, 0);
    KAT_CHECK_NEAR(boxes[1].x, 5, 0);
    KAT_CHECK_NEAR(boxes[1].h, 8, 0);
    KAT_CHECK(isnan(boxes[2].x) && isnan(boxes[2].h));
    KAT_CHECK_NEAR(boxes[3].w, 11.5, 0);
    KAT_CHECK_NEAR(boxes[3].h, 12, 0);
    KAT_CHECK(!kat__box_valid(&boxes[4]));
  }
  kat__free(boxes);

  struct {
    const char *text, *needle;
  } bad[] = {
      {"1,2,3,4\n1,2,x,4\n", "bad.txt:2:"},
      {"1,2,3,4\n1,2,3\n", "got 3"},
      {"1,2,3,4,5\n", "bad.txt:1: more than 4"},
      {"1,2,3,4\n\n5,6,7,8\n", "bad.txt:2: blank line"},
      {"1,,2,3\n", "empty field"},
      {"1,2,inf,4\n", "infinite"},
      {"1,2,3,4x\n", "unexpected character 'x'"},
      {"1,2,3,4\n5,6,7,8\n9;10;11;12\n", "bad.txt:3:"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    boxes = NULL;
    int st = kat__boxfile_parse(bad[i].text, strlen(bad[i].text), "bad.txt", &boxes, &n, err,
                                sizeof err);
    KAT_CHECK_INT_EQ(st, KAT_EFORMAT);
    KAT_CHECK(boxes == NULL);
    KAT_CHECK_CONTAINS(err, bad[i].needle);
  }
  /* An empty file parses to zero boxes. */
  KAT_CHECK_INT_EQ(kat__boxfile_parse("\n\n", 2, "e.txt", &boxes, &n, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(n, 0);

  /* LaSOT flag files. */
  uint8_t flags[4];
  KAT_CHECK_INT_EQ(kat__flags_parse("0,1,1,0\n", 8, "f.txt", flags, 4, err, sizeof err), KAT_OK);
  KAT_CHECK(flags[0] == 0 && flags[1] == 1 && flags[2] == 1 && flags[3] == 0);
  KAT_CHECK_INT_EQ(kat__flags_parse("0,1,2,0", 7, "f.txt", flags, 4, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK_INT_EQ(kat__flags_parse("0,1,10", 6, "f.txt", flags, 4, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK_INT_EQ(kat__flags_parse("0,1,1,0,1", 9, "f.txt", flags, 4, err, sizeof err),
                   KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "more flags");
}

KAT_TEST(test_jsonl_parser) {
  const char *txt =
      "{\"frame\": 0, \"box\": [1, 2, 3, 4], \"candidate\": 1, \"scores\": [0.1, {\"a\": "
      "\"x}\"}]}\n"
      "\n"
      "{\"box\": [5,6,7,8], \"present\": false, \"note\": \"a \\\"q\\\" b\", \"candidate\": null}\n"
      "{\"frame\": 7, \"candidate\": 2, \"nested\": {\"x\": [true, false, null, -1e-3]}}\n";
  kat__jsonl_record *r = NULL;
  size_t n = 0;
  char err[256] = "";
  int st = kat__jsonl_parse(txt, strlen(txt), "r.jsonl", &r, &n, err, sizeof err);
  KAT_CHECK_INT_EQ(st, KAT_OK);
  if (st != KAT_OK) fprintf(stderr, "%s\n", err);
  KAT_CHECK_INT_EQ(n, 3);
  if (n == 3) {
    KAT_CHECK_INT_EQ(r[0].frame, 0);
    KAT_CHECK(r[0].has_box);
    KAT_CHECK_NEAR(r[0].box.w, 3, 0);
    KAT_CHECK_INT_EQ(r[0].candidate, 1);
    KAT_CHECK_INT_EQ(r[1].frame, 1);              /* default: index among non-blank lines */
    KAT_CHECK(r[1].has_box && isnan(r[1].box.x)); /* present: false */
    KAT_CHECK_INT_EQ(r[1].candidate, -1);
    KAT_CHECK_INT_EQ(r[2].frame, 7);
    KAT_CHECK(!r[2].has_box);
    KAT_CHECK_INT_EQ(r[2].candidate, 2);
  }
  kat__free(r);
  const char *bad = "{\"frame\": 0}\n{\"frame\": 1, \"box\": [1,2,3]}\n";
  st = kat__jsonl_parse(bad, strlen(bad), "r.jsonl", &r, &n, err, sizeof err);
  KAT_CHECK_INT_EQ(st, KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "r.jsonl:2:");
  const char *huge = "{\"frame\": 2000000}\n";
  st = kat__jsonl_parse(huge, strlen(huge), "r.jsonl", &r, &n, err, sizeof err);
  KAT_CHECK_INT_EQ(st, KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "from 0 to 1999999");
  const char *bad2 = "{\"frame\": -3}\n";
  st = kat__jsonl_parse(bad2, strlen(bad2), "r.jsonl", &r, &n, err, sizeof err);
  KAT_CHECK_INT_EQ(st, KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "r.jsonl:1:");
  /* Hand-written lines the one JSON parser rejects: a duplicate key, text after the object, a
   * non-object line, a bare NaN; CRLF line ends are accepted. */
  const char *rejected[] = {"{\"frame\": 0}\r\n{\"frame\": 1, \"frame\": 2}\n",
                            "{\"frame\": 0} x\n", "{\"frame\": 0}\n[1, 2]\n",
                            "{\"box\": [NaN, 1, 2, 3]}\n"};
  const char *where[] = {"r.jsonl:2:", "r.jsonl:1:", "r.jsonl:2:", "r.jsonl:1:"};
  for (int i = 0; i < 4; i++) {
    r = NULL;
    st = kat__jsonl_parse(rejected[i], strlen(rejected[i]), "r.jsonl", &r, &n, err, sizeof err);
    KAT_CHECK_INT_EQ(st, KAT_EFORMAT);
    KAT_CHECK_CONTAINS(err, where[i]);
    KAT_CHECK(r == NULL);
  }
  const char *crlf = "{\"frame\": 3, \"box\": [1, null, 3, 4]}\r\n\r\n";
  st = kat__jsonl_parse(crlf, strlen(crlf), "r.jsonl", &r, &n, err, sizeof err);
  KAT_CHECK_INT_EQ(st, KAT_OK);
  KAT_CHECK_INT_EQ(n, 1);
  if (st == KAT_OK && n == 1) KAT_CHECK(r[0].frame == 3 && isnan(r[0].box.y) && r[0].box.h == 4);
  kat__free(r);
}

/* ---- files: PNG masks and results folders ---- */

static char g_tmp[512];

/* Writes a w x h PNG: 8-bit gray (palette = 0) or 8-bit palette with `colors` entries. */
static int write_png(const char *path, const uint8_t *px, int w, int h, int palette) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return -1;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
               palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) {
    png_color pal[4] = {{0, 0, 0}, {128, 0, 0}, {0, 128, 0}, {128, 128, 0}};
    png_set_PLTE(png, info, pal, 4);
  }
  png_write_info(png, info);
  for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(px + y * w));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
  return 0;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static const char *tmp_path(const char *rel) {
  static char buf[4][1024];
  static int k = 0;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, rel);
  return buf[k];
}

/* 4x4 masks. gt (palette, DAVIS-like): object 1 in the top-left 2x2 block, object 2 elsewhere. */
static void make_fixture(void) {
  snprintf(g_tmp, sizeof g_tmp, "%s/kat_test_metrics_XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_tmp)) KAT_SKIP("cannot create a temporary folder");
  mkdir(tmp_path("gt"), 0755);
  mkdir(tmp_path("run_a"), 0755);
  mkdir(tmp_path("run_a/masks"), 0755);
  mkdir(tmp_path("run_b"), 0755);
  mkdir(tmp_path("run_b/masks"), 0755);
  /* Frame 0: object 1 at x,y in [0,2) (bbox 0,0,2,2). Frame 1: object 1 at x in [1,3), y in [0,2)
   * (bbox 1,0,2,2). Frame 2: object 1 absent (only object 2). */
  uint8_t g0[16] = {1, 1, 0, 2, 1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0};
  uint8_t g1[16] = {0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 2, 2, 0, 0};
  uint8_t g2[16] = {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  write_png(tmp_path("gt/00000.png"), g0, 4, 4, 1);
  write_png(tmp_path("gt/00001.png"), g1, 4, 4, 1);
  write_png(tmp_path("gt/00002.png"), g2, 4, 4, 1);
  /* Run A (gray 0/255): frame 0 exact; frame 1 the left block again (IoU with gt 2/6);
   * frame 2 one stray pixel (gt empty -> IoU 0). */
  uint8_t a0[16] = {255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  uint8_t a2[16] = {0};
  a2[15] = 255;
  write_png(tmp_path("run_a/masks/00000.png"), a0, 4, 4, 0);
  write_png(tmp_path("run_a/masks/00001.png"), a0, 4, 4, 0);
  write_png(tmp_path("run_a/masks/00002.png"), a2, 4, 4, 0);
  write_text(tmp_path("run_a/boxes.txt"), "0,0,2,2\n0,0,2,2\n3,3,1,1\n");
  write_text(tmp_path("run_a/results.jsonl"),
             "{\"frame\":0,\"candidate\":0}\n{\"frame\":1,\"candidate\":1}\n"
             "{\"frame\":2,\"candidate\":2}\n");
  /* Run B: frame 0 exact, frame 1 exact, no mask for frame 2 (empty); boxes only from jsonl. */
  uint8_t b1[16] = {0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  write_png(tmp_path("run_b/masks/00000.png"), a0, 4, 4, 0);
  write_png(tmp_path("run_b/masks/00001.png"), b1, 4, 4, 0);
  write_text(tmp_path("run_b/results.jsonl"),
             "{\"frame\":0,\"box\":[0,0,2,2],\"candidate\":0}\n"
             "{\"frame\":1,\"box\":[1,0,2,2],\"candidate\":2}\n"
             "{\"frame\":2,\"box\":null,\"candidate\":2}\n");
  write_text(tmp_path("gt.txt"), "0,0,2,2\n1,0,2,2\n0,0,0,0\n");
  mkdir(tmp_path("lasot"), 0755);
  write_text(tmp_path("lasot/groundtruth.txt"), "0,0,2,2\n1,0,2,2\n2,2,2,2\n");
  write_text(tmp_path("lasot/full_occlusion.txt"), "0,1,0");
  write_text(tmp_path("lasot/out_of_view.txt"), "0,0,0\n");
}

static void remove_fixture(void) {
  const char *files[] = {"gt/00000.png",
                         "gt/00001.png",
                         "gt/00002.png",
                         "run_a/masks/00000.png",
                         "run_a/masks/00001.png",
                         "run_a/masks/00002.png",
                         "run_a/boxes.txt",
                         "run_a/results.jsonl",
                         "run_b/masks/00000.png",
                         "run_b/masks/00001.png",
                         "run_b/results.jsonl",
                         "gt.txt",
                         "eval.json",
                         "cmp.json",
                         "lasot/groundtruth.txt",
                         "lasot/full_occlusion.txt",
                         "lasot/out_of_view.txt"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(tmp_path(files[i]));
  const char *dirs[] = {"gt", "run_a/masks", "run_a", "run_b/masks", "run_b", "lasot"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) rmdir(tmp_path(dirs[i]));
  rmdir(g_tmp);
}

KAT_TEST(test_png_masks) {
  kat__mask_buf mb = {0};
  char err[256] = "";
  KAT_CHECK_INT_EQ(kat__mask_read_png(tmp_path("gt/00001.png"), 0, &mb, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(mb.w, 4);
  KAT_CHECK_INT_EQ(mb.h, 4);
  /* Any non-zero index: objects 1 and 2 -> 6 pixels. */
  size_t fg = 0;
  for (size_t i = 0; i < 16; i++) fg += mb.data[i];
  KAT_CHECK_INT_EQ(fg, 6);
  KAT_CHECK_INT_EQ(kat__mask_read_png(tmp_path("gt/00001.png"), 2, &mb, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(mb.data[12] + mb.data[13] + mb.data[1], 2);
  KAT_CHECK_INT_EQ(kat__mask_read_png(tmp_path("run_a/masks/00000.png"), 0, &mb, err, sizeof err),
                   KAT_OK);
  KAT_CHECK_INT_EQ(mb.data[0] + mb.data[5] + mb.data[2], 2);
  KAT_CHECK_INT_EQ(kat__mask_read_png(tmp_path("gt.txt"), 0, &mb, err, sizeof err), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "not a PNG");
  KAT_CHECK_INT_EQ(kat__mask_read_png(tmp_path("nope.png"), 0, &mb, err, sizeof err), KAT_ENOENT);
  kat__mask_buf_cleanup(&mb);
}

KAT_TEST(test_score_folders) {
  char err[256] = "";
  kat__eval_seq *gt = NULL, *gtb = NULL, *a = NULL, *b = NULL;
  KAT_CHECK_INT_EQ(kat__eval_seq_load(tmp_path("gt"), 1, &gt, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(kat__eval_seq_load(tmp_path("gt.txt"), 0, &gtb, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(kat__eval_seq_load(tmp_path("run_a"), 0, &a, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(kat__eval_seq_load(tmp_path("run_b"), 0, &b, err, sizeof err), KAT_OK);
  if (!gt || !gtb || !a || !b) {
    fprintf(stderr, "load failed: %s\n", err);
    KAT_CHECK(0);
    goto done;
  }
  KAT_CHECK_INT_EQ(kat__eval_seq_frames(gt), 3);
  KAT_CHECK_STR_EQ(kat__eval_seq_box_source(gt), "masks");
  KAT_CHECK_STR_EQ(kat__eval_seq_box_source(a), "boxes.txt");
  KAT_CHECK_STR_EQ(kat__eval_seq_box_source(b), "results.jsonl");
  KAT_CHECK(kat__eval_seq_has_candidates(a) && kat__eval_seq_has_masks(a));
  kat__eval_box box;
  KAT_CHECK_INT_EQ(kat__eval_seq_box(gt, 1, &box), 1); /* bbox of object 1 in frame 1 */
  KAT_CHECK_NEAR(box.x, 1, 0);
  KAT_CHECK_NEAR(box.w, 2, 0);
  KAT_CHECK_INT_EQ(kat__eval_seq_box(gt, 2, &box), 0); /* object 1 absent */
  KAT_CHECK_INT_EQ(kat__eval_seq_box(gt, 3, &box), KAT_ERANGE);
  KAT_CHECK_INT_EQ(kat__eval_seq_candidate(a, 1), 1);

  /* Run A against the mask gt (object 1). Boxes: frame 0 := gt (1), frame 1 box (0,0,2,2) vs
   * (1,0,2,2) -> 2/6, frame 2 absent. Masks: frame 0 1, frame 1 2/6, frame 2 gt empty and one
   * predicted pixel -> 0. mIoU = (1 + 1/3 + 0) / 3. */
  kat__eval_options o;
  kat__eval_options_default(&o);
  kat__eval_score sc;
  KAT_CHECK_INT_EQ(kat__eval_score_run(a, gt, &o, &sc, err, sizeof err), KAT_OK);
  KAT_CHECK(sc.has_boxes && sc.has_masks);
  KAT_CHECK_INT_EQ(sc.box_frames, 2);
  KAT_CHECK_INT_EQ(sc.absent_frames, 1);
  KAT_CHECK_NEAR(sc.mean_box_iou, (1.0 + 1.0 / 3.0) / 2.0, 1e-12);
  KAT_CHECK_INT_EQ(sc.mask_frames, 3);
  KAT_CHECK_NEAR(sc.miou, (1.0 + 1.0 / 3.0) / 3.0, 1e-12);
  KAT_CHECK_INT_EQ(sc.worst_count, 2); /* frame 0 agrees fully and is not listed */
  KAT_CHECK_INT_EQ(sc.worst[0].frame, 2);
  KAT_CHECK_INT_EQ(sc.worst[1].frame, 1);
  /* Against the box-file gt the numbers agree, and there are no mask metrics. */
  kat__eval_score sb;
  KAT_CHECK_INT_EQ(kat__eval_score_run(a, gtb, &o, &sb, err, sizeof err), KAT_OK);
  KAT_CHECK(!sb.has_masks);
  KAT_CHECK_NEAR(sb.auc, sc.auc, 1e-12);
  KAT_CHECK_NEAR(sb.precision_20, 1.0, 1e-12);

  /* Run B: masks exact on frames 0 and 1, no mask file for frame 2 (gt empty -> 1). */
  KAT_CHECK_INT_EQ(kat__eval_score_run(b, gt, &o, &sc, err, sizeof err), KAT_OK);
  KAT_CHECK_NEAR(sc.miou, 1.0, 1e-12);
  KAT_CHECK_INT_EQ(sc.missing_masks, 1);
  KAT_CHECK_NEAR(sc.auc, 20.0 / 21.0, 1e-12);

  /* A vs B: boxes f0 1, f1 2/6, f2 A has (3,3,1,1), B none -> 0. Masks f0 1, f1 A left block vs
   * B right block -> 2/6, f2 A one pixel vs B no file -> 0. Candidates equal on 0 and 2. */
  kat__eval_compare cmp;
  KAT_CHECK_INT_EQ(kat__eval_compare_runs(a, b, &o, &cmp, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(cmp.frames, 3);
  KAT_CHECK_NEAR(cmp.mean_box_iou, (1.0 + 1.0 / 3.0) / 3.0, 1e-12);
  KAT_CHECK_NEAR(cmp.min_box_iou, 0.0, 0);
  KAT_CHECK_INT_EQ(cmp.box_agree_90, 1);
  KAT_CHECK_INT_EQ(cmp.mask_frames, 3);
  KAT_CHECK_NEAR(cmp.mean_mask_iou, (1.0 + 1.0 / 3.0) / 3.0, 1e-12);
  KAT_CHECK_INT_EQ(cmp.candidate_frames, 3);
  KAT_CHECK_NEAR(cmp.identical_choice_rate, 2.0 / 3.0, 1e-12);
  KAT_CHECK_INT_EQ(cmp.worst_count, 2);
  KAT_CHECK_INT_EQ(cmp.worst[0].frame, 2);
  KAT_CHECK_INT_EQ(cmp.worst[1].frame, 1);
  KAT_CHECK_INT_EQ(cmp.worst[1].candidate_a, 1);
  KAT_CHECK_INT_EQ(cmp.worst[1].candidate_b, 2);
  o.worst_count = 1;
  KAT_CHECK_INT_EQ(kat__eval_compare_runs(a, b, &o, &cmp, err, sizeof err), KAT_OK);
  KAT_CHECK_INT_EQ(cmp.worst_count, 1);

  /* LaSOT flag files beside a box file: frame 1 is flagged (full occlusion) and reads absent;
   * run A then scores frames 0 and 2 only, and frame 2 (3,3,1,1) vs (2,2,2,2) -> 1/4. */
  kat__eval_seq *la = NULL;
  KAT_CHECK_INT_EQ(kat__eval_seq_load(tmp_path("lasot/groundtruth.txt"), 0, &la, err, sizeof err),
                   KAT_OK);
  if (la) {
    KAT_CHECK_INT_EQ(kat__eval_seq_absent_flags(la), 1);
    KAT_CHECK_INT_EQ(kat__eval_seq_box(la, 1, &box), 0);
    KAT_CHECK_INT_EQ(kat__eval_seq_box(la, 2, &box), 1);
    KAT_CHECK_INT_EQ(kat__eval_score_run(a, la, &o, &sc, err, sizeof err), KAT_OK);
    KAT_CHECK_INT_EQ(sc.box_frames, 2);
    KAT_CHECK_NEAR(sc.mean_box_iou, (1.0 + 0.25) / 2.0, 1e-12);
  }
  kat__eval_seq_destroy(la);
  write_text(tmp_path("lasot/out_of_view.txt"), "0,0\n");
  la = NULL;
  KAT_CHECK_INT_EQ(kat__eval_seq_load(tmp_path("lasot/groundtruth.txt"), 0, &la, err, sizeof err),
                   KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "2 flags for the 3 frames");
  KAT_CHECK(la == NULL);

  /* A mask file numbered past the frame limit is refused before anything is allocated. */
  kat__eval_seq *big = NULL;
  mkdir(tmp_path("big"), 0755);
  write_text(tmp_path("big/3000000.png"), "x");
  KAT_CHECK_INT_EQ(kat__eval_seq_load_masks(tmp_path("big"), 0, &big, err, sizeof err),
                   KAT_EFORMAT);
  KAT_CHECK_CONTAINS(err, "frame number above");
  KAT_CHECK(big == NULL);
  unlink(tmp_path("big/3000000.png"));
  rmdir(tmp_path("big"));

  /* Errors name the file. */
  kat__eval_seq *bad = NULL;
  KAT_CHECK_INT_EQ(kat__eval_seq_load(tmp_path("missing"), 0, &bad, err, sizeof err), KAT_ENOENT);
  KAT_CHECK(bad == NULL);
  KAT_CHECK_CONTAINS(err, "missing");
done:
  kat__eval_seq_destroy(gt);
  kat__eval_seq_destroy(gtb);
  kat__eval_seq_destroy(a);
  kat__eval_seq_destroy(b);
  kat__eval_seq_destroy(NULL);
}

/* Reads a whole small file into buf; returns its length or -1. */
static long slurp(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return (long)n;
}

KAT_TEST(test_cli_eval) {
  const char *cli = getenv("KAT_CLI");
  if (!cli || access(cli, X_OK) != 0) KAT_SKIP("KAT_CLI is not set (run through CTest)");
  char cmd[4096], json[16384];
  snprintf(cmd, sizeof cmd,
           "'%s' eval --results '%s' --gt '%s' --object-id 1 --json '%s' >/dev/null", cli,
           tmp_path("run_a"), tmp_path("gt"), tmp_path("eval.json"));
  KAT_CHECK_INT_EQ(system(cmd), 0);
  KAT_CHECK(slurp(tmp_path("eval.json"), json, sizeof json) > 0);
  KAT_CHECK_CONTAINS(json, "\"miou\": 0.444444");
  KAT_CHECK_CONTAINS(json, "\"box_frames\": 2");
  snprintf(cmd, sizeof cmd,
           "'%s' eval --results '%s' --against '%s' --worst 2 --json '%s' >/dev/null", cli,
           tmp_path("run_a"), tmp_path("run_b"), tmp_path("cmp.json"));
  KAT_CHECK_INT_EQ(system(cmd), 0);
  KAT_CHECK(slurp(tmp_path("cmp.json"), json, sizeof json) > 0);
  KAT_CHECK_CONTAINS(json, "\"identical_choice_rate\": 0.666667");
  KAT_CHECK_CONTAINS(json, "\"frame\": 2");
  /* --dataset: two sequences (class/sequence layout as LaSOT), one results folder each.
   * seq1: gt (0,0,2,2) (1,0,2,2 flagged absent) (2,2,2,2); run (0,0,2,2) (..) (3,3,1,1): IoUs 1
   * and 1/4 -> success 1 for t = 0..0.2 (5 points), 0.5 up to 0.95 (15), 0 at 1: AUC 12.5/21.
   * seq2: gt (0,0,2,2) (1,0,2,2) (absent); IoUs 1 and 1/3 -> 7 points of 1, 13 of 0.5: 13.5/21.
   * Dataset AUC = mean = 26/42 = 0.619048; AO = (0.625 + 0.666667) / 2 = 0.645833. */
  const char *dirs[] = {"dsgt",  "dsgt/cls",   "dsgt/cls/seq1", "dsgt/cls/seq2",
                        "dsrun", "dsrun/seq1", "dsrun/seq2"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) mkdir(tmp_path(dirs[i]), 0755);
  write_text(tmp_path("dsgt/cls/seq1/groundtruth.txt"), "0,0,2,2\n1,0,2,2\n2,2,2,2\n");
  write_text(tmp_path("dsgt/cls/seq1/full_occlusion.txt"), "0,1,0\n");
  write_text(tmp_path("dsgt/cls/seq2/groundtruth.txt"), "0,0,2,2\n1,0,2,2\n0,0,0,0\n");
  write_text(tmp_path("dsrun/seq1/boxes.txt"), "0,0,2,2\n0,0,2,2\n3,3,1,1\n");
  write_text(tmp_path("dsrun/seq2/boxes.txt"), "0,0,2,2\n0,0,2,2\n3,3,1,1\n");
  snprintf(cmd, sizeof cmd, "'%s' eval --dataset --gt '%s' --results '%s' --json '%s' >/dev/null",
           cli, tmp_path("dsgt"), tmp_path("dsrun"), tmp_path("eval.json"));
  KAT_CHECK_INT_EQ(system(cmd), 0);
  KAT_CHECK(slurp(tmp_path("eval.json"), json, sizeof json) > 0);
  KAT_CHECK_CONTAINS(json, "\"sequences\": 2");
  KAT_CHECK_CONTAINS(json, "\"auc\": 0.619048");
  KAT_CHECK_CONTAINS(json, "\"mean_box_iou\": 0.645833");
  KAT_CHECK_CONTAINS(json,
                     "\"name\": \"seq1\", \"frames\": 3, \"box_frames\": 2, \"auc\": 0.595238");
  const char *dsfiles[] = {"dsgt/cls/seq1/groundtruth.txt", "dsgt/cls/seq1/full_occlusion.txt",
                           "dsgt/cls/seq2/groundtruth.txt", "dsrun/seq1/boxes.txt",
                           "dsrun/seq2/boxes.txt"};
  for (size_t i = 0; i < sizeof dsfiles / sizeof dsfiles[0]; i++) unlink(tmp_path(dsfiles[i]));
  for (size_t i = sizeof dirs / sizeof dirs[0]; i-- > 0;) rmdir(tmp_path(dirs[i]));

  /* A malformed gt file fails with exit status 1 and the line number. */
  write_text(tmp_path("gt.txt"), "0,0,2,2\n1,0,two,2\n");
  snprintf(cmd, sizeof cmd, "'%s' eval --results '%s' --gt '%s' 2>&1 | grep -q 'gt.txt:2:'", cli,
           tmp_path("run_a"), tmp_path("gt.txt"));
  KAT_CHECK_INT_EQ(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "'%s' eval --results '%s' --gt '%s' >/dev/null 2>&1", cli,
           tmp_path("run_a"), tmp_path("gt.txt"));
  KAT_CHECK(system(cmd) != 0);
  /* Usage errors exit with 2. */
  snprintf(cmd, sizeof cmd, "'%s' eval --gt x >/dev/null 2>&1", cli);
  int rc = system(cmd);
  KAT_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

KAT_TEST_MAIN(KAT_SETUP(make_fixture), KAT_CASE(test_box_iou_edges), KAT_CASE(test_worst_list),
              KAT_CASE(test_center_errors), KAT_CASE(test_success_curve_and_auc),
              KAT_CASE(test_precision_20px), KAT_CASE(test_norm_precision),
              KAT_CASE(test_absent_and_held), KAT_CASE(test_mask_iou),
              KAT_CASE(test_boxfile_parser), KAT_CASE(test_jsonl_parser), KAT_CASE(test_png_masks),
              KAT_CASE(test_score_folders), KAT_CASE(test_cli_eval), KAT_TEARDOWN(remove_fixture))
