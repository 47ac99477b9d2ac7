/*
 * Bundle loading on the real exported test bundle ($KAT_TEST_DATA/bundles/micro_efficienttam,
 * made by scripts/testdata/10-bundles): open with hashing, constants, a session per module
 * checked against the manifest; then corrupted copies, each of which must fail with a message
 * naming the problem: a flipped byte in an ONNX file, a truncated ONNX file (session creation
 * error when hashing is skipped), a truncated constants.bin, a changed shape in katana.json, and
 * a manifest output the model does not have.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kat_test.h"
#include "katana/runtime.h"
#include "model/bundle.h"

static char g_src[4096];

static int write_all(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, n, f);
  fclose(f);
  return w == n ? 0 : -1;
}

/* Files of the bundle (from the manifest). */
static int list_files(const kat__manifest *m, const char *names[8]) {
  int n = 0;
  names[n++] = "katana.json";
  names[n++] = m->constants_file;
  for (int i = 0; i < KAT_MANIFEST_MODULES; i++)
    if (m->modules[i].present) names[n++] = m->modules[i].file;
  return n;
}

static void copy_bundle(const kat__manifest *m, const char *dst) {
  const char *names[8];
  int n = list_files(m, names);
  for (int i = 0; i < n; i++) {
    char a[8192], b[8192];
    size_t len = 0;
    snprintf(a, sizeof a, "%s/%s", g_src, names[i]);
    snprintf(b, sizeof b, "%s/%s", dst, names[i]);
    char *data = kat_test_read_file(a, &len);
    KAT_CHECK(data != NULL);
    if (data) KAT_CHECK_INT_EQ(write_all(b, data, len), 0);
    free(data);
  }
}

static void remove_bundle(const kat__manifest *m, const char *dir) {
  const char *names[8];
  int n = list_files(m, names);
  for (int i = 0; i < n; i++) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

static int open_bundle(const char *dir, bool verify, kat__bundle **b, kat__errbuf *eb) {
  kat__bundle_options o;
  kat__bundle_options_init(&o);
  o.verify_hashes = verify;
  return kat__bundle_open(dir, &o, b, eb);
}

static kat_ep_config cpu_config(void) {
  kat_ep_profile p;
  memset(&p, 0, sizeof p);
  KAT_CHECK_INT_EQ(kat_ep_profile_preset("cpu", &p), KAT_OK);
  p.module[0].intra_op_threads = 1;
  return p.module[0];
}

KAT_TEST(test_open_real) {
  kat__errbuf eb = {{0}};
  kat__bundle *b = NULL;
  int rc = open_bundle(g_src, true, &b, &eb);
  if (rc) fprintf(stderr, "%s\n", eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (!b) return;
  const kat__manifest *m = kat__bundle_manifest(b);
  KAT_CHECK_INT_EQ(m->family, KAT_FAMILY_EFFICIENTTAM);
  KAT_CHECK_INT_EQ(m->feat_h * 16, m->image_size);
  KAT_CHECK(!m->use_high_res_features);
  const kat__tensor_spec *spec = NULL;
  const float *v = kat__bundle_constant(b, "no_mem_embed", &spec);
  KAT_CHECK(v != NULL && spec != NULL);
  if (v && spec) {
    KAT_CHECK_INT_EQ(spec->rank, 3);
    KAT_CHECK_INT_EQ(spec->dims[2], m->hidden_dim);
    int finite = 1, nonzero = 0;
    for (int i = 0; i < m->hidden_dim; i++) {
      finite &= isfinite(v[i]) ? 1 : 0;
      nonzero |= v[i] != 0.0f;
    }
    KAT_CHECK(finite);
    KAT_CHECK(nonzero); /* random-init parameter, not zeros */
  }
  v = kat__bundle_constant(b, "maskmem_tpos_enc", &spec);
  KAT_CHECK(v != NULL);
  if (spec) KAT_CHECK_INT_EQ(spec->dims[0], m->num_maskmem);

  kat_ep_config ep = cpu_config();
  for (int i = 0; i < KAT_MANIFEST_MODULES; i++) {
    if (!kat__bundle_has_module(b, i)) continue;
    kat__session *s = NULL;
    rc = kat__bundle_create_session(b, i, &ep, KAT_EP_FALLBACK_ERROR, &s, &eb);
    if (rc) fprintf(stderr, "%s\n", eb.msg);
    KAT_CHECK_INT_EQ(rc, KAT_OK);
    KAT_CHECK(s != NULL);
    if (s) {
      KAT_CHECK_INT_EQ(kat__bundle_check_session(b, i, s, &eb), KAT_OK);
      /* A session of another module fails the check, naming a tensor. */
      int other =
          i == KAT_MODULE_IMAGE_ENCODER ? KAT_MODULE_MASK_DECODER : KAT_MODULE_IMAGE_ENCODER;
      KAT_CHECK_INT_EQ(kat__bundle_check_session(b, other, s, &eb), KAT_ECONTRACT);
      KAT_CHECK_CONTAINS(eb.msg, "model and manifest disagree");
    }
    kat__session_destroy(s);
  }
  kat__bundle_destroy(b);
}

/* Replaces the 2nd number of the "shape" that follows `tensor` in the manifest by `value`. */
static char *change_shape(const char *json, const char *tensor, long value) {
  char key[160];
  snprintf(key, sizeof key, "\"%s\"", tensor);
  const char *t = strstr(json, key);
  const char *sh = t ? strstr(t, "\"shape\"") : NULL;
  const char *br = sh ? strchr(sh, '[') : NULL;
  const char *comma = br ? strchr(br, ',') : NULL;
  if (!comma) return NULL;
  const char *num = comma + 1;
  while (*num == ' ' || *num == '\n') num++;
  const char *end = num;
  while (*end >= '0' && *end <= '9') end++;
  size_t n = strlen(json);
  char *out = malloc(n + 32);
  size_t a = (size_t)(num - json);
  memcpy(out, json, a);
  int w = snprintf(out + a, 32, "%ld", value);
  memcpy(out + a + (size_t)w, end, n - (size_t)(end - json) + 1);
  return out;
}

KAT_TEST(test_corrupt_copies) {
  kat__errbuf eb = {{0}};
  kat__bundle *src = NULL, *b = NULL;
  if (open_bundle(g_src, false, &src, &eb)) {
    KAT_CHECK(!"cannot open the source bundle");
    return;
  }
  const kat__manifest *m = kat__bundle_manifest(src);
  char dir[512], path[2048];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/kat_bundle_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  KAT_CHECK(mkdtemp(dir) != NULL);
  kat_ep_config ep = cpu_config();

  /* 1. One flipped byte in image_encoder.onnx: the hash check names the file. */
  copy_bundle(m, dir);
  size_t n = 0;
  snprintf(path, sizeof path, "%s/%s", dir, m->modules[KAT_MODULE_IMAGE_ENCODER].file);
  char *data = kat_test_read_file(path, &n);
  KAT_CHECK(data != NULL && n > 100);
  if (data) {
    data[n / 2] ^= 0x01;
    write_all(path, data, n);
    free(data);
  }
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "image_encoder file");
  KAT_CHECK_CONTAINS(eb.msg, "image_encoder.onnx has sha256");
  KAT_CHECK(b == NULL);

  /* 2. mask_decoder.onnx truncated to a third: hash error; with hashing off, the session fails. */
  copy_bundle(m, dir);
  snprintf(path, sizeof path, "%s/%s", dir, m->modules[KAT_MODULE_MASK_DECODER].file);
  data = kat_test_read_file(path, &n);
  if (data) {
    write_all(path, data, n / 3);
    free(data);
  }
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "mask_decoder.onnx has sha256");
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_OK);
  if (b) {
    kat__session *s = NULL;
    int rc =
        kat__bundle_create_session(b, KAT_MODULE_MASK_DECODER, &ep, KAT_EP_FALLBACK_ERROR, &s, &eb);
    KAT_CHECK(rc < 0);
    KAT_CHECK(s == NULL);
    KAT_CHECK_CONTAINS(eb.msg, "bundle: cannot load");
    KAT_CHECK_CONTAINS(eb.msg, "mask_decoder.onnx");
    printf("truncated ONNX: %s\n", eb.msg);
    kat__bundle_destroy(b);
    b = NULL;
  }

  /* 3. constants.bin cut short by 4 bytes: names the last entry. */
  copy_bundle(m, dir);
  snprintf(path, sizeof path, "%s/%s", dir, m->constants_file);
  data = kat_test_read_file(path, &n);
  if (data) {
    write_all(path, data, n - 4);
    free(data);
  }
  KAT_CHECK_INT_EQ(open_bundle(dir, false, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "is truncated");
  const kat__constant_entry *last = &m->constants[0];
  for (int i = 1; i < m->n_constants; i++)
    if (m->constants[i].offset > last->offset) last = &m->constants[i];
  char needle[200];
  snprintf(needle, sizeof needle, "constant '%s'", last->spec.name);
  KAT_CHECK_CONTAINS(eb.msg, needle);

  /* 4. A shape changed in katana.json: C+1 channels for vision_feats. */
  copy_bundle(m, dir);
  snprintf(path, sizeof path, "%s/katana.json", dir);
  data = kat_test_read_file(path, &n);
  char *changed = data ? change_shape(data, "vision_feats", m->hidden_dim + 1) : NULL;
  KAT_CHECK(changed != NULL);
  if (changed) write_all(path, changed, strlen(changed));
  free(changed);
  KAT_CHECK_INT_EQ(open_bundle(dir, true, &b, &eb), KAT_EMODEL);
  KAT_CHECK_CONTAINS(eb.msg, "modules.image_encoder.outputs[0] 'vision_feats': bad shape");
  snprintf(needle, sizeof needle, "dim 1 is %d, expected %d", m->hidden_dim + 1, m->hidden_dim);
  KAT_CHECK_CONTAINS(eb.msg, needle);

  /* 5. The manifest lists an output the ONNX model does not have: the session check names it. */
  char *extra = NULL;
  if (data) {
    const char *md = strstr(data, "\"mask_decoder\"");
    const char *outs = md ? strstr(md, "\"outputs\"") : NULL;
    const char *br = outs ? strchr(outs, '[') : NULL;
    if (br) {
      const char *ins = "{\"name\": \"extra_out\", \"dtype\": \"float32\", \"shape\": [1]}, ";
      size_t a = (size_t)(br + 1 - data);
      extra = malloc(n + strlen(ins) + 1);
      memcpy(extra, data, a);
      memcpy(extra + a, ins, strlen(ins));
      memcpy(extra + a + strlen(ins), br + 1, n - a + 1);
    }
  }
  KAT_CHECK(extra != NULL);
  if (extra) {
    write_all(path, extra, strlen(extra));
    free(extra);
    int rc = open_bundle(dir, false, &b, &eb);
    KAT_CHECK_INT_EQ(rc, KAT_OK);
    if (b) {
      kat__session *s = NULL;
      rc = kat__bundle_create_session(b, KAT_MODULE_MASK_DECODER, &ep, KAT_EP_FALLBACK_ERROR, &s,
                                      &eb);
      KAT_CHECK_INT_EQ(rc, KAT_ECONTRACT);
      KAT_CHECK(s == NULL);
      KAT_CHECK_CONTAINS(eb.msg, "extra_out");
      KAT_CHECK_CONTAINS(eb.msg, "mask_decoder.onnx");
      kat__bundle_destroy(b);
      b = NULL;
    }
  }
  free(data);
  remove_bundle(m, dir);
  kat__bundle_destroy(src);
}

/* With a fixed-M variant (export --fixed-memory): its session passes its own slot's check, and
 * checked against the dynamic slot it fails the reverse check (the manifest says M is symbolic,
 * the model fixes it). Bundles without the variant only print a note. */
KAT_TEST(test_fixed_variant) {
  kat__errbuf eb = {{0}};
  kat__bundle *b = NULL;
  KAT_CHECK_INT_EQ(open_bundle(g_src, false, &b, &eb), KAT_OK);
  if (!b) return;
  if (!kat__bundle_has_module(b, KAT_MODULE_MEMORY_ATTENTION_FIXED)) {
    printf("note: %s has no memory_attention_fixed; reverse shape check not exercised\n", g_src);
    kat__bundle_destroy(b);
    return;
  }
  const kat__manifest *m = kat__bundle_manifest(b);
  kat_ep_config ep = cpu_config();
  kat__session *s = NULL;
  int rc = kat__bundle_create_session(b, KAT_MODULE_MEMORY_ATTENTION_FIXED, &ep,
                                      KAT_EP_FALLBACK_ERROR, &s, &eb);
  if (rc) fprintf(stderr, "%s\n", eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (s) {
    KAT_CHECK_INT_EQ(kat__bundle_check_session(b, KAT_MODULE_MEMORY_ATTENTION, s, &eb),
                     KAT_ECONTRACT);
    char needle[160];
    snprintf(needle, sizeof needle,
             "dim 1 is symbolic ('M') in the manifest, but the model fixes it to %lld",
             (long long)m->modules[KAT_MODULE_MEMORY_ATTENTION_FIXED].fixed_tokens);
    KAT_CHECK_CONTAINS(eb.msg, needle);
    KAT_CHECK_CONTAINS(eb.msg, "memory_attention (memory_attention.onnx)");
  }
  kat__session_destroy(s);
  kat__bundle_destroy(b);
}

static void setup(void) {
  const char *p = kat_test_data("bundles/micro_efficienttam");
  if (!p) KAT_SKIP("KAT_TEST_DATA is not set (run scripts/make_test_data)");
  snprintf(g_src, sizeof g_src, "%s", p);
  char manifest[4200];
  snprintf(manifest, sizeof manifest, "%s/katana.json", g_src);
  if (access(manifest, R_OK) != 0)
    KAT_SKIP("no bundles/micro_efficienttam under KAT_TEST_DATA (scripts/testdata/10-bundles)");
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_open_real), KAT_CASE(test_corrupt_copies),
              KAT_CASE(test_fixed_variant))
