/*
 * katana eval: scores tracking runs against ground truth (a LaSOT-style box file or a folder of
 * mask PNGs) and compares runs frame by frame. Prints a table; --json writes every number,
 * curve and worst-frame list. Uses the eval tools (tools/eval/eval.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_parse.h"
#include "tools/json/write.h"
#include "tools/eval/eval.h"
#include "katana/katana.h"

#define MAX_RUNS 16

static void usage(FILE *f) {
  fprintf(f,
          "usage: katana eval --results DIR [--results DIR ...] --gt FILE|MASK_DIR [options]\n"
          "       katana eval --results DIR [--results DIR ...] --against OTHER_DIR [options]\n"
          "       katana eval --dataset --results ROOT [--results ROOT ...] --gt ROOT [options]\n"
          "\n"
          "Scores katana results folders (boxes.txt, results.jsonl, masks/NNNNN.png) against a\n"
          "LaSOT-style box file (x,y,w,h per line; NaN or 0,0,0,0 for an absent target) or a\n"
          "folder of mask PNGs, and/or compares each run with another run frame by frame.\n"
          "\n"
          "options:\n"
          "  --results DIR        a run to score (repeat for a side-by-side table; a box file\n"
          "                       or mask folder also works)\n"
          "  --gt PATH            ground truth: box file or mask folder (<frame>.png)\n"
          "  --against DIR        compare every --results run with this run\n"
          "  --json FILE          write the full report as JSON ('-' for stdout)\n"
          "  --object-id N        mask ground truth: score the pixels equal to N (palette index\n"
          "                       or gray level); default: every non-zero pixel\n"
          "  --worst N            list the N worst frames (default 10 with --against, else 0\n"
          "                       on the terminal; the JSON always has them)\n"
          "  --absent-as-failure  keep absent-gt frames in the denominator as failures\n"
          "                       (pytracking's default); default: leave them out (LaSOT)\n"
          "  --no-first-frame-gt  score frame 0's own prediction instead of the ground truth\n"
          "  --no-hold            score an invalid prediction as a miss instead of holding the\n"
          "                       previous box (LaSOT toolkit holds)\n"
          "  --curves             also print the success and precision curves\n"
          "  --dataset            --gt is a folder of sequence folders (each with\n"
          "                       groundtruth.txt and/or masks/, one or two levels down as in\n"
          "                       LaSOT); each --results holds one results folder per\n"
          "                       sequence name; scores are means over sequences\n"
          "  --per-sequence       with --dataset, also print each sequence's row\n"
          "\n"
          "Several objects (a katana track run with DIR/objects/<id>/): score each object against\n"
          "its own ground truth, with one --results DIR and either\n"
          "  --gt ID=PATH         (repeatable) object ID's box file or mask folder, or\n"
          "  --gt-mot FILE        a MOT-style file, lines frame,id,x,y,w,h[,...] (frames from 0,\n"
          "                       as DIR/tracks.txt; --mot-base 1 for MOTChallenge files from 1);\n"
          "                       a frame without a line for an id is absent for that id.\n"
          "Prints one row per object and their mean.\n");
}

/* Prints a JSON string literal. */
/* With `--json -` the JSON keeps the real stdout (this stream, set up before any output) and
 * the table moves to stderr, so the output parses as JSON. */
static FILE *json_stdout;

static int redirect_stdout_for_json(void) {
  fflush(stdout);
  int fd = dup(STDOUT_FILENO);
  if (fd < 0) return -1;
  json_stdout = fdopen(fd, "w");
  if (!json_stdout) {
    close(fd);
    return -1;
  }
  if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) return -1;
  return 0;
}

/* Opens the JSON destination; the caller closes it with fclose(). */
static FILE *open_json(const char *path) {
  if (strcmp(path, "-") != 0) return fopen(path, "w");
  FILE *f = json_stdout;
  json_stdout = NULL;
  return f;
}

/* Every number of the report has 6 decimals. */
static void json_num(FILE *f, double v) {
  kat__json_write_num(f, v, 6);
}

static void json_curve(FILE *f, const double *c, size_t n) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) {
    if (i) fputs(", ", f);
    json_num(f, c[i]);
  }
  fputc(']', f);
}

static void json_worst(FILE *f, const kat__eval_frame *w, size_t n, const char *indent) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "%s\n%s  {\"frame\": %zu, \"box_iou\": ", i ? "," : "", indent, w[i].frame);
    json_num(f, w[i].box_iou);
    fputs(", \"mask_iou\": ", f);
    json_num(f, w[i].mask_iou);
    fprintf(f, ", \"candidate_a\": %d, \"candidate_b\": %d}", w[i].candidate_a, w[i].candidate_b);
  }
  fprintf(f, "%s]", n ? "\n    " : "");
}

/* Percent with one decimal, or "-" when not computed. */
static void cell(char *buf, size_t size, int ok, double v) {
  if (ok && isfinite(v)) {
    snprintf(buf, size, "%.2f", 100.0 * v);
  } else {
    snprintf(buf, size, "-");
  }
}

/* The last path component (for narrow table columns). */
static const char *short_name(const char *path) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  size_t s = n;
  while (s > 0 && path[s - 1] != '/') s--;
  return path + s;
}

/* The first frame with a mask file. */
static size_t first_mask(const kat__eval_seq *seq) {
  size_t n = kat__eval_seq_frames(seq);
  for (size_t i = 0; i < n; i++)
    if (kat__eval_seq_mask_path(seq, i)) return i;
  return n;
}

static void print_worst(const kat__eval_frame *w, size_t n, size_t limit, int two_runs) {
  if (n > limit) n = limit;
  if (!n) return;
  printf("  worst frames:%s\n",
         two_runs ? "  frame   box IoU  mask IoU  cand a/b" : "  frame   box IoU  mask IoU  cand");
  for (size_t i = 0; i < n; i++) {
    char bi[16], mi[16];
    cell(bi, sizeof bi, 1, w[i].box_iou);
    cell(mi, sizeof mi, 1, w[i].mask_iou);
    if (two_runs) {
      printf("               %6zu  %8s  %8s  %d/%d\n", w[i].frame, bi, mi, w[i].candidate_a,
             w[i].candidate_b);
    } else {
      printf("               %6zu  %8s  %8s  %d\n", w[i].frame, bi, mi, w[i].candidate_a);
    }
  }
}

/* ---- --dataset: many sequences ---- */

typedef struct seq_entry {
  char name[256];
  char path[4096];
} seq_entry;

static int is_dir_path(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file_path(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A sequence folder holds groundtruth.txt or masks/. */
static int is_sequence_dir(const char *p) {
  char buf[4200];
  snprintf(buf, sizeof buf, "%s/groundtruth.txt", p);
  if (is_file_path(buf)) return 1;
  snprintf(buf, sizeof buf, "%s/masks", p);
  return is_dir_path(buf);
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const seq_entry *)a)->name, ((const seq_entry *)b)->name);
}

/* Appends the sequence folders under `dir` (depth 1, or depth 2 as LaSOT's class/sequence). */
static int find_sequences(const char *dir, int depth, seq_entry **list, size_t *n, size_t *cap) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL && rc == 0) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
    if (!is_dir_path(p)) continue;
    if (is_sequence_dir(p)) {
      if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        seq_entry *nl = realloc(*list, nc * sizeof *nl);
        if (!nl) {
          rc = -1;
          break;
        }
        *list = nl;
        *cap = nc;
      }
      snprintf((*list)[*n].name, sizeof(*list)[*n].name, "%s", e->d_name);
      snprintf((*list)[*n].path, sizeof(*list)[*n].path, "%s", p);
      (*n)++;
    } else if (depth == 1) {
      rc = find_sequences(p, 2, list, n, cap);
    }
  }
  closedir(d);
  return rc;
}

/* Scores every --results root on every sequence of the --gt root; averages per sequence. */
static int run_dataset(const char *gt_root, const char **results, size_t nres, int object_id,
                       const kat__eval_options *opt, const char *json_path, int per_sequence) {
  seq_entry *seqs = NULL;
  size_t nseq = 0, cap = 0;
  int rc = 1;
  FILE *jf = NULL;
  kat__eval_score *sc = NULL;
  kat__eval_seq **gts = NULL;
  char err[1024];
  if (find_sequences(gt_root, 1, &seqs, &nseq, &cap) != 0 || nseq == 0) {
    fprintf(stderr, "katana eval: %s: no sequence folders (with groundtruth.txt or masks/)\n",
            gt_root);
    goto done;
  }
  qsort(seqs, nseq, sizeof *seqs, cmp_entry);
  gts = calloc(nseq, sizeof *gts);
  sc = calloc(nres * nseq, sizeof *sc);
  if (!gts || !sc) {
    fprintf(stderr, "katana eval: out of memory\n");
    goto done;
  }
  for (size_t q = 0; q < nseq; q++) {
    if (kat__eval_seq_load(seqs[q].path, object_id, &gts[q], err, sizeof err) != KAT_OK) {
      fprintf(stderr, "katana eval: ground truth: %s\n", err);
      goto done;
    }
  }
  for (size_t r = 0; r < nres; r++) {
    for (size_t q = 0; q < nseq; q++) {
      char p[4400];
      snprintf(p, sizeof p, "%s/%s", results[r], seqs[q].name);
      kat__eval_seq *run = NULL;
      if (kat__eval_seq_load(p, 0, &run, err, sizeof err) != KAT_OK) {
        fprintf(stderr, "katana eval: results for sequence %s: %s\n", seqs[q].name, err);
        goto done;
      }
      if (kat__eval_seq_frames(gts[q]) < kat__eval_seq_frames(run)) {
        fprintf(stderr,
                "katana eval: sequence %s: the ground truth has %zu frames but the run %s has "
                "%zu; refusing to score frames without ground truth\n",
                seqs[q].name, kat__eval_seq_frames(gts[q]), p, kat__eval_seq_frames(run));
        kat__eval_seq_destroy(run);
        goto done;
      }
      int st = kat__eval_score_run(run, gts[q], opt, &sc[r * nseq + q], err, sizeof err);
      kat__eval_seq_destroy(run);
      if (st != KAT_OK) {
        fprintf(stderr, "katana eval: %s: %s\n", p, err);
        goto done;
      }
    }
  }

  printf("dataset: %s (%zu sequences)\n", gt_root, nseq);
  printf("%-24s %5s %7s %7s %7s %7s %7s %8s %9s\n", "run", "seqs", "frames", "AUC", "P@20", "NP@.2",
         "NP-AUC", "AO(box)", "mIoU(msk)");
  if (json_path) {
    jf = open_json(json_path);
    if (!jf) {
      fprintf(stderr, "katana eval: cannot write %s: %s\n", json_path, strerror(errno));
      goto done;
    }
    fprintf(jf, "{\n  \"katana_version\": ");
    kat__json_write_str(jf, kat_version());
    fprintf(jf, ",\n  \"dataset\": ");
    kat__json_write_str(jf, gt_root);
    fprintf(jf, ",\n  \"sequences\": %zu,\n  \"runs\": [", nseq);
  }
  for (size_t r = 0; r < nres; r++) {
    /* Dataset scores: the mean over sequences of each sequence's value (toolkit convention). */
    double auc = 0, p20 = 0, np = 0, npa = 0, ao = 0, miou = 0;
    double succ[KAT_EVAL_SUCCESS_POINTS] = {0};
    size_t box_seqs = 0, mask_seqs = 0, frames = 0;
    for (size_t q = 0; q < nseq; q++) {
      const kat__eval_score *s = &sc[r * nseq + q];
      frames += s->box_frames;
      if (s->has_boxes && s->box_frames) {
        auc += s->auc;
        p20 += s->precision_20;
        np += s->norm_precision_020;
        npa += s->norm_precision_auc;
        ao += s->mean_box_iou;
        for (size_t t = 0; t < KAT_EVAL_SUCCESS_POINTS; t++) succ[t] += s->success[t];
        box_seqs++;
      }
      if (s->has_masks && s->mask_frames) {
        miou += s->miou;
        mask_seqs++;
      }
    }
    double bn = box_seqs ? (double)box_seqs : NAN, mn = mask_seqs ? (double)mask_seqs : NAN;
    char c1[16], c2[16], c3[16], c4[16], c5[16], c6[16];
    cell(c1, sizeof c1, box_seqs > 0, auc / bn);
    cell(c2, sizeof c2, box_seqs > 0, p20 / bn);
    cell(c3, sizeof c3, box_seqs > 0, np / bn);
    cell(c4, sizeof c4, box_seqs > 0, npa / bn);
    cell(c5, sizeof c5, box_seqs > 0, ao / bn);
    cell(c6, sizeof c6, mask_seqs > 0, miou / mn);
    printf("%-24.24s %5zu %7zu %7s %7s %7s %7s %8s %9s\n", short_name(results[r]), nseq, frames, c1,
           c2, c3, c4, c5, c6);
    for (size_t q = 0; per_sequence && q < nseq; q++) {
      const kat__eval_score *s = &sc[r * nseq + q];
      cell(c1, sizeof c1, s->has_boxes, s->auc);
      cell(c2, sizeof c2, s->has_boxes, s->precision_20);
      cell(c3, sizeof c3, s->has_boxes, s->norm_precision_020);
      cell(c4, sizeof c4, s->has_boxes, s->norm_precision_auc);
      cell(c5, sizeof c5, s->has_boxes, s->mean_box_iou);
      cell(c6, sizeof c6, s->has_masks, s->miou);
      printf("  %-22.22s %5s %7zu %7s %7s %7s %7s %8s %9s\n", seqs[q].name, "", s->box_frames, c1,
             c2, c3, c4, c5, c6);
    }
    if (jf) {
      fprintf(jf, "%s\n    {\"results\": ", r ? "," : "");
      kat__json_write_str(jf, results[r]);
      fprintf(jf, ", \"box_sequences\": %zu, \"mask_sequences\": %zu, \"box_frames\": %zu,\n",
              box_seqs, mask_seqs, frames);
      fprintf(jf, "     \"auc\": ");
      json_num(jf, auc / bn);
      fprintf(jf, ", \"precision_20\": ");
      json_num(jf, p20 / bn);
      fprintf(jf, ", \"norm_precision\": ");
      json_num(jf, np / bn);
      fprintf(jf, ", \"norm_precision_auc\": ");
      json_num(jf, npa / bn);
      fprintf(jf, ", \"mean_box_iou\": ");
      json_num(jf, ao / bn);
      fprintf(jf, ", \"miou\": ");
      json_num(jf, miou / mn);
      for (size_t t = 0; t < KAT_EVAL_SUCCESS_POINTS; t++) succ[t] /= bn;
      fprintf(jf, ",\n     \"success_curve\": ");
      json_curve(jf, succ, KAT_EVAL_SUCCESS_POINTS);
      fprintf(jf, ",\n     \"per_sequence\": [");
      for (size_t q = 0; q < nseq; q++) {
        const kat__eval_score *s = &sc[r * nseq + q];
        fprintf(jf, "%s\n       {\"name\": ", q ? "," : "");
        kat__json_write_str(jf, seqs[q].name);
        fprintf(jf, ", \"frames\": %zu, \"box_frames\": %zu, \"auc\": ", s->frames, s->box_frames);
        json_num(jf, s->has_boxes ? s->auc : NAN);
        fprintf(jf, ", \"precision_20\": ");
        json_num(jf, s->has_boxes ? s->precision_20 : NAN);
        fprintf(jf, ", \"norm_precision\": ");
        json_num(jf, s->has_boxes ? s->norm_precision_020 : NAN);
        fprintf(jf, ", \"mean_box_iou\": ");
        json_num(jf, s->has_boxes ? s->mean_box_iou : NAN);
        fprintf(jf, ", \"miou\": ");
        json_num(jf, s->has_masks ? s->miou : NAN);
        fprintf(jf, "}");
      }
      fprintf(jf, "\n     ]}");
    }
  }
  printf("(percent; mean over sequences of each sequence's score)\n");
  if (jf) {
    fprintf(jf, "\n  ]\n}\n");
    if (fclose(jf) != 0) {
      jf = NULL;
      fprintf(stderr, "katana eval: error writing %s\n", json_path);
      goto done;
    }
    jf = NULL;
  }
  rc = 0;
done:
  if (jf) fclose(jf);
  for (size_t q = 0; gts && q < nseq; q++) kat__eval_seq_destroy(gts[q]);
  free(gts);
  free(sc);
  free(seqs);
  return rc;
}

/* ---- several objects ---- */

#define MAX_OBJECTS 64

typedef struct obj_gt {
  int id;
  const char *path; /* box file or mask folder (borrowed from argv or tmp) */
  char tmp[4200];   /* a box file written from --gt-mot */
} obj_gt;

static int cmp_obj(const void *a, const void *b) {
  const obj_gt *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

/* "ID=PATH" -> 1 with the parts, 0 when `v` is not of that form (or is an existing path). */
static int split_id_gt(const char *v, int *id, const char **path) {
  const char *eq = strchr(v, '=');
  if (!eq || eq == v || eq[1] == '\0' || is_file_path(v) || is_dir_path(v)) return 0;
  long n = 0;
  char num[16];
  if ((size_t)(eq - v) >= sizeof num) return 0;
  memcpy(num, v, (size_t)(eq - v));
  num[eq - v] = '\0';
  if (kat_cli_parse_long(num, 0, 1000000, &n, NULL, 0)) return 0;
  *id = (int)n;
  *path = eq + 1;
  return 1;
}

/* Reads a MOT-style file into per-id LaSOT box files in `tmpdir` (frames 0..frames-1, 0,0,0,0
 * where the id has no line). 0, or 2 with the message printed. */
static int load_mot(const char *path, int base, const char *tmpdir, size_t frames, obj_gt *gts,
                    int *ngt) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "katana eval: --gt-mot: cannot open '%s': %s\n", path, strerror(errno));
    return 2;
  }
  char line[1024];
  size_t lineno = 0;
  double(*boxes)[MAX_OBJECTS][4] = calloc(frames ? frames : 1, sizeof *boxes);
  int rc = boxes ? 0 : 2;
  *ngt = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    if (line[strspn(line, " \t\r\n")] == '\0') continue;
    double v[6];
    int n = sscanf(line, "%lf ,%lf ,%lf ,%lf ,%lf ,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
    int ok = n == 6;
    for (int k = 0; ok && k < 6; k++) ok = isfinite(v[k]);
    ok = ok && v[0] == floor(v[0]) && v[1] == floor(v[1]) && v[1] >= 0 && v[1] <= 1000000 &&
         v[4] >= 0 && v[5] >= 0;
    if (!ok) {
      fprintf(stderr,
              "katana eval: %s:%zu: expected frame,id,x,y,w,h (integers frame >= %d and id >= 0, "
              "finite x, y, w, h >= 0)\n",
              path, lineno, base);
      rc = 2;
      break;
    }
    double fr = v[0] - base;
    if (fr < 0) {
      fprintf(stderr, "katana eval: %s:%zu: frame %.0f is before the first frame (%d)\n", path,
              lineno, v[0], base);
      rc = 2;
      break;
    }
    int id = (int)v[1], k = 0;
    while (k < *ngt && gts[k].id != id) k++;
    if (k == *ngt) {
      if (*ngt == MAX_OBJECTS) {
        fprintf(stderr, "katana eval: %s: more than %d ids\n", path, MAX_OBJECTS);
        rc = 2;
        break;
      }
      gts[k].id = id;
      (*ngt)++;
    }
    if ((size_t)fr < frames) memcpy(boxes[(size_t)fr][k], v + 2, sizeof boxes[0][0]);
  }
  fclose(f);
  if (rc == 0 && *ngt == 0) {
    fprintf(stderr, "katana eval: %s: no lines\n", path);
    rc = 2;
  }
  for (int k = 0; rc == 0 && k < *ngt; k++) {
    snprintf(gts[k].tmp, sizeof gts[k].tmp, "%s/gt_%d.txt", tmpdir, gts[k].id);
    FILE *o = fopen(gts[k].tmp, "w");
    if (!o) {
      fprintf(stderr, "katana eval: cannot write '%s': %s\n", gts[k].tmp, strerror(errno));
      rc = 1;
      break;
    }
    for (size_t i = 0; i < frames; i++)
      fprintf(o, "%.17g,%.17g,%.17g,%.17g\n", boxes[i][k][0], boxes[i][k][1], boxes[i][k][2],
              boxes[i][k][3]);
    if (fclose(o)) rc = 1;
    gts[k].path = gts[k].tmp;
  }
  free(boxes);
  return rc;
}

/* Scores DIR/objects/<id> (DIR itself for id 0 of a single-object run) against each gts[k]. */
static int run_objects(const char *dir, obj_gt *gts, int ngt, const char *mot, int mot_base,
                       int object_id, const kat__eval_options *opt, const char *json_path) {
  char err[1024], tmpdir[] = "/tmp/katana-eval-XXXXXX", objdir[4200];
  int rc = 1, have_tmp = 0;
  FILE *jf = NULL;
  kat__eval_score *scores = calloc(MAX_OBJECTS, sizeof *scores);
  if (!scores) {
    fprintf(stderr, "katana eval: out of memory\n");
    return 1;
  }
  snprintf(objdir, sizeof objdir, "%s/objects", dir);
  const int multi = is_dir_path(objdir);
  if (mot) {
    /* The run's length bounds the ground truth written per id. */
    size_t frames = 0;
    DIR *d = multi ? opendir(objdir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      char p[4600];
      kat__eval_seq *seq = NULL;
      snprintf(p, sizeof p, "%s/%s", objdir, e->d_name);
      if (kat__eval_seq_load(p, 0, &seq, err, sizeof err) == KAT_OK &&
          kat__eval_seq_frames(seq) > frames)
        frames = kat__eval_seq_frames(seq);
      kat__eval_seq_destroy(seq);
    }
    if (d) closedir(d);
    if (!mkdtemp(tmpdir)) {
      fprintf(stderr, "katana eval: cannot create a temporary folder: %s\n", strerror(errno));
      goto done;
    }
    have_tmp = 1;
    int r = load_mot(mot, mot_base, tmpdir, frames, gts, &ngt);
    if (r) {
      rc = r;
      goto done;
    }
  }
  qsort(gts, (size_t)ngt, sizeof *gts, cmp_obj);
  for (int k = 1; k < ngt; k++)
    if (gts[k].id == gts[k - 1].id) {
      fprintf(stderr, "katana eval: object %d has two ground truths ('%s', '%s')\n", gts[k].id,
              gts[k - 1].path, gts[k].path);
      rc = 2;
      goto done;
    }
  printf("results: %s (%s)\n", dir, multi ? "one folder per object" : "one object");
  printf("%-8s %6s %6s %6s %7s %7s %8s %9s %7s  %s\n", "object", "frames", "scored", "absent",
         "AUC", "P@20", "AO(box)", "mIoU(msk)", "invalid", "ground truth");
  double sum[4] = {0};
  int nsum[4] = {0};
  for (int k = 0; k < ngt; k++) {
    char rdir[4400];
    if (multi)
      snprintf(rdir, sizeof rdir, "%s/%d", objdir, gts[k].id);
    else
      snprintf(rdir, sizeof rdir, "%s", dir);
    if (!multi && gts[k].id != 0) {
      fprintf(stderr, "katana eval: %s is a one-object run (object 0); it has no object %d\n", dir,
              gts[k].id);
      rc = 2;
      goto done;
    }
    if (multi && !is_dir_path(rdir)) {
      fprintf(stderr, "katana eval: %s has no object %d (no %s)\n", dir, gts[k].id, rdir);
      rc = 2;
      goto done;
    }
    kat__eval_seq *run = NULL, *gt = NULL;
    int st = kat__eval_seq_load(rdir, 0, &run, err, sizeof err);
    if (st != KAT_OK) {
      fprintf(stderr, "katana eval: object %d: results: %s\n", gts[k].id, err);
    } else if ((st = kat__eval_seq_load(gts[k].path, object_id, &gt, err, sizeof err)) != KAT_OK) {
      fprintf(stderr, "katana eval: object %d: ground truth: %s\n", gts[k].id, err);
    } else if (kat__eval_seq_frames(gt) < kat__eval_seq_frames(run)) {
      fprintf(stderr,
              "katana eval: object %d: the ground truth %s has %zu frames but the run has %zu; "
              "refusing to score frames without ground truth\n",
              gts[k].id, mot ? mot : gts[k].path, kat__eval_seq_frames(gt),
              kat__eval_seq_frames(run));
      st = KAT_EINVAL;
    } else if ((st = kat__eval_score_run(run, gt, opt, &scores[k], err, sizeof err)) != KAT_OK) {
      fprintf(stderr, "katana eval: object %d: %s\n", gts[k].id, err);
    }
    kat__eval_seq_destroy(run);
    kat__eval_seq_destroy(gt);
    if (st != KAT_OK) goto done;
    const kat__eval_score *s = &scores[k];
    char c_auc[16], c_p[16], c_ao[16], c_m[16];
    cell(c_auc, sizeof c_auc, s->has_boxes, s->auc);
    cell(c_p, sizeof c_p, s->has_boxes, s->precision_20);
    cell(c_ao, sizeof c_ao, s->has_boxes, s->mean_box_iou);
    cell(c_m, sizeof c_m, s->has_masks, s->miou);
    printf("%-8d %6zu %6zu %6zu %7s %7s %8s %9s %7zu  %s\n", gts[k].id, s->frames, s->box_frames,
           s->absent_frames, c_auc, c_p, c_ao, c_m, s->invalid_pred, mot ? mot : gts[k].path);
    const double vals[4] = {s->auc, s->precision_20, s->mean_box_iou, s->miou};
    const int oks[4] = {s->has_boxes, s->has_boxes, s->has_boxes, s->has_masks};
    for (int m = 0; m < 4; m++)
      if (oks[m] && isfinite(vals[m])) {
        sum[m] += vals[m];
        nsum[m]++;
      }
  }
  char c[4][16];
  for (int m = 0; m < 4; m++) cell(c[m], sizeof c[m], nsum[m] > 0, nsum[m] ? sum[m] / nsum[m] : 0);
  printf("%-8s %6s %6s %6s %7s %7s %8s %9s\n", "mean", "", "", "", c[0], c[1], c[2], c[3]);
  printf("(percent; mean over the objects)\n");
  if (json_path) {
    jf = open_json(json_path);
    if (!jf) {
      fprintf(stderr, "katana eval: cannot write %s: %s\n", json_path, strerror(errno));
      goto done;
    }
    fprintf(jf, "{\n  \"katana_version\": ");
    kat__json_write_str(jf, kat_version());
    fprintf(jf, ",\n  \"results\": ");
    kat__json_write_str(jf, dir);
    fprintf(jf, ",\n  \"objects\": [");
    for (int k = 0; k < ngt; k++) {
      const kat__eval_score *s = &scores[k];
      fprintf(jf, "%s\n    {\"obj\": %d, \"gt\": ", k ? "," : "", gts[k].id);
      kat__json_write_str(jf, mot ? mot : gts[k].path);
      fprintf(jf,
              ", \"frames\": %zu, \"box_frames\": %zu, \"absent_frames\": %zu, "
              "\"invalid_pred\": %zu, \"auc\": ",
              s->frames, s->box_frames, s->absent_frames, s->invalid_pred);
      json_num(jf, s->has_boxes ? s->auc : NAN);
      fprintf(jf, ", \"precision_20\": ");
      json_num(jf, s->has_boxes ? s->precision_20 : NAN);
      fprintf(jf, ", \"mean_box_iou\": ");
      json_num(jf, s->has_boxes ? s->mean_box_iou : NAN);
      fprintf(jf, ", \"miou\": ");
      json_num(jf, s->has_masks ? s->miou : NAN);
      fprintf(jf, "}");
    }
    fprintf(jf, "\n  ],\n  \"mean\": {\"auc\": ");
    json_num(jf, nsum[0] ? sum[0] / nsum[0] : NAN);
    fprintf(jf, ", \"precision_20\": ");
    json_num(jf, nsum[1] ? sum[1] / nsum[1] : NAN);
    fprintf(jf, ", \"mean_box_iou\": ");
    json_num(jf, nsum[2] ? sum[2] / nsum[2] : NAN);
    fprintf(jf, ", \"miou\": ");
    json_num(jf, nsum[3] ? sum[3] / nsum[3] : NAN);
    fprintf(jf, "}\n}\n");
    int bad = fclose(jf) != 0;
    jf = NULL;
    if (bad) {
      fprintf(stderr, "katana eval: error writing %s\n", json_path);
      goto done;
    }
  }
  rc = 0;
done:
  if (jf) fclose(jf);
  if (have_tmp) {
    for (int k = 0; k < ngt; k++)
      if (gts[k].tmp[0]) unlink(gts[k].tmp);
    rmdir(tmpdir);
  }
  free(scores);
  return rc;
}

/* The options of one katana eval call (parse_args). */
typedef struct kat__eval_args {
  const char *results[MAX_RUNS];
  size_t nres;
  const char *gt_path, *against_path, *json_path;
  long object_id, worst;
  int curves, dataset, per_sequence;
  obj_gt obj_gts[MAX_OBJECTS];
  int n_obj_gts, gt_plain;
  long mot_base;
  const char *gt_mot;
  kat__eval_options opt;
} kat__eval_args;

/* What one run-vs-ground-truth/--against evaluation loaded and computed (eval_cleanup frees). */
typedef struct kat__eval_state {
  kat__eval_seq *gt, *other;
  kat__eval_seq *runs[MAX_RUNS];
  kat__eval_score *scores; /* [nres] */
  kat__eval_compare *cmps; /* [nres] */
} kat__eval_state;

static void eval_cleanup(kat__eval_state *st, size_t nres) {
  kat__eval_seq_destroy(st->gt);
  kat__eval_seq_destroy(st->other);
  for (size_t r = 0; r < nres; r++) kat__eval_seq_destroy(st->runs[r]);
  free(st->scores);
  free(st->cmps);
}

/* Fills *a from argv. Returns -1 to go on, else the exit status (0 after --help, 2 on misuse). */
static int parse_args(int argc, char **argv, kat__eval_args *o) {
  memset(o, 0, sizeof *o);
  o->worst = -1;
  kat__eval_options_default(&o->opt);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--absent-as-failure") == 0) {
      o->opt.absent_as_failure = 1;
    } else if (strcmp(a, "--no-first-frame-gt") == 0) {
      o->opt.first_frame_gt = 0;
    } else if (strcmp(a, "--no-hold") == 0) {
      o->opt.hold_last_box = 0;
    } else if (strcmp(a, "--dataset") == 0) {
      o->dataset = 1;
    } else if (strcmp(a, "--per-sequence") == 0) {
      o->per_sequence = 1;
    } else if (strcmp(a, "--curves") == 0) {
      o->curves = 1;
    } else if (!v) {
      fprintf(stderr, "katana eval: unknown option or missing value: %s\n\n", a);
      usage(stderr);
      return 2;
    } else if (strcmp(a, "--results") == 0) {
      if (o->nres == MAX_RUNS) {
        fprintf(stderr, "katana eval: at most %d --results\n", MAX_RUNS);
        return 2;
      }
      o->results[o->nres++] = v;
      i++;
    } else if (strcmp(a, "--gt") == 0) {
      int id = 0;
      const char *p = NULL;
      if (split_id_gt(v, &id, &p)) {
        if (o->n_obj_gts == MAX_OBJECTS) {
          fprintf(stderr, "katana eval: at most %d --gt ID=PATH\n", MAX_OBJECTS);
          return 2;
        }
        o->obj_gts[o->n_obj_gts].id = id;
        o->obj_gts[o->n_obj_gts++].path = p;
      } else {
        o->gt_path = v;
        o->gt_plain = 1;
      }
      i++;
    } else if (strcmp(a, "--gt-mot") == 0) {
      o->gt_mot = v;
      i++;
    } else if (strcmp(a, "--mot-base") == 0) {
      if (kat_cli_parse_long(v, 0, 1, &o->mot_base, NULL, 0)) {
        fprintf(stderr, "katana eval: --mot-base takes 0 or 1, not '%s'\n", v);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--against") == 0) {
      o->against_path = v;
      i++;
    } else if (strcmp(a, "--json") == 0) {
      o->json_path = v;
      i++;
    } else if (strcmp(a, "--object-id") == 0) {
      if (kat_cli_parse_long(v, 0, 255, &o->object_id, NULL, 0)) {
        fprintf(stderr, "katana eval: --object-id takes 0..255, not '%s'\n", v);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--worst") == 0) {
      if (kat_cli_parse_long(v, 0, KAT_EVAL_WORST_MAX, &o->worst, NULL, 0)) {
        fprintf(stderr, "katana eval: --worst takes 0..%d, not '%s'\n", KAT_EVAL_WORST_MAX, v);
        return 2;
      }
      i++;
    } else {
      fprintf(stderr, "katana eval: unknown option: %s\n\n", a);
      usage(stderr);
      return 2;
    }
  }
  return -1;
}

/* Loads the ground truth, the --against run and every run, and scores and compares each. */
static int load_and_score(const kat__eval_args *o, kat__eval_state *st) {
  char err[1024];
  st->scores = calloc(o->nres, sizeof *st->scores);
  st->cmps = calloc(o->nres, sizeof *st->cmps);
  if (!st->scores || !st->cmps) {
    fprintf(stderr, "katana eval: out of memory\n");
    return 1;
  }
  if (o->gt_path &&
      kat__eval_seq_load(o->gt_path, (int)o->object_id, &st->gt, err, sizeof err) != KAT_OK) {
    fprintf(stderr, "katana eval: ground truth: %s\n", err);
    return 1;
  }
  if (o->against_path &&
      kat__eval_seq_load(o->against_path, 0, &st->other, err, sizeof err) != KAT_OK) {
    fprintf(stderr, "katana eval: --against: %s\n", err);
    return 1;
  }
  for (size_t r = 0; r < o->nres; r++) {
    if (kat__eval_seq_load(o->results[r], 0, &st->runs[r], err, sizeof err) != KAT_OK) {
      fprintf(stderr, "katana eval: results: %s\n", err);
      return 1;
    }
    if (st->gt && kat__eval_seq_frames(st->gt) < kat__eval_seq_frames(st->runs[r])) {
      fprintf(stderr,
              "katana eval: %s: the ground truth %s has %zu frames but the run has %zu; refusing "
              "to score frames without ground truth\n",
              o->results[r], o->gt_path, kat__eval_seq_frames(st->gt),
              kat__eval_seq_frames(st->runs[r]));
      return 1;
    }
    if (st->gt && kat__eval_score_run(st->runs[r], st->gt, &o->opt, &st->scores[r], err,
                                      sizeof err) != KAT_OK) {
      fprintf(stderr, "katana eval: %s: %s\n", o->results[r], err);
      return 1;
    }
    if (st->other && kat__eval_compare_runs(st->runs[r], st->other, &o->opt, &st->cmps[r], err,
                                            sizeof err) != KAT_OK) {
      fprintf(stderr, "katana eval: %s vs %s: %s\n", o->results[r], o->against_path, err);
      return 1;
    }
  }

  return 0;
}

/* The table of scores against the ground truth. */
static void print_scores(const kat__eval_args *o, const kat__eval_state *st, size_t term_worst) {
  if (st->gt) {
    printf("ground truth: %s (%zu frames, boxes from %s%s)\n", o->gt_path,
           kat__eval_seq_frames(st->gt), kat__eval_seq_box_source(st->gt),
           kat__eval_seq_has_masks(st->gt) ? ", masks" : "");
    if (kat__eval_seq_absent_flags(st->gt))
      printf("  %zu frames with a box are marked absent by full_occlusion.txt/out_of_view.txt\n",
             kat__eval_seq_absent_flags(st->gt));
    printf("rules: absent gt frames %s; frame 0 %s; invalid predictions %s\n",
           o->opt.absent_as_failure ? "count as failures" : "left out",
           o->opt.first_frame_gt ? "= ground truth" : "scored as predicted",
           o->opt.hold_last_box ? "hold the previous box" : "count as misses");
    printf("%-24s %6s %6s %6s %7s %7s %7s %7s %8s %9s %7s\n", "run", "frames", "scored", "absent",
           "AUC", "P@20", "NP@.2", "NP-AUC", "AO(box)", "mIoU(msk)", "invalid");
    for (size_t r = 0; r < o->nres; r++) {
      const kat__eval_score *s = &st->scores[r];
      char c_auc[16], c_p[16], c_np[16], c_npa[16], c_ao[16], c_m[16];
      cell(c_auc, sizeof c_auc, s->has_boxes, s->auc);
      cell(c_p, sizeof c_p, s->has_boxes, s->precision_20);
      cell(c_np, sizeof c_np, s->has_boxes, s->norm_precision_020);
      cell(c_npa, sizeof c_npa, s->has_boxes, s->norm_precision_auc);
      cell(c_ao, sizeof c_ao, s->has_boxes, s->mean_box_iou);
      cell(c_m, sizeof c_m, s->has_masks, s->miou);
      printf("%-24.24s %6zu %6zu %6zu %7s %7s %7s %7s %8s %9s %7zu\n", short_name(o->results[r]),
             s->frames, s->box_frames, s->absent_frames, c_auc, c_p, c_np, c_npa, c_ao, c_m,
             s->invalid_pred);
      if (s->has_masks && s->missing_masks)
        printf(
            "  note: %zu of %zu ground-truth mask frames have no predicted mask (scored as "
            "empty)\n",
            s->missing_masks, s->mask_frames);
      if (s->has_masks) {
        size_t g0 = first_mask(st->gt), r0 = first_mask(st->runs[r]);
        if (g0 != r0)
          printf(
              "  note: the ground truth's masks start at frame %zu, the run's at %zu (masks are "
              "matched by the number in their file names)\n",
              g0, r0);
      }
      if (kat__eval_seq_frames(st->runs[r]) < s->frames)
        printf("  note: the run has %zu frames, the ground truth %zu\n",
               kat__eval_seq_frames(st->runs[r]), s->frames);
      print_worst(s->worst, s->worst_count, term_worst, 0);
      if (o->curves && s->has_boxes) {
        printf("  success (IoU > t, t = 0:0.05:1):");
        for (size_t t = 0; t < KAT_EVAL_SUCCESS_POINTS; t++) printf(" %.3f", s->success[t]);
        printf("\n  precision (err <= t px, t = 0:5:50):");
        for (size_t t = 0; t < KAT_EVAL_PRECISION_POINTS; t += 5) printf(" %.3f", s->precision[t]);
        printf("\n  norm. precision (t = 0:0.05:0.5):");
        for (size_t t = 0; t < KAT_EVAL_NORM_PRECISION_POINTS; t += 5)
          printf(" %.3f", s->norm_precision[t]);
        printf("\n");
      }
    }
    printf("(percent; AUC = mean of the 21-point success curve; AO = mean box IoU)\n");
  }
}

/* The table of comparisons with the --against run. */
static void print_comparisons(const kat__eval_args *o, const kat__eval_state *st,
                              size_t term_worst) {
  if (st->other) {
    if (st->gt) printf("\n");
    printf("compared with: %s\n", o->against_path);
    printf("%-24s %6s %9s %9s %8s %10s %10s %10s\n", "run", "frames", "box IoU", "min box",
           "IoU>=.9", "mask IoU", "min mask", "same cand");
    for (size_t r = 0; r < o->nres; r++) {
      const kat__eval_compare *c = &st->cmps[r];
      char c_b[16], c_bm[16], c_m[16], c_mm[16], c_s[16];
      cell(c_b, sizeof c_b, c->box_frames > 0, c->mean_box_iou);
      cell(c_bm, sizeof c_bm, c->box_frames > 0, c->min_box_iou);
      cell(c_m, sizeof c_m, c->mask_frames > 0, c->mean_mask_iou);
      cell(c_mm, sizeof c_mm, c->mask_frames > 0, c->min_mask_iou);
      cell(c_s, sizeof c_s, c->candidate_frames > 0, c->identical_choice_rate);
      printf("%-24.24s %6zu %9s %9s %8zu %10s %10s %10s\n", short_name(o->results[r]), c->frames,
             c_b, c_bm, c->box_agree_90, c_m, c_mm, c_s);
      print_worst(c->worst, c->worst_count, term_worst, 1);
    }
  }
}

/* The JSON report of scores and comparisons to o->json_path. 0, or 1 with a message. */
static int write_json(const kat__eval_args *o, const kat__eval_state *st) {
  FILE *jf = NULL;
  if (o->json_path) {
    jf = open_json(o->json_path);
    if (!jf) {
      fprintf(stderr, "katana eval: cannot write %s: %s\n", o->json_path, strerror(errno));
      return 1;
    }
    fprintf(jf, "{\n  \"katana_version\": ");
    kat__json_write_str(jf, kat_version());
    fprintf(jf,
            ",\n  \"options\": {\"first_frame_gt\": %s, \"hold_last_box\": %s, "
            "\"absent_as_failure\": %s, \"object_id\": %d},\n",
            o->opt.first_frame_gt ? "true" : "false", o->opt.hold_last_box ? "true" : "false",
            o->opt.absent_as_failure ? "true" : "false", (int)o->object_id);
    if (st->gt) {
      fprintf(jf, "  \"gt\": {\"path\": ");
      kat__json_write_str(jf, o->gt_path);
      fprintf(jf, ", \"frames\": %zu, \"box_source\": ", kat__eval_seq_frames(st->gt));
      kat__json_write_str(jf, kat__eval_seq_box_source(st->gt));
      fprintf(jf, ", \"masks\": %s, \"absent_flags\": %zu},\n",
              kat__eval_seq_has_masks(st->gt) ? "true" : "false",
              kat__eval_seq_absent_flags(st->gt));
      fprintf(jf, "  \"runs\": [");
      for (size_t r = 0; r < o->nres; r++) {
        const kat__eval_score *s = &st->scores[r];
        fprintf(jf, "%s\n    {\"results\": ", r ? "," : "");
        kat__json_write_str(jf, o->results[r]);
        fprintf(jf, ", \"box_source\": ");
        kat__json_write_str(jf, kat__eval_seq_box_source(st->runs[r]));
        fprintf(jf, ", \"run_frames\": %zu,\n     \"frames\": %zu, \"has_boxes\": %s, ",
                kat__eval_seq_frames(st->runs[r]), s->frames, s->has_boxes ? "true" : "false");
        fprintf(jf, "\"box_frames\": %zu, \"absent_frames\": %zu, \"invalid_pred\": %zu,\n",
                s->box_frames, s->absent_frames, s->invalid_pred);
        fprintf(jf, "     \"auc\": ");
        json_num(jf, s->has_boxes ? s->auc : NAN);
        fprintf(jf, ", \"mean_box_iou\": ");
        json_num(jf, s->has_boxes ? s->mean_box_iou : NAN);
        fprintf(jf, ", \"precision_20\": ");
        json_num(jf, s->has_boxes ? s->precision_20 : NAN);
        fprintf(jf, ", \"norm_precision\": ");
        json_num(jf, s->has_boxes ? s->norm_precision_020 : NAN);
        fprintf(jf, ", \"norm_precision_auc\": ");
        json_num(jf, s->has_boxes ? s->norm_precision_auc : NAN);
        fprintf(jf, ",\n     \"success_curve\": ");
        json_curve(jf, s->success, KAT_EVAL_SUCCESS_POINTS);
        fprintf(jf, ",\n     \"precision_curve\": ");
        json_curve(jf, s->precision, KAT_EVAL_PRECISION_POINTS);
        fprintf(jf, ",\n     \"norm_precision_curve\": ");
        json_curve(jf, s->norm_precision, KAT_EVAL_NORM_PRECISION_POINTS);
        if (s->has_masks) {
          fprintf(jf, ",\n     \"mask\": {\"frames\": %zu, \"missing\": %zu, \"miou\": ",
                  s->mask_frames, s->missing_masks);
          json_num(jf, s->miou);
          fprintf(jf, "}");
        } else {
          fprintf(jf, ",\n     \"mask\": null");
        }
        fprintf(jf, ",\n     \"worst_frames\": ");
        json_worst(jf, s->worst, s->worst_count, "     ");
        fprintf(jf, "}");
      }
      fprintf(jf, "\n  ]%s\n", st->other ? "," : "");
    }
    if (st->other) {
      fprintf(jf, "  \"comparisons\": [");
      for (size_t r = 0; r < o->nres; r++) {
        const kat__eval_compare *c = &st->cmps[r];
        fprintf(jf, "%s\n    {\"a\": ", r ? "," : "");
        kat__json_write_str(jf, o->results[r]);
        fprintf(jf, ", \"b\": ");
        kat__json_write_str(jf, o->against_path);
        fprintf(jf, ",\n     \"frames\": %zu, \"box_frames\": %zu, \"mean_box_iou\": ", c->frames,
                c->box_frames);
        json_num(jf, c->mean_box_iou);
        fprintf(jf, ", \"min_box_iou\": ");
        json_num(jf, c->min_box_iou);
        fprintf(jf, ", \"box_agree_90\": %zu,\n     \"mask_frames\": %zu, \"mean_mask_iou\": ",
                c->box_agree_90, c->mask_frames);
        json_num(jf, c->mean_mask_iou);
        fprintf(jf, ", \"min_mask_iou\": ");
        json_num(jf, c->min_mask_iou);
        fprintf(jf, ",\n     \"candidate_frames\": %zu, \"identical_choice_rate\": ",
                c->candidate_frames);
        json_num(jf, c->identical_choice_rate);
        fprintf(jf, ",\n     \"worst_frames\": ");
        json_worst(jf, c->worst, c->worst_count, "     ");
        fprintf(jf, "}");
      }
      fprintf(jf, "\n  ]\n");
    }
    fprintf(jf, "}\n");
    if (fclose(jf) != 0) {
      jf = NULL;
      fprintf(stderr, "katana eval: error writing %s\n", o->json_path);
      return 1;
    }
    jf = NULL;
  }
  return 0;
}

int kat_cmd_eval(int argc, char **argv) {
  static kat__eval_args args; /* obj_gts is large: not on the stack */
  kat__eval_args *o = &args;
  int rc = parse_args(argc, argv, o);
  if (rc >= 0) return rc;
  if (o->json_path && strcmp(o->json_path, "-") == 0 && redirect_stdout_for_json() != 0) {
    fprintf(stderr, "katana eval: cannot write JSON to stdout: %s\n", strerror(errno));
    return 1;
  }
  if (o->n_obj_gts || o->gt_mot) {
    if (o->nres != 1 || o->gt_plain || o->against_path || o->dataset ||
        (o->n_obj_gts && o->gt_mot)) {
      fprintf(stderr,
              "katana eval: per-object scoring takes one --results DIR and either --gt ID=PATH "
              "(repeatable) or --gt-mot FILE (no plain --gt, --against or --dataset)\n");
      return 2;
    }
    o->opt.worst_count = 0;
    return run_objects(o->results[0], o->obj_gts, o->n_obj_gts, o->gt_mot, (int)o->mot_base,
                       (int)o->object_id, &o->opt, o->json_path);
  }
  if (o->dataset) {
    if (o->nres == 0 || !o->gt_path || o->against_path) {
      fprintf(stderr, "katana eval: --dataset needs --gt ROOT and --results ROOT (no --against)\n");
      return 2;
    }
    o->opt.worst_count = 0;
    return run_dataset(o->gt_path, o->results, o->nres, (int)o->object_id, &o->opt, o->json_path,
                       o->per_sequence);
  }
  if (o->nres == 0 || (!o->gt_path && !o->against_path)) {
    fprintf(stderr, "katana eval: need --results and --gt and/or --against\n\n");
    usage(stderr);
    return 2;
  }
  o->opt.worst_count = o->worst >= 0 ? (size_t)o->worst : 10;
  size_t term_worst = o->worst >= 0 ? (size_t)o->worst : (o->against_path ? 10 : 0);

  kat__eval_state st = {0};
  rc = load_and_score(o, &st);
  if (rc == 0 && st.gt) print_scores(o, &st, term_worst);
  if (rc == 0 && st.other) print_comparisons(o, &st, term_worst);
  if (rc == 0 && o->json_path) rc = write_json(o, &st);
  eval_cleanup(&st, o->nres);
  return rc;
}
