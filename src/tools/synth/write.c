/*
 * kat__synth_write (tools/synth/synth.h): renders planned clips (render.c) and writes them as
 * LaSOT-style folders: PNG frames and masks, groundtruth.txt, full_occlusion.txt,
 * out_of_view.txt and optionally video.mp4.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/synth/synth.h"
#include "media/encode.h"
#include "media/image_io.h"
#include "tools/synth/render.h"

void kat__synth_options_init(kat__synth_options *opts) {
  if (!opts) return;
  memset(opts, 0, sizeof *opts);
  opts->suite = KAT_SYNTH_TRAIN;
  opts->seed = 1;
  opts->count = 1;
  opts->frames = 60;
  opts->width = 640;
  opts->height = 360;
}

int kat__synth_suite_parse(const char *name) {
  if (!name) return -1;
  if (strcmp(name, "train") == 0) return KAT_SYNTH_TRAIN;
  if (strcmp(name, "eval") == 0) return KAT_SYNTH_EVAL;
  return -1;
}

/* mkdir -p for one path (modifies a copy). */
static int make_dirs(const char *path, kat__errbuf *eb) {
  char buf[4096];
  if (kat__strlcpy(buf, path, sizeof buf) >= sizeof buf)
    return kat__fail(eb, KAT_EINVAL, "%s: path too long", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return kat__fail(eb, KAT_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
      *p = saved;
      if (saved == '\0') break;
    }
  }
  return KAT_OK;
}

static int join(char *out, size_t size, const char *a, const char *b, kat__errbuf *eb) {
  int n = snprintf(out, size, "%s/%s", a, b);
  if (n < 0 || (size_t)n >= size) return kat__fail(eb, KAT_EINVAL, "%s/%s: path too long", a, b);
  return KAT_OK;
}

/* Clip i's seed: mixes the base seed and the index so clips are independent. */
static uint64_t clip_seed(uint64_t seed, int i) {
  uint64_t st = seed * 0x100000001B3ull + (uint64_t)i;
  return kat__splitmix64(&st);
}

static int write_clip(const kat__synth_options *o, int index, uint8_t *rgb, uint8_t *mask,
                      kat__errbuf *eb) {
  static const char *const suite_names[] = {"train", "eval"};
  char dir[4096], sub[4096], path[4096], name[64];
  int rc;
  kat__synth_clip *clip = NULL;
  kat__video_writer *vw = NULL;
  FILE *gt = NULL, *occ = NULL, *oov = NULL;
  snprintf(name, sizeof name, "%s-%03d", suite_names[o->suite], index);
  if ((rc = join(dir, sizeof dir, o->out_dir, name, eb)) != KAT_OK) return rc;
  if ((rc = join(sub, sizeof sub, dir, "img", eb)) != KAT_OK) return rc;
  if ((rc = make_dirs(sub, eb)) != KAT_OK) return rc;
  if ((rc = join(sub, sizeof sub, dir, "masks", eb)) != KAT_OK) return rc;
  if ((rc = make_dirs(sub, eb)) != KAT_OK) return rc;
  rc = kat__synth_clip_create(o->suite, clip_seed(o->seed, index), o->width, o->height, o->frames,
                              &clip, eb);
  if (rc != KAT_OK) goto done;
  const char *files[3] = {"groundtruth.txt", "full_occlusion.txt", "out_of_view.txt"};
  FILE **fps[3] = {&gt, &occ, &oov};
  for (int i = 0; i < 3; i++) {
    if ((rc = join(path, sizeof path, dir, files[i], eb)) != KAT_OK) goto done;
    *fps[i] = fopen(path, "w");
    if (!*fps[i]) {
      rc = kat__fail(eb, KAT_EIO, "%s: %s", path, strerror(errno));
      goto done;
    }
  }
  if (o->write_mp4) {
    if ((rc = join(path, sizeof path, dir, "video.mp4", eb)) != KAT_OK) goto done;
    if ((rc = kat__video_writer_open(path, o->width, o->height, 30.0, &vw, eb)) != KAT_OK)
      goto done;
  }
  for (int t = 0; t < o->frames; t++) {
    kat__synth_info info;
    if ((rc = kat__synth_clip_render(clip, t, rgb, mask, &info)) != KAT_OK) goto done;
    char file[32];
    snprintf(file, sizeof file, "img/%05d.png", t);
    if ((rc = join(path, sizeof path, dir, file, eb)) != KAT_OK) goto done;
    rc = kat__png_write(path, rgb, o->width, o->height, 3, (size_t)o->width * 3, eb);
    if (rc != KAT_OK) goto done;
    rc = kat__mask_png_write(sub, t, mask, o->width, o->height, (size_t)o->width, eb);
    if (rc != KAT_OK) goto done;
    fprintf(gt, "%d,%d,%d,%d\n", info.box[0], info.box[1], info.box[2], info.box[3]);
    fprintf(occ, "%s%d", t ? "," : "", info.full_occlusion);
    fprintf(oov, "%s%d", t ? "," : "", info.out_of_view);
    if (vw && (rc = kat__video_writer_write(vw, rgb, (size_t)o->width * 3)) != KAT_OK) {
      kat__fail(eb, rc, "%s", kat__video_writer_last_error(vw));
      goto done;
    }
  }
  fputc('\n', occ);
  fputc('\n', oov);
done:
  if (vw) {
    int crc = kat__video_writer_close(vw, rc == KAT_OK ? eb : NULL);
    if (rc == KAT_OK) rc = crc;
  }
  for (int i = 0; i < 3; i++) {
    FILE *f = i == 0 ? gt : i == 1 ? occ : oov;
    if (f && fclose(f) != 0 && rc == KAT_OK)
      rc = kat__fail(eb, KAT_EIO, "%s: cannot write: %s", dir, strerror(errno));
  }
  kat__synth_clip_destroy(clip);
  return rc;
}

int kat__synth_write(const kat__synth_options *o, char *err, size_t err_size) {
  kat__errbuf eb;
  int rc = KAT_OK;
  uint8_t *rgb = NULL, *mask = NULL;
  kat__errbuf_clear(&eb);
  if (!o || !o->out_dir || !o->out_dir[0] || o->count < 1 || o->count > 100000 || o->frames < 1 ||
      (o->suite != KAT_SYNTH_TRAIN && o->suite != KAT_SYNTH_EVAL) || o->width < 32 ||
      o->height < 32 || o->width > 4096 || o->height > 4096) {
    rc = kat__fail(&eb, KAT_EINVAL,
                   "synth: bad options (need out_dir, count >= 1, frames >= 1, size 32..4096)");
    goto done;
  }
  if ((rc = make_dirs(o->out_dir, &eb)) != KAT_OK) goto done;
  size_t px = (size_t)o->width * (size_t)o->height;
  rgb = kat__malloc(px * 3);
  mask = kat__malloc(px);
  if (!rgb || !mask) {
    rc = kat__fail(&eb, KAT_ENOMEM, "synth: out of memory");
    goto done;
  }
  for (int i = 0; i < o->count && rc == KAT_OK; i++) rc = write_clip(o, i, rgb, mask, &eb);
done:
  kat__free(rgb);
  kat__free(mask);
  if (err && err_size) kat__strlcpy(err, rc == KAT_OK ? "" : eb.msg, err_size);
  return rc;
}
