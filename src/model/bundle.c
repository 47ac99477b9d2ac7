/*
 * Bundle loading: manifest, file presence, SHA-256 verification, constants.bin, and the session
 * contract check against both the manifest and the ONNX model's declared inputs/outputs.
 *
 * constants.bin is read once into one float buffer of constants_end bytes (the manifest's
 * furthest entry end); a shorter file names the first entry that runs past its end, a longer one
 * is rejected too (trailing bytes mean the manifest and the file disagree). Values are stored
 * little-endian; on a big-endian host they are byte-swapped in place after reading.
 */
#include "model/bundle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/validate.h"
#include "model/sha256.h"

#define DIR_MAX 3800
#define PATH_BUF 4096

struct kat__bundle {
  char dir[DIR_MAX];
  kat__manifest manifest;
  char module_path[KAT_MANIFEST_MODULES][PATH_BUF];
  char constants_path[PATH_BUF];
  float *constants;     /* constants_end / 4 floats, host order; entries index into it */
  bool hashes_verified; /* the module files matched the manifest's SHA-256 at open */
};

void kat__bundle_options_init(kat__bundle_options *o) {
  memset(o, 0, sizeof *o);
  o->verify_hashes = true;
}

/* The module file must be a regular file of at most KAT__BUNDLE_FILE_MAX bytes (a FIFO or a
 * symlink to /dev/zero would otherwise be hashed or read forever). */
static int file_exists(const char *path, const char *what, kat__errbuf *eb) {
  char label[96];
  snprintf(label, sizeof label, "bundle: %s file", what);
  FILE *f = NULL;
  int rc = kat__open_regular_file(path, label, KAT__BUNDLE_FILE_MAX, &f, NULL, eb);
  if (f) fclose(f);
  return rc;
}

static int verify_hash(const char *path, const char *what, const char *expect, kat__errbuf *eb) {
  uint8_t digest[KAT_SHA256_SIZE];
  char hex[KAT_SHA256_HEX_SIZE];
  int rc = kat__sha256_file(path, digest, NULL, eb);
  if (rc) return rc;
  kat__sha256_hex(digest, hex);
  if (strcmp(hex, expect) != 0) {
    return kat__fail(eb, KAT_EMODEL,
                     "bundle: %s file %s has sha256 %s, the manifest says %s (corrupt or "
                     "replaced file)",
                     what, path, hex, expect);
  }
  return KAT_OK;
}

static bool host_is_little_endian(void) {
  const uint32_t one = 1;
  uint8_t b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static int load_constants(kat__bundle *b, bool verify, kat__errbuf *eb) {
  const kat__manifest *m = &b->manifest;
  FILE *f = NULL;
  int rc = KAT_OK;
  size_t bytes = (size_t)m->constants_end;
  if ((uint64_t)bytes != m->constants_end)
    return kat__fail(eb, KAT_ERANGE, "bundle: constants are too large for this host");
  if ((rc = kat__open_regular_file(b->constants_path, "bundle: constants file",
                                   KAT__BUNDLE_FILE_MAX, &f, NULL, eb)))
    return rc;
  b->constants = kat__malloc(bytes ? bytes : 4);
  if (!b->constants) {
    rc = kat__fail(eb, KAT_ENOMEM, "bundle: out of memory for %zu bytes of constants", bytes);
    goto done;
  }
  size_t got = fread(b->constants, 1, bytes, f);
  if (ferror(f)) {
    rc = kat__fail(eb, KAT_EIO, "bundle: read error in %s", b->constants_path);
    goto done;
  }
  if (got < bytes) {
    /* Name the first entry (by offset) that does not fit. */
    const kat__constant_entry *worst = NULL;
    for (int i = 0; i < m->n_constants; i++) {
      const kat__constant_entry *e = &m->constants[i];
      if (e->offset + e->bytes > got && (!worst || e->offset < worst->offset)) worst = e;
    }
    rc = kat__fail(eb, KAT_EMODEL,
                   "bundle: %s is truncated: %zu bytes, but constant '%s' (offset %llu, %zu "
                   "bytes) ends at byte %llu and the entries need %zu bytes",
                   b->constants_path, got, worst ? worst->spec.name : "?",
                   worst ? (unsigned long long)worst->offset : 0ull, worst ? worst->bytes : 0,
                   worst ? (unsigned long long)(worst->offset + worst->bytes) : 0ull, bytes);
    goto done;
  }
  if (fgetc(f) != EOF) {
    rc = kat__fail(eb, KAT_EMODEL,
                   "bundle: %s is longer than the %zu bytes its manifest entries describe",
                   b->constants_path, bytes);
    goto done;
  }
  if (verify) {
    uint8_t digest[KAT_SHA256_SIZE];
    char hex[KAT_SHA256_HEX_SIZE];
    kat__sha256(b->constants, bytes, digest);
    kat__sha256_hex(digest, hex);
    if (strcmp(hex, m->constants_sha256) != 0) {
      rc = kat__fail(eb, KAT_EMODEL,
                     "bundle: constants file %s has sha256 %s, the manifest says %s (corrupt or "
                     "replaced file)",
                     b->constants_path, hex, m->constants_sha256);
      goto done;
    }
  }
  if (!host_is_little_endian()) {
    uint8_t *p = (uint8_t *)b->constants;
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
      uint8_t t0 = p[i], t1 = p[i + 1];
      p[i] = p[i + 3];
      p[i + 1] = p[i + 2];
      p[i + 2] = t1;
      p[i + 3] = t0;
    }
  }
  /* Every value finite: a NaN constant would track silently with NaN scores. */
  for (int i = 0; i < m->n_constants && !rc; i++) {
    const kat__constant_entry *e = &m->constants[i];
    rc = kat__validate_constant(e->spec.name, b->constants + e->offset / sizeof(float), e->count,
                                eb);
  }
done:
  fclose(f);
  return rc;
}

static int join_path(char *out, size_t n, const char *dir, const char *file, kat__errbuf *eb) {
  int w = snprintf(out, n, "%s/%s", dir, file);
  if (w < 0 || (size_t)w >= n) return kat__fail(eb, KAT_EINVAL, "bundle: path too long: %s", dir);
  return KAT_OK;
}

int kat__bundle_open(const char *dir, const kat__bundle_options *options, kat__bundle **out,
                     kat__errbuf *eb) {
  kat__bundle *b = NULL;
  kat__bundle_options opt;
  char path[PATH_BUF];
  int rc;
  if (!out) return kat__fail(eb, KAT_EINVAL, "bundle: out is NULL");
  *out = NULL;
  if (!dir || !dir[0]) return kat__fail(eb, KAT_EINVAL, "bundle: no folder given");
  if (strlen(dir) >= DIR_MAX) return kat__fail(eb, KAT_EINVAL, "bundle: folder path too long");
  if (options) {
    opt = *options;
  } else {
    kat__bundle_options_init(&opt);
  }
  b = kat__calloc(1, sizeof *b);
  if (!b) return kat__fail(eb, KAT_ENOMEM, "bundle: out of memory");
  kat__strlcpy(b->dir, dir, sizeof b->dir);

  if ((rc = join_path(path, sizeof path, dir, "katana.json", eb))) goto fail;
  if ((rc = kat__manifest_load(path, &b->manifest, eb))) {
    if (rc == KAT_ENOENT) {
      rc = kat__fail(eb, KAT_ENOENT, "bundle: %s has no katana.json (not a bundle folder?)", dir);
    }
    goto fail;
  }
  const kat__manifest *m = &b->manifest;
  for (int i = 0; i < KAT_MANIFEST_MODULES; i++) {
    const kat__module_manifest *mod = &m->modules[i];
    if (!mod->present) continue;
    const char *what = kat__manifest_module_name(i);
    if ((rc = join_path(b->module_path[i], PATH_BUF, dir, mod->file, eb))) goto fail;
    if ((rc = file_exists(b->module_path[i], what, eb))) goto fail;
    if (opt.verify_hashes && (rc = verify_hash(b->module_path[i], what, mod->sha256, eb)))
      goto fail;
  }
  if ((rc = join_path(b->constants_path, PATH_BUF, dir, m->constants_file, eb))) goto fail;
  if ((rc = load_constants(b, opt.verify_hashes, eb))) goto fail;
  b->hashes_verified = opt.verify_hashes;
  *out = b;
  return KAT_OK;
fail:
  kat__bundle_destroy(b);
  return rc;
}

void kat__bundle_destroy(kat__bundle *b) {
  if (!b) return;
  kat__free(b->constants);
  kat__free(b);
}

const kat__manifest *kat__bundle_manifest(const kat__bundle *b) {
  return b ? &b->manifest : NULL;
}

const char *kat__bundle_dir(const kat__bundle *b) {
  return b ? b->dir : NULL;
}

bool kat__bundle_has_module(const kat__bundle *b, int module) {
  return b && module >= 0 && module < KAT_MANIFEST_MODULES && b->manifest.modules[module].present;
}

const char *kat__bundle_module_path(const kat__bundle *b, int module) {
  return kat__bundle_has_module(b, module) ? b->module_path[module] : NULL;
}

const float *kat__bundle_constant(const kat__bundle *b, const char *name,
                                  const kat__tensor_spec **spec) {
  const kat__constant_entry *e = b ? kat__manifest_constant(&b->manifest, name) : NULL;
  if (spec) *spec = e ? &e->spec : NULL;
  if (!e) return NULL;
  return b->constants + e->offset / sizeof(float);
}

/* The manifest's symbolic dims must be symbolic in the model; every model tensor of `kind` that
 * the host must feed (inputs) must be in the manifest. */
static int check_reverse(const kat__session *s, const char *label, bool inputs,
                         const kat__tensor_spec *specs,
                         const char (*syms)[KAT_MAX_RANK][KAT_SYM_MAX], int n, kat__errbuf *eb) {
  const char *kind = inputs ? "input" : "output";
  int count = inputs ? kat__session_input_count(s) : kat__session_output_count(s);
  if (inputs) {
    for (int i = 0; i < count; i++) {
      const kat__tensor_spec *ms = kat__session_input(s, i);
      bool listed = false;
      for (int k = 0; k < n && !listed; k++) listed = strcmp(specs[k].name, ms->name) == 0;
      if (!listed) {
        return kat__fail(eb, KAT_ECONTRACT,
                         "%s: the model has input '%s' that the manifest does not list", label,
                         ms->name);
      }
    }
  }
  for (int k = 0; k < n; k++) {
    int i = inputs ? kat__session_input_index(s, specs[k].name)
                   : kat__session_output_index(s, specs[k].name);
    if (i < 0) continue; /* reported by kat__session_check */
    const kat__tensor_spec *ms = inputs ? kat__session_input(s, i) : kat__session_output(s, i);
    for (int d = 0; d < specs[k].rank && d < ms->rank; d++) {
      if (specs[k].dims[d] == -1 && ms->dims[d] != -1) {
        return kat__fail(eb, KAT_ECONTRACT,
                         "%s: %s '%s' dim %d is symbolic ('%s') in the manifest, but the model "
                         "fixes it to %lld",
                         label, kind, specs[k].name, d, syms[k][d], (long long)ms->dims[d]);
      }
    }
  }
  return KAT_OK;
}

int kat__bundle_check_session(const kat__bundle *b, int module, const kat__session *s,
                              kat__errbuf *eb) {
  if (!b || !s || !kat__bundle_has_module(b, module))
    return kat__fail(eb, KAT_EINVAL, "bundle: no such module %d", module);
  const kat__module_manifest *mod = &b->manifest.modules[module];
  char label[KAT_FILE_NAME_MAX + 64];
  snprintf(label, sizeof label, "%s (%s)", kat__manifest_module_name(module), mod->file);
  int rc = kat__session_check(s, mod->inputs, mod->n_inputs, mod->outputs, mod->n_outputs, eb);
  if (rc) {
    char msg[KAT_ERRBUF_SIZE];
    kat__strlcpy(msg, eb ? eb->msg : "", sizeof msg);
    return kat__fail(eb, rc, "bundle %s: model and manifest disagree: %s", mod->file, msg);
  }
  if ((rc = check_reverse(s, label, true, mod->inputs, mod->input_sym, mod->n_inputs, eb)))
    return rc;
  return check_reverse(s, label, false, mod->outputs, mod->output_sym, mod->n_outputs, eb);
}

int kat__bundle_create_session(const kat__bundle *b, int module, const kat_ep_config *ep,
                               kat_ep_fallback fallback, kat__session **out, kat__errbuf *eb) {
  kat__session *s = NULL;
  if (!out) return kat__fail(eb, KAT_EINVAL, "bundle: out is NULL");
  *out = NULL;
  if (!kat__bundle_has_module(b, module))
    return kat__fail(eb, KAT_EINVAL, "bundle: no such module %d", module);
  const char *name = kat__manifest_module_name(module);
  /* A verified manifest digest is the cache key's model identity: no second read of the file. */
  const char *sha = b->hashes_verified ? b->manifest.modules[module].sha256 : NULL;
  int rc =
      kat__session_create_keyed(b->module_path[module], NULL, 0, sha, ep, fallback, name, &s, eb);
  if (rc) {
    char msg[KAT_ERRBUF_SIZE];
    kat__strlcpy(msg, eb ? eb->msg : "", sizeof msg);
    return kat__fail(eb, rc, "bundle: cannot load %s: %s", b->module_path[module], msg);
  }
  if ((rc = kat__bundle_check_session(b, module, s, eb))) {
    kat__session_destroy(s);
    return rc;
  }
  *out = s;
  return KAT_OK;
}
