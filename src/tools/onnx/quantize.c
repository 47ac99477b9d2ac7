/*
 * kat__onnx_quantize: writes an INT8 copy of a bundle. The chosen modules go through the verified
 * int8 rewrite pass (pass_int8.c); the others and constants.bin are copied byte for byte; the
 * manifest is the input's text with, per quantized module, the new sha256, "precision": "int8"
 * and a "quantization" object recording the settings. Edits are made at the byte offsets the
 * JSON parser reports, so everything else in the manifest (fields katana does not know included)
 * is kept as it was. The written manifest is parsed and validated again before returning.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/onnx/onnx.h"
#include "model/json.h"
#include "model/manifest.h"
#include "model/sha256.h"
#include "tools/onnx/passes.h"
#include "runtime/system.h"

void kat__onnx_quantize_options_init(kat__onnx_quantize_options *o) {
  memset(o, 0, sizeof *o);
  o->reduce_range = -1;
  o->tol_rel = 0.1;
}

static int read_all(const char *path, char **out, size_t *len, kat__errbuf *eb) {
  FILE *f = fopen(path, "rb");
  if (!f) return kat__fail(eb, KAT_ENOENT, "%s: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *b = kat__malloc(cap + 1);
  int rc = KAT_OK;
  while (b) {
    size_t r = fread(b + n, 1, cap - n, f);
    n += r;
    if (n < cap) break;
    if (cap > KAT_MANIFEST_MAX_BYTES) {
      rc = kat__fail(eb, KAT_ERANGE, "%s is larger than %zu bytes", path, KAT_MANIFEST_MAX_BYTES);
      break;
    }
    char *nb = kat__realloc(b, 2 * cap + 1);
    if (!nb) break;
    b = nb;
    cap *= 2;
  }
  if (!b && !rc) rc = kat__fail(eb, KAT_ENOMEM, "out of memory");
  if (!rc && ferror(f)) rc = kat__fail(eb, KAT_EIO, "%s: read error", path);
  fclose(f);
  if (rc) {
    kat__free(b);
    return rc;
  }
  b[n] = 0;
  *out = b;
  *len = n;
  return KAT_OK;
}

static int copy_file(const char *from, const char *to, kat__errbuf *eb) {
  FILE *in = fopen(from, "rb");
  if (!in) return kat__fail(eb, KAT_ENOENT, "%s: %s", from, strerror(errno));
  char tmp[KAT_ONNX_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", to);
  FILE *out = fopen(tmp, "wb");
  int rc = KAT_OK;
  if (!out) {
    fclose(in);
    return kat__fail(eb, KAT_EIO, "%s: %s", tmp, strerror(errno));
  }
  char buf[1 << 16];
  size_t r;
  while ((r = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, r, out) != r) {
      rc = kat__fail(eb, KAT_EIO, "%s: write error", tmp);
      break;
    }
  if (!rc && ferror(in)) rc = kat__fail(eb, KAT_EIO, "%s: read error", from);
  fclose(in);
  if (fclose(out) != 0 && !rc) rc = kat__fail(eb, KAT_EIO, "%s: write error", tmp);
  if (!rc && rename(tmp, to) != 0) rc = kat__fail(eb, KAT_EIO, "%s: %s", to, strerror(errno));
  if (rc) remove(tmp);
  return rc;
}

/* Byte offset of a value from its 1-based line and column (columns count UTF-8 characters). */
static size_t offset_of(const char *text, size_t len, const kat__json *v) {
  int line, col, l = 1, c = 1;
  kat__json_pos(v, &line, &col);
  for (size_t i = 0; i < len; i++) {
    if (l == line && c == col) return i;
    unsigned char ch = (unsigned char)text[i];
    if (ch == '\n') {
      l++;
      c = 1;
    } else if ((ch & 0xc0) != 0x80) {
      c++;
    }
  }
  return len;
}

typedef struct edit {
  size_t at, del;
  char ins[512];
} edit;

static int cmp_edit(const void *a, const void *b) {
  const edit *x = a, *y = b;
  return x->at < y->at ? 1 : x->at > y->at ? -1 : 0; /* from the end */
}

static bool selected(const kat__onnx_quantize_options *o, const char *name) {
  if (o->n_modules == 0) {
    static const char *const def[] = {KAT_ONNX_QUANTIZE_DEFAULT_MODULES};
    for (size_t i = 0; i < sizeof def / sizeof *def; i++)
      if (!strcmp(def[i], name)) return true;
    return false;
  }
  for (int i = 0; i < o->n_modules; i++)
    if (o->modules[i] && !strcmp(o->modules[i], name)) return true;
  return false;
}

int kat__onnx_quantize(const char *bundle_dir, const char *out_dir,
                       const kat__onnx_quantize_options *opt, char **report, char *err,
                       size_t err_size) {
  kat__errbuf eb = {{0}};
  kat__sb b = {0};
  kat__onnx_quantize_options o;
  kat__manifest *man = NULL;
  kat__json_doc *doc = NULL;
  char *text = NULL, *out_text = NULL;
  size_t len = 0;
  edit *edits = NULL;
  size_t n_edits = 0;
  int rc = KAT_OK;
  char in_path[KAT_ONNX_PATH_MAX], out_path[KAT_ONNX_PATH_MAX];
  if (report) *report = NULL;
  if (opt)
    o = *opt;
  else
    kat__onnx_quantize_options_init(&o);
  if (!bundle_dir || !out_dir) {
    rc = kat__fail(&eb, KAT_EINVAL, "quantize: a bundle folder and an output folder are required");
    goto done;
  }
  for (int i = 0; i < o.n_modules; i++) {
    bool known = false;
    for (int k = 0; k < KAT_MODULE_COUNT; k++)
      known = known || (o.modules[i] && !strcmp(o.modules[i], kat_module_name((kat_module)k)));
    if (!known) {
      rc = kat__fail(&eb, KAT_EINVAL,
                     "quantize: unknown module '%s' (image_encoder, memory_attention, "
                     "memory_encoder, mask_decoder)",
                     o.modules[i] ? o.modules[i] : "");
      goto done;
    }
  }
  struct stat si, so;
  if (stat(bundle_dir, &si) != 0 || !S_ISDIR(si.st_mode)) {
    rc = kat__fail(&eb, KAT_ENOENT, "quantize: %s is not a bundle folder", bundle_dir);
    goto done;
  }
  if (stat(out_dir, &so) == 0) {
    if (so.st_dev == si.st_dev && so.st_ino == si.st_ino) {
      rc = kat__fail(&eb, KAT_EINVAL, "quantize: the output folder must not be the input bundle");
      goto done;
    }
    if (!S_ISDIR(so.st_mode)) {
      rc = kat__fail(&eb, KAT_EINVAL, "quantize: %s exists and is not a folder", out_dir);
      goto done;
    }
  } else if (mkdir(out_dir, 0775) != 0) {
    rc = kat__fail(&eb, KAT_EIO, "quantize: cannot create %s: %s", out_dir, strerror(errno));
    goto done;
  }
  snprintf(in_path, sizeof in_path, "%s/katana.json", bundle_dir);
  if (!(man = kat__malloc(sizeof *man))) {
    rc = kat__fail(&eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  {
    kat__errbuf meb = {{0}};
    if ((rc = kat__manifest_load(in_path, man, &meb))) {
      rc = kat__fail(&eb, rc, "quantize: %s: invalid bundle manifest: %s", bundle_dir, meb.msg);
      goto done;
    }
  }
  if ((rc = read_all(in_path, &text, &len, &eb))) goto done;
  if ((rc = kat__json_parse(text, len, in_path, NULL, &doc, &eb))) goto done;
  char why[128];
  bool rr = o.reduce_range < 0 ? kat__cpu_int8_reduce_range(why, sizeof why) : o.reduce_range > 0;
  if (o.reduce_range >= 0) snprintf(why, sizeof why, "set by the user");
  kat__sb_printf(&b, "quantize %s -> %s: %s-bit weights (reduce_range %s, %s%s)\n", bundle_dir,
                 out_dir, rr ? "7" : "8", rr ? "on" : "off", o.reduce_range < 0 ? "auto: " : "",
                 why);
  if (!(edits = kat__calloc(4 * KAT_MANIFEST_MODULES + 1, sizeof *edits))) {
    rc = kat__fail(&eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  const kat__json *mods = kat__json_get(kat__json_root(doc), "modules");
  int n_quantized = 0;
  for (int slot = 0; slot < KAT_MANIFEST_MODULES; slot++) {
    const kat__module_manifest *mm = &man->modules[slot];
    if (!mm->present) continue;
    int base_slot = slot == KAT_MODULE_MEMORY_ATTENTION_FIXED ? KAT_MODULE_MEMORY_ATTENTION : slot;
    const char *mname = kat__manifest_module_name(base_slot);
    snprintf(in_path, sizeof in_path, "%s/%s", bundle_dir, mm->file);
    snprintf(out_path, sizeof out_path, "%s/%s", out_dir, mm->file);
    bool want = selected(&o, mname);
    if (want && !strcmp(mm->precision, "int8")) {
      kat__sb_printf(&b, "%s: already int8, copied\n", mm->file);
      want = false;
    }
    if (!want) {
      if ((rc = copy_file(in_path, out_path, &eb))) goto done;
      if (slot != KAT_MODULE_MEMORY_ATTENTION_FIXED)
        kat__sb_printf(&b, "%s: %s, copied\n", mname, mm->precision);
      continue;
    }
    kat__onnx_rewrite_options ro;
    kat__onnx_rewrite_options_init(&ro);
    ro.passes[0] = "int8";
    ro.n_passes = 1;
    ro.int8_reduce_range = rr;
    ro.int8_form = o.form;
    ro.int8_tol_rel = o.tol_rel > 0 ? o.tol_rel : 0.1;
    ro.force = o.force;
    for (int i = 0; i < o.n_exclude && i < KAT_ONNX_MAX_KEEP; i++)
      ro.int8_exclude[ro.n_int8_exclude++] = o.exclude[i];
    char *rep = NULL, rerr[1024];
    rc = kat__onnx_rewrite(in_path, out_path, &ro, &rep, rerr, sizeof rerr);
    if (rep) kat__sb_printf(&b, "%s", rep);
    kat__onnx_free(rep);
    if (rc) {
      rc = kat__fail(&eb, rc, "quantize: %s: %s", mname, rerr);
      goto done;
    }
    uint8_t dg[KAT_SHA256_SIZE];
    char hex[KAT_SHA256_HEX_SIZE];
    if ((rc = kat__sha256_file(out_path, dg, NULL, &eb))) goto done;
    kat__sha256_hex(dg, hex);
    if (!strcmp(hex, mm->sha256)) {
      /* The pass found no MatMul/Gemm with constant weights: the module stays what it was. */
      kat__sb_printf(&b, "%s: nothing to quantize, stays %s\n", mm->file, mm->precision);
      continue;
    }
    const kat__json *mobj = kat__json_get(mods, mname);
    const char *hash_key = slot == KAT_MODULE_MEMORY_ATTENTION_FIXED ? "fixed_sha256" : "sha256";
    const kat__json *hv = kat__json_get(mobj, hash_key);
    if (!mobj || !hv) {
      rc = kat__fail(&eb, KAT_EINTERNAL, "quantize: %s.%s not found again", mname, hash_key);
      goto done;
    }
    edit *e = &edits[n_edits++];
    e->at = offset_of(text, len, hv);
    e->del = 2 + strlen(kat__json_string(hv, NULL));
    snprintf(e->ins, sizeof e->ins, "\"%s\"", hex);
    if (slot == KAT_MODULE_MEMORY_ATTENTION_FIXED) continue; /* shares the module's fields */
    n_quantized++;
    const kat__json *pv = kat__json_get(mobj, "precision");
    if (pv) {
      e = &edits[n_edits++];
      e->at = offset_of(text, len, pv);
      e->del = 2 + strlen(kat__json_string(pv, NULL));
      snprintf(e->ins, sizeof e->ins, "\"int8\"");
    }
    /* After the object's opening brace. */
    e = &edits[n_edits++];
    e->at = offset_of(text, len, mobj) + 1;
    e->del = 0;
    snprintf(e->ins, sizeof e->ins,
             "\n      %s\"quantization\": {\"method\": \"dynamic\", \"ops\": [\"MatMul\", "
             "\"Gemm\"], \"weights\": \"int8 symmetric per output channel\", \"weight_bits\": "
             "%d, \"reduce_range\": %s, \"reduce_range_choice\": \"%s\", \"activations\": "
             "\"uint8 per tensor at run time\", \"form\": \"%s\", \"kept_fp32\": \"Conv, "
             "activation MatMuls, LayerNorm, Softmax\", \"excluded\": %d},",
             pv ? "" : "\"precision\": \"int8\", ", rr ? 7 : 8, rr ? "true" : "false",
             o.reduce_range < 0 ? "auto" : "user",
             o.form ? "DynamicQuantizeLinear+MatMulInteger" : "DynamicQuantizeMatMul", o.n_exclude);
  }
  /* constants */
  snprintf(in_path, sizeof in_path, "%s/%s", bundle_dir, man->constants_file);
  snprintf(out_path, sizeof out_path, "%s/%s", out_dir, man->constants_file);
  if ((rc = copy_file(in_path, out_path, &eb))) goto done;
  /* manifest */
  qsort(edits, n_edits, sizeof *edits, cmp_edit);
  size_t extra = 0;
  for (size_t i = 0; i < n_edits; i++) extra += strlen(edits[i].ins);
  if (!(out_text = kat__malloc(len + extra + 1))) {
    rc = kat__fail(&eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  memcpy(out_text, text, len + 1);
  size_t cur = len;
  for (size_t i = 0; i < n_edits; i++) {
    edit *e = &edits[i];
    size_t il = strlen(e->ins);
    memmove(out_text + e->at + il, out_text + e->at + e->del, cur - e->at - e->del + 1);
    memcpy(out_text + e->at, e->ins, il);
    cur = cur + il - e->del;
  }
  snprintf(out_path, sizeof out_path, "%s/katana.json", out_dir);
  if ((rc = kat__onnx_write_file(out_path, out_text, cur, &eb))) goto done;
  {
    kat__errbuf meb = {{0}};
    if ((rc = kat__manifest_load(out_path, man, &meb))) {
      rc = kat__fail(&eb, KAT_EINTERNAL, "quantize: the written manifest does not validate: %s",
                     meb.msg);
      goto done;
    }
  }
  kat__sb_printf(&b, "wrote %s: %d module(s) int8\n", out_dir, n_quantized);
done:
  kat__json_destroy(doc);
  kat__free(text);
  kat__free(out_text);
  kat__free(edits);
  kat__free(man);
  return kat__sb_finish(rc, &eb, &b, report, err, err_size);
}

int kat__onnx_bundle_precision(const char *bundle_dir, char *buf, size_t size, char *err,
                               size_t err_size) {
  kat__errbuf eb = {{0}};
  kat__manifest *man = NULL;
  kat__json_doc *doc = NULL;
  char *text = NULL, path[KAT_ONNX_PATH_MAX];
  size_t len = 0, used = 0;
  int rc = KAT_OK;
  if (buf && size) buf[0] = 0;
  if (!bundle_dir || !buf || !size) {
    rc = kat__fail(&eb, KAT_EINVAL, "bundle precision: bundle folder and buffer are required");
    goto done;
  }
  snprintf(path, sizeof path, "%s/katana.json", bundle_dir);
  if (!(man = kat__malloc(sizeof *man))) {
    rc = kat__fail(&eb, KAT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = kat__manifest_load(path, man, &eb))) goto done;
  if ((rc = read_all(path, &text, &len, &eb))) goto done;
  if ((rc = kat__json_parse(text, len, path, NULL, &doc, &eb))) goto done;
  const kat__json *mods = kat__json_get(kat__json_root(doc), "modules");
  for (int k = 0; k < KAT_MODULE_COUNT; k++) {
    const char *name = kat_module_name((kat_module)k);
    const kat__json *q = kat__json_get(kat__json_get(mods, name), "quantization");
    int64_t bits = 0;
    kat__json_int64(kat__json_get(q, "weight_bits"), &bits);
    int w = snprintf(buf + used, size - used, "%s%s=%s", used ? " " : "", name,
                     man->modules[k].precision);
    if (w > 0 && (size_t)w < size - used) used += (size_t)w;
    if (bits) {
      w = snprintf(buf + used, size - used, "(w%d)", (int)bits);
      if (w > 0 && (size_t)w < size - used) used += (size_t)w;
    }
  }
done:
  if (err && err_size) {
    err[0] = 0;
    if (rc) kat__strlcpy(err, eb.msg[0] ? eb.msg : kat_strerror(rc), err_size);
  }
  kat__json_destroy(doc);
  kat__free(text);
  kat__free(man);
  return rc;
}
