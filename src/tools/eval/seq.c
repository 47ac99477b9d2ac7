/*
 * The kat__eval_seq loaders: a box file, a mask folder or a katana results folder into one sequence
 * (the readers of each file kind: boxfile.c, jsonl.c, mask.c, read.c).
 *
 * Box files follow LaSOT's groundtruth.txt: one box per line, x,y,w,h, absent frames as 0,0,0,0
 * or NaN. A katana results folder holds boxes.txt (the same format), results.jsonl (one JSON
 * object per frame; only "frame", "box", "present" and "candidate" are read) and masks/NNNNN.png.
 * A mask folder holds <frame>.png files (DAVIS style). PNGs are decoded with libpng directly.
 */
#include "tools/eval/results.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "tools/eval/metrics.h"

/* ---- sequences ---- */

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void kat__eval_seq_destroy(kat__eval_seq *seq) {
  if (!seq) return;
  kat__free(seq->boxes);
  kat__mask_paths_free(seq->mask_paths, seq->frames);
  kat__free(seq->candidates);
  kat__free(seq);
}

static kat__eval_seq *seq_new(void) {
  kat__eval_seq *s = kat__calloc(1, sizeof *s);
  if (s) s->box_source = "none";
  return s;
}

/* Grows every per-frame array of `s` to `frames` entries (new boxes NaN, candidates -1). */
static int seq_resize(kat__eval_seq *s, size_t frames) {
  if (frames <= s->frames) return KAT_OK;
  size_t old = s->frames;
  if (s->boxes) {
    kat__eval_box *nb = kat__realloc(s->boxes, frames * sizeof *nb);
    if (!nb) return KAT_ENOMEM;
    for (size_t i = old; i < frames; i++) nb[i].x = nb[i].y = nb[i].w = nb[i].h = NAN;
    s->boxes = nb;
  }
  if (s->mask_paths) {
    char **np = kat__realloc(s->mask_paths, frames * sizeof *np);
    if (!np) return KAT_ENOMEM;
    for (size_t i = old; i < frames; i++) np[i] = NULL;
    s->mask_paths = np;
  }
  if (s->candidates) {
    int *nc = kat__realloc(s->candidates, frames * sizeof *nc);
    if (!nc) return KAT_ENOMEM;
    for (size_t i = old; i < frames; i++) nc[i] = -1;
    s->candidates = nc;
  }
  s->frames = frames;
  return KAT_OK;
}

static int load_box_file_into(kat__eval_seq *s, const char *path, char *err, size_t err_size) {
  char *text = NULL;
  size_t len = 0;
  int status = kat__read_file(path, &text, &len, err, err_size);
  if (status != KAT_OK) return status;
  kat__eval_box *boxes = NULL;
  size_t n = 0;
  status = kat__boxfile_parse(text, len, path, &boxes, &n, err, err_size);
  kat__free(text);
  if (status != KAT_OK) return status;
  kat__free(s->boxes);
  s->boxes = NULL;
  if (n > s->frames) {
    /* Grow the other per-frame arrays first; `boxes` already has n entries. */
    status = seq_resize(s, n);
    if (status != KAT_OK) {
      kat__free(boxes);
      return kat__eval_error(err, err_size, status, "%s: out of memory", path);
    }
  } else if (n < s->frames) {
    kat__eval_box *nb = kat__realloc(boxes, s->frames * sizeof *nb);
    if (!nb) {
      kat__free(boxes);
      return kat__eval_error(err, err_size, KAT_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = n; i < s->frames; i++) nb[i].x = nb[i].y = nb[i].w = nb[i].h = NAN;
    boxes = nb;
  }
  s->boxes = boxes;
  return KAT_OK;
}

/* Applies LaSOT's full_occlusion.txt and out_of_view.txt beside `path`, if present: flagged
 * frames become absent (NaN boxes). */
static int apply_absent_flags(kat__eval_seq *s, const char *path, char *err, size_t err_size) {
  const char *slash = strrchr(path, '/');
  size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
  const char *names[] = {"full_occlusion.txt", "out_of_view.txt"};
  uint8_t *flags = kat__malloc(s->frames);
  if (!flags) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  int status = KAT_OK;
  for (size_t k = 0; k < 2 && status == KAT_OK; k++) {
    size_t nl = strlen(names[k]);
    char *fp = kat__malloc(dir_len + nl + 1);
    if (!fp) {
      status = kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
      break;
    }
    memcpy(fp, path, dir_len);
    memcpy(fp + dir_len, names[k], nl + 1);
    if (is_file(fp)) {
      char *text = NULL;
      size_t len = 0;
      status = kat__read_file(fp, &text, &len, err, err_size);
      if (status == KAT_OK)
        status = kat__flags_parse(text, len, fp, flags, s->frames, err, err_size);
      kat__free(text);
      for (size_t i = 0; status == KAT_OK && i < s->frames; i++) {
        if (!flags[i]) continue;
        if (kat__box_valid(&s->boxes[i])) s->absent_flags++;
        s->boxes[i].x = s->boxes[i].y = s->boxes[i].w = s->boxes[i].h = NAN;
      }
    }
    kat__free(fp);
  }
  kat__free(flags);
  return status;
}

int kat__eval_seq_load_boxes(const char *path, kat__eval_seq **out, char *err, size_t err_size) {
  *out = NULL;
  kat__eval_seq *s = seq_new();
  if (!s) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  int status = load_box_file_into(s, path, err, err_size);
  if (status != KAT_OK) goto fail;
  if (!s->boxes) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s: no boxes", path);
    goto fail;
  }
  status = apply_absent_flags(s, path, err, err_size);
  if (status != KAT_OK) goto fail;
  s->box_source = "box file";
  *out = s;
  return KAT_OK;
fail:
  kat__eval_seq_destroy(s);
  return status;
}

/* Attaches a mask folder's files to `s` (no-op if it has none). */
static int attach_masks(kat__eval_seq *s, const char *dir, char *err, size_t err_size) {
  char **paths = NULL;
  size_t frames = 0, count = 0;
  int status = kat__mask_dir_list(dir, &paths, &frames, &count, err, err_size);
  if (status != KAT_OK || !paths) return status;
  size_t total = frames > s->frames ? frames : s->frames;
  status = seq_resize(s, total);
  if (status == KAT_OK && frames < total) {
    char **np = kat__realloc(paths, total * sizeof *np);
    if (!np) {
      status = KAT_ENOMEM;
    } else {
      for (size_t i = frames; i < total; i++) np[i] = NULL;
      paths = np;
    }
  }
  if (status != KAT_OK) {
    kat__mask_paths_free(paths, frames);
    return kat__eval_error(err, err_size, status, "%s: out of memory", dir);
  }
  s->mask_paths = paths;
  s->mask_count = count;
  return KAT_OK;
}

/* Fills s->boxes from the masks' tight bounding boxes (empty or missing mask: NaN). */
static int boxes_from_masks(kat__eval_seq *s, char *err, size_t err_size) {
  if (!s->mask_paths || !s->frames) return KAT_OK;
  kat__eval_box *boxes = kat__malloc(s->frames * sizeof *boxes);
  if (!boxes) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  kat__mask_buf mb = {0};
  int status = KAT_OK;
  for (size_t i = 0; i < s->frames; i++) {
    boxes[i].x = boxes[i].y = boxes[i].w = boxes[i].h = NAN;
    if (!s->mask_paths[i]) continue;
    status = kat__mask_read_png(s->mask_paths[i], s->object_id, &mb, err, err_size);
    if (status != KAT_OK) break;
    kat__mask_bbox(mb.data, mb.w, mb.h, &boxes[i]);
  }
  kat__mask_buf_cleanup(&mb);
  if (status != KAT_OK) {
    kat__free(boxes);
    return status;
  }
  kat__free(s->boxes);
  s->boxes = boxes;
  s->box_source = "masks";
  return KAT_OK;
}

int kat__eval_seq_load_masks(const char *dir, int object_id, kat__eval_seq **out, char *err,
                             size_t err_size) {
  *out = NULL;
  kat__eval_seq *s = seq_new();
  if (!s) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
  s->object_id = object_id;
  int status = attach_masks(s, dir, err, err_size);
  if (status != KAT_OK) goto fail;
  if (!s->mask_paths) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT,
                             "%s: no mask files (expected <frame number>.png)", dir);
    goto fail;
  }
  status = boxes_from_masks(s, err, err_size);
  if (status != KAT_OK) goto fail;
  *out = s;
  return KAT_OK;
fail:
  kat__eval_seq_destroy(s);
  return status;
}

/* Adds results.jsonl's candidates (and boxes, with want_boxes) to s; with check_boxes, s's boxes
 * (from boxes.txt) must agree with the file's: same frame count, same boxes within 0.5 px. */
static int load_jsonl_into(kat__eval_seq *s, const char *path, bool want_boxes, bool check_boxes,
                           char *err, size_t err_size) {
  char *text = NULL;
  size_t len = 0;
  int status = kat__read_file(path, &text, &len, err, err_size);
  if (status != KAT_OK) return status;
  kat__jsonl_record *rec = NULL;
  size_t n = 0;
  status = kat__jsonl_parse(text, len, path, &rec, &n, err, err_size);
  kat__free(text);
  if (status != KAT_OK) return status;
  if (check_boxes && s->boxes) {
    /* boxes.txt and results.jsonl are two views of one run: refuse to score a folder where
     * they disagree (a mix of two runs, or a file edited by hand). */
    if (n != s->frames) {
      status = kat__eval_error(err, err_size, KAT_EFORMAT,
                               "%s: boxes.txt has %zu frames but results.jsonl has %zu; the two "
                               "files are not from the same run",
                               path, s->frames, n);
      kat__free(rec);
      return status;
    }
    for (size_t i = 0; i < n; i++) {
      const kat__eval_box *a = &rec[i].box;
      size_t f = (size_t)rec[i].frame;
      if (!rec[i].has_box || !isfinite(a->x) || !isfinite(a->w) || f >= s->frames) continue;
      const kat__eval_box *b = &s->boxes[f];
      if (fabs(a->x - b->x) > 0.5 || fabs(a->y - b->y) > 0.5 || fabs(a->w - b->w) > 0.5 ||
          fabs(a->h - b->h) > 0.5 || !isfinite(b->x)) {
        status = kat__eval_error(err, err_size, KAT_EFORMAT,
                                 "%s: frame %zu: results.jsonl has box %g,%g,%g,%g but "
                                 "boxes.txt %g,%g,%g,%g; the two files disagree",
                                 path, f, a->x, a->y, a->w, a->h, b->x, b->y, b->w, b->h);
        kat__free(rec);
        return status;
      }
    }
  }
  size_t frames = s->frames;
  bool any_box = false, any_cand = false;
  for (size_t i = 0; i < n; i++) {
    if ((size_t)rec[i].frame + 1 > frames) frames = (size_t)rec[i].frame + 1;
    any_box |= rec[i].has_box;
    any_cand |= rec[i].candidate >= 0;
  }
  if (any_cand && !s->candidates) {
    s->candidates = kat__malloc((s->frames ? s->frames : 1) * sizeof *s->candidates);
    if (!s->candidates) status = KAT_ENOMEM;
    for (size_t i = 0; s->candidates && i < s->frames; i++) s->candidates[i] = -1;
  }
  bool take_boxes = want_boxes && any_box;
  if (status == KAT_OK && take_boxes && !s->boxes) {
    s->boxes = kat__malloc((s->frames ? s->frames : 1) * sizeof *s->boxes);
    if (!s->boxes) status = KAT_ENOMEM;
    for (size_t i = 0; s->boxes && i < s->frames; i++)
      s->boxes[i].x = s->boxes[i].y = s->boxes[i].w = s->boxes[i].h = NAN;
  }
  if (status == KAT_OK) status = seq_resize(s, frames);
  if (status != KAT_OK) {
    kat__free(rec);
    return kat__eval_error(err, err_size, status, "%s: out of memory", path);
  }
  for (size_t i = 0; i < n; i++) {
    size_t f = (size_t)rec[i].frame;
    if (any_cand) s->candidates[f] = rec[i].candidate;
    if (take_boxes && rec[i].has_box) s->boxes[f] = rec[i].box;
  }
  if (take_boxes) s->box_source = "results.jsonl";
  kat__free(rec);
  return KAT_OK;
}

int kat__eval_seq_load_results(const char *dir, int object_id, kat__eval_seq **out, char *err,
                               size_t err_size) {
  *out = NULL;
  char *boxes = kat__eval_path_join(dir, "boxes.txt");
  char *gtbox = kat__eval_path_join(dir, "groundtruth.txt");
  char *jsonl = kat__eval_path_join(dir, "results.jsonl");
  char *masks = kat__eval_path_join(dir, "masks");
  kat__eval_seq *s = seq_new();
  int status = KAT_OK;
  if (!boxes || !gtbox || !jsonl || !masks || !s) {
    status = kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
    goto fail;
  }
  s->object_id = object_id;
  bool has_boxes = is_file(boxes), has_jsonl = is_file(jsonl), has_masks = is_dir(masks);
  bool has_gt = !has_boxes && is_file(gtbox);
  if (!has_boxes && !has_gt && !has_jsonl && !has_masks) {
    status = kat__eval_error(err, err_size, KAT_ENOENT,
                             "%s: neither a katana results folder nor a sequence folder (no "
                             "boxes.txt, groundtruth.txt, results.jsonl or masks/)",
                             dir);
    goto fail;
  }
  if (has_boxes) {
    status = load_box_file_into(s, boxes, err, err_size);
    if (status != KAT_OK) goto fail;
    if (s->boxes) s->box_source = "boxes.txt";
  } else if (has_gt) {
    /* A sequence folder (LaSOT, katana synth): groundtruth.txt and its flag files. */
    status = load_box_file_into(s, gtbox, err, err_size);
    if (status == KAT_OK && s->boxes) status = apply_absent_flags(s, gtbox, err, err_size);
    if (status != KAT_OK) goto fail;
    if (s->boxes) s->box_source = "groundtruth.txt";
  }
  if (has_jsonl) {
    status = load_jsonl_into(s, jsonl, s->boxes == NULL, has_boxes, err, err_size);
    if (status != KAT_OK) goto fail;
  }
  if (has_masks) {
    status = attach_masks(s, masks, err, err_size);
    if (status != KAT_OK) goto fail;
    if (!s->boxes) {
      status = boxes_from_masks(s, err, err_size);
      if (status != KAT_OK) goto fail;
    }
  }
  if (s->frames == 0) {
    status = kat__eval_error(err, err_size, KAT_EFORMAT, "%s: the results hold no frame", dir);
    goto fail;
  }
  *out = s;
  goto done;
fail:
  kat__eval_seq_destroy(s);
done:
  kat__free(boxes);
  kat__free(gtbox);
  kat__free(jsonl);
  kat__free(masks);
  return status;
}

int kat__eval_seq_load(const char *path, int object_id, kat__eval_seq **out, char *err,
                       size_t err_size) {
  *out = NULL;
  if (is_file(path)) return kat__eval_seq_load_boxes(path, out, err, err_size);
  if (!is_dir(path)) return kat__eval_error(err, err_size, KAT_ENOENT, "%s: no such file", path);
  const char *names[] = {"boxes.txt", "groundtruth.txt", "results.jsonl", "masks"};
  for (size_t i = 0; i < 4; i++) {
    char *p = kat__eval_path_join(path, names[i]);
    if (!p) return kat__eval_error(err, err_size, KAT_ENOMEM, "out of memory");
    bool hit = i < 3 ? is_file(p) : is_dir(p);
    kat__free(p);
    if (hit) return kat__eval_seq_load_results(path, object_id, out, err, err_size);
  }
  return kat__eval_seq_load_masks(path, object_id, out, err, err_size);
}
