/*
 * Prompt files (include/katana/prompts.h): the JSON list of `katana track --prompts`, parsed with
 * the library's JSON reader (src/model/json.h), every entry validated with its index in the
 * message, and mask files decoded with the image reader (src/media/image_io.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "katana/prompts.h"
#include "media/image_io.h"
#include "model/json.h"
#include "track/prompts_file.h"

#define PROMPTS_MAX_BYTES ((size_t)4 << 20)

void kat_prompts_free(kat_prompt_list *list) {
  if (!list) return;
  for (size_t i = 0; i < list->count; i++) kat__free((void *)list->entries[i].prompt.mask);
  kat__free(list->entries);
  kat__free(list);
}

/* Reads the whole file into a kat__malloc'ed buffer (*len bytes). */
static int read_text(const char *path, char **out, size_t *len, kat__errbuf *eb) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return kat__fail(eb, errno == ENOENT ? KAT_ENOENT : KAT_EIO, "%s: cannot open: %s", path,
                     strerror(errno));
  char *buf = kat__malloc(PROMPTS_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return kat__fail(eb, KAT_ENOMEM, "%s: out of memory", path);
  }
  size_t n = fread(buf, 1, PROMPTS_MAX_BYTES + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    kat__free(buf);
    return kat__fail(eb, KAT_EIO, "%s: read error", path);
  }
  if (n > PROMPTS_MAX_BYTES) {
    kat__free(buf);
    return kat__fail(eb, KAT_EFORMAT, "%s: larger than %zu bytes", path, PROMPTS_MAX_BYTES);
  }
  *out = buf;
  *len = n;
  return KAT_OK;
}

/* A finite number into *out. */
static int get_num(const kat__json *v, double *out) {
  return kat__json_double(v, out) && isfinite(*out);
}

/* Decodes the mask PNG/JPEG at `path` into e->prompt's mask (255 where any channel is nonzero). */
static int load_mask(const char *path, const char *where, kat_prompt_entry *e, kat__errbuf *eb) {
  kat__image img = {0};
  kat__errbuf ib = {{0}};
  int rc = kat__image_read(path, &img, &ib);
  if (rc) {
    kat__image_cleanup(&img);
    return kat__fail(eb, rc == KAT_ENOMEM ? KAT_ENOMEM : KAT_EFORMAT, "%s: mask: %s", where,
                     ib.msg);
  }
  size_t n = 0;
  uint8_t *m = NULL;
  if (kat__size_mul((size_t)img.width, (size_t)img.height, &n)) m = kat__malloc(n ? n : 1);
  if (!m) {
    kat__image_cleanup(&img);
    return kat__fail(eb, KAT_ENOMEM, "%s: mask '%s': out of memory", where, path);
  }
  size_t on = 0;
  for (int y = 0; y < img.height; y++) {
    const uint8_t *row = img.data + (size_t)y * img.stride;
    for (int x = 0; x < img.width; x++) {
      const uint8_t *px = row + (size_t)x * 3;
      const int obj = px[0] | px[1] | px[2];
      m[(size_t)y * (size_t)img.width + (size_t)x] = obj ? 255 : 0;
      on += obj != 0;
    }
  }
  e->prompt.mask = m;
  e->prompt.mask_width = img.width;
  e->prompt.mask_height = img.height;
  e->prompt.mask_stride = (size_t)img.width;
  kat__image_cleanup(&img);
  if (!on) return kat__fail(eb, KAT_EFORMAT, "%s: mask '%s' has no object pixel", where, path);
  return KAT_OK;
}

/* Fills e from the JSON object v (entry `index` of the file at `path`, whose folder is `base`). */
static int parse_entry(const kat__json *v, const char *where, const char *base, kat_prompt_entry *e,
                       kat__errbuf *eb) {
  static const char *const k_keys[] = {"frame", "obj", "box", "points", "mask", "append"};
  kat_prompt_init(&e->prompt);
  if (kat__json_type(v) != KAT_JSON_OBJECT)
    return kat__fail(eb, KAT_EFORMAT, "%s: not an object but a %s", where,
                     kat__json_type_name(kat__json_type(v)));
  for (size_t i = 0; i < kat__json_len(v); i++) {
    const char *key = kat__json_key(kat__json_at(v, i));
    int known = 0;
    for (size_t k = 0; k < sizeof k_keys / sizeof k_keys[0]; k++)
      known |= key && strcmp(key, k_keys[k]) == 0;
    if (!known)
      return kat__fail(eb, KAT_EFORMAT,
                       "%s: unknown key '%s' (frame, obj, box, points, mask, append)", where,
                       key ? key : "?");
  }
  int64_t fr = -1, obj = -1;
  if (!kat__json_int64(kat__json_get(v, "frame"), &fr) || fr < 0)
    return kat__fail(eb, KAT_EFORMAT, "%s: \"frame\" must be an integer >= 0", where);
  if (!kat__json_int64(kat__json_get(v, "obj"), &obj) || obj < 0 || obj > 1000000)
    return kat__fail(eb, KAT_EFORMAT, "%s: \"obj\" must be an integer in [0, 1000000]", where);
  e->frame = fr;
  e->obj_id = (int)obj;
  const kat__json *box = kat__json_get(v, "box"), *pts = kat__json_get(v, "points");
  const kat__json *mask = kat__json_get(v, "mask"), *app = kat__json_get(v, "append");
  if (app) {
    bool b = false;
    if (!kat__json_bool(app, &b))
      return kat__fail(eb, KAT_EFORMAT, "%s: \"append\" must be true or false", where);
    e->prompt.append = b;
  }
  if (!box && !pts && !mask)
    return kat__fail(eb, KAT_EFORMAT, "%s: needs \"box\", \"points\" or \"mask\"", where);
  if (mask && (box || pts))
    return kat__fail(eb, KAT_EFORMAT, "%s: a \"mask\" prompt takes no box or points", where);
  if (e->prompt.append && (box || mask))
    return kat__fail(eb, KAT_EFORMAT, "%s: \"append\" adds points only (no box or mask)", where);
  if (box) {
    double b[4];
    int ok = kat__json_type(box) == KAT_JSON_ARRAY && kat__json_len(box) == 4;
    for (size_t i = 0; ok && i < 4; i++) ok = get_num(kat__json_at(box, i), &b[i]);
    if (!ok || !(b[2] > 0) || !(b[3] > 0))
      return kat__fail(eb, KAT_EFORMAT,
                       "%s: \"box\" must be [x, y, w, h], finite numbers with w, h > 0", where);
    e->prompt.has_box = 1;
    memcpy(e->prompt.box, b, sizeof b);
  }
  if (pts) {
    size_t n = kat__json_len(pts);
    if (kat__json_type(pts) != KAT_JSON_ARRAY || n == 0 || n > KAT_MAX_PROMPT_POINTS)
      return kat__fail(eb, KAT_EFORMAT, "%s: \"points\" must be a list of 1 to %d [x, y, label]",
                       where, KAT_MAX_PROMPT_POINTS);
    for (size_t i = 0; i < n; i++) {
      const kat__json *p = kat__json_at(pts, i);
      double x, y;
      int64_t label = -1;
      if (kat__json_type(p) != KAT_JSON_ARRAY || kat__json_len(p) != 3 ||
          !get_num(kat__json_at(p, 0), &x) || !get_num(kat__json_at(p, 1), &y) ||
          !kat__json_int64(kat__json_at(p, 2), &label) || (label != 0 && label != 1))
        return kat__fail(eb, KAT_EFORMAT,
                         "%s: point %zu must be [x, y, label] with finite x, y and label 1 "
                         "(positive) or 0 (negative)",
                         where, i);
      e->prompt.points[i][0] = x;
      e->prompt.points[i][1] = y;
      e->prompt.labels[i] = (int)label;
    }
    e->prompt.n_points = (int)n;
  }
  if (mask) {
    const char *mp = kat__json_string(mask, NULL);
    if (!mp || !mp[0]) return kat__fail(eb, KAT_EFORMAT, "%s: \"mask\" must be a file name", where);
    char full[4096];
    int n = mp[0] == '/' ? snprintf(full, sizeof full, "%s", mp)
                         : snprintf(full, sizeof full, "%s/%s", base, mp);
    if (n < 0 || (size_t)n >= sizeof full)
      return kat__fail(eb, KAT_EFORMAT, "%s: mask path too long", where);
    return load_mask(full, where, e, eb);
  }
  return KAT_OK;
}

int kat__prompts_from_json(const kat__json *root, const char *origin, const char *base,
                           kat_prompt_list **out, kat__errbuf *eb) {
  kat_prompt_list *list = NULL;
  int rc = KAT_OK;
  *out = NULL;
  if (kat__json_type(root) != KAT_JSON_ARRAY)
    return kat__fail(eb, KAT_EFORMAT, "%s: prompts must be a JSON list, not a %s", origin,
                     kat__json_type_name(kat__json_type(root)));
  const size_t n = kat__json_len(root);
  if (n == 0) return kat__fail(eb, KAT_EFORMAT, "%s: the prompt list is empty", origin);
  list = kat__calloc(1, sizeof *list);
  if (list) list->entries = kat__calloc(n, sizeof *list->entries);
  if (!list || !list->entries) {
    rc = kat__fail(eb, KAT_ENOMEM, "%s: out of memory", origin);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    char where[4200];
    snprintf(where, sizeof where, "%s: prompt %zu", origin, i);
    list->count = i + 1; /* a partly filled entry's mask is freed with the list */
    if ((rc = parse_entry(kat__json_at(root, i), where, base, &list->entries[i], eb))) goto done;
  }
  *out = list;
  list = NULL;
done:
  kat_prompts_free(list);
  return rc;
}

int kat_prompts_load(const char *path, kat_prompt_list **out, char *err, size_t err_size) {
  kat__errbuf eb = {{0}};
  char *text = NULL;
  size_t len = 0;
  kat__json_doc *doc = NULL;
  int rc;
  if (out) *out = NULL;
  if (!path || !out) {
    rc = kat__fail(&eb, KAT_EINVAL, "kat_prompts_load: NULL argument");
    goto done;
  }
  if ((rc = read_text(path, &text, &len, &eb))) goto done;
  if ((rc = kat__json_parse(text, len, path, NULL, &doc, &eb))) goto done;
  char base[4096];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(base, sizeof base, ".");
  else
    snprintf(base, sizeof base, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  rc = kat__prompts_from_json(kat__json_root(doc), path, base, out, &eb);
done:
  kat__json_destroy(doc);
  kat__free(text);
  if (err && err_size) snprintf(err, err_size, "%s", rc ? eb.msg : "");
  return rc;
}
