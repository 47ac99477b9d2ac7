/*
 * Tests for the ONNX Runtime layer: session creation, contract checks that name the tensor,
 * provider availability errors and the warned fallback, presets and options, and a steady-state
 * run that makes no heap allocation in katana's code (counted through the allocator hooks).
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kat_test.h"
#include "model/bundle.h"
#include "runtime/ep.h"
#include "runtime/session.h"

static atomic_long g_allocs;
static void *count_malloc(void *u, size_t n) {
  (void)u;
  atomic_fetch_add(&g_allocs, 1);
  return malloc(n);
}
static void *count_realloc(void *u, void *p, size_t n) {
  (void)u;
  atomic_fetch_add(&g_allocs, 1);
  return realloc(p, n);
}
static void count_free(void *u, void *p) {
  (void)u;
  free(p);
}

static const char *tiny_path(void) {
  const char *p = kat_test_data("runtime/tiny.onnx");
  if (!p) KAT_SKIP("KAT_TEST_DATA is not set (run through CTest)");
  return p;
}

static kat_ep_config cpu_config(void) {
  kat_ep_profile p;
  kat_ep_profile_preset("cpu", &p);
  p.module[0].intra_op_threads = 1;
  return p.module[0];
}

static kat__tensor_spec spec(const char *name, kat__dtype dt, int rank, int64_t d0, int64_t d1) {
  kat__tensor_spec s;
  memset(&s, 0, sizeof s);
  kat__strlcpy(s.name, name, sizeof s.name);
  s.dtype = dt;
  s.rank = rank;
  s.dims[0] = d0;
  s.dims[1] = d1;
  return s;
}

KAT_TEST(test_create_and_run) {
  char path[4096];
  kat__strlcpy(path, tiny_path(), sizeof path);
  kat__errbuf eb;
  kat__session *s = NULL;
  kat_ep_config cfg = cpu_config();
  int rc = kat__session_create(path, NULL, 0, &cfg, KAT_EP_FALLBACK_ERROR, "tiny", &s, &eb);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  if (rc) {
    fprintf(stderr, "%s\n", eb.msg);
    return;
  }
  KAT_CHECK_INT_EQ(kat__session_input_count(s), 1);
  KAT_CHECK_STR_EQ(kat__session_input(s, 0)->name, "x");
  KAT_CHECK_INT_EQ(kat__session_input(s, 0)->dims[0], -1);
  KAT_CHECK_INT_EQ(kat__session_input(s, 0)->dims[1], 4);
  const kat__placement *pl = kat__session_placement(s);
  KAT_CHECK_INT_EQ(pl->count, 1);
  KAT_CHECK_STR_EQ(pl->ep[0], "CPUExecutionProvider");
  KAT_CHECK(pl->total_nodes >= 1);

  /* [2,4] f32 in, [2,4] f32 out, over test-owned buffers. */
  float x[8] = {1, -2, 3, 0.5f, -1, 0, 2, 1};
  float y[8] = {0};
  int64_t shape[2] = {2, 4};
  KAT_CHECK_INT_EQ(kat__session_bind_input(s, 0, x, shape, 2, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__session_bind_output(s, 0, y, shape, 2, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__session_run(s, &eb), KAT_OK);
  /* Reference: y = relu(x @ w) + x with w[i][j] = ((4i+j)*7 % 5)/5 - 0.3. */
  for (int r = 0; r < 2; r++) {
    for (int c = 0; c < 4; c++) {
      double h = 0;
      for (int k = 0; k < 4; k++) h += x[r * 4 + k] * ((((k * 4 + c) * 7) % 5) / 5.0 - 0.3);
      double want = (h > 0 ? h : 0) + x[r * 4 + c];
      KAT_CHECK_NEAR(y[r * 4 + c], want, 1e-5);
    }
  }

  /* Steady state: further runs on the same bindings allocate nothing in katana's code. */
  kat_allocator counting = {count_malloc, count_realloc, count_free, NULL};
  kat_set_allocator(&counting);
  atomic_store(&g_allocs, 0);
  for (int i = 0; i < 20; i++) {
    x[0] = (float)i;
    KAT_CHECK_INT_EQ(kat__session_bind_input(s, 0, x, shape, 2, &eb), KAT_OK);
    KAT_CHECK_INT_EQ(kat__session_bind_output(s, 0, y, shape, 2, &eb), KAT_OK);
    KAT_CHECK_INT_EQ(kat__session_run(s, &eb), KAT_OK);
  }
  KAT_CHECK_INT_EQ(atomic_load(&g_allocs), 0);
  kat_set_allocator(NULL);
  /* The last run used x[0] = 19: y[0] = relu(x[0,:] @ w[:,0]) + x[0]. */
  double h0 = 0;
  for (int k = 0; k < 4; k++) h0 += x[k] * ((((k * 4) * 7) % 5) / 5.0 - 0.3);
  KAT_CHECK_NEAR(y[0], (h0 > 0 ? h0 : 0) + x[0], 1e-4);

  /* A wrong shape on a fixed dim is refused with the tensor's name. */
  int64_t bad[2] = {2, 3};
  rc = kat__session_bind_input(s, 0, x, bad, 2, &eb);
  KAT_CHECK_INT_EQ(rc, KAT_ECONTRACT);
  KAT_CHECK_CONTAINS(eb.msg, "'x'");
  kat__session_destroy(s);
}

KAT_TEST(test_contract_mismatch) {
  char path[4096];
  kat__strlcpy(path, tiny_path(), sizeof path);
  kat__errbuf eb;
  kat__session *s = NULL;
  kat_ep_config cfg = cpu_config();
  KAT_CHECK_INT_EQ(kat__session_create(path, NULL, 0, &cfg, 0, "tiny", &s, &eb), KAT_OK);
  if (!s) return;
  kat__tensor_spec in_ok = spec("x", KAT_DT_F32, 2, -1, 4);
  kat__tensor_spec out_ok = spec("y", KAT_DT_F32, 2, -1, 4);
  KAT_CHECK_INT_EQ(kat__session_check(s, &in_ok, 1, &out_ok, 1, &eb), KAT_OK);

  kat__tensor_spec wrong_name = spec("image", KAT_DT_F32, 2, -1, 4);
  KAT_CHECK_INT_EQ(kat__session_check(s, &wrong_name, 1, &out_ok, 1, &eb), KAT_ECONTRACT);
  KAT_CHECK_CONTAINS(eb.msg, "no input tensor 'image'");

  kat__tensor_spec wrong_dtype = spec("x", KAT_DT_I64, 2, -1, 4);
  KAT_CHECK_INT_EQ(kat__session_check(s, &wrong_dtype, 1, &out_ok, 1, &eb), KAT_ECONTRACT);
  KAT_CHECK_CONTAINS(eb.msg, "'x' is float32, expected int64");

  kat__tensor_spec wrong_rank = spec("y", KAT_DT_F32, 3, -1, 4);
  KAT_CHECK_INT_EQ(kat__session_check(s, &in_ok, 1, &wrong_rank, 1, &eb), KAT_ECONTRACT);
  KAT_CHECK_CONTAINS(eb.msg, "output tensor 'y' has rank 2");

  kat__tensor_spec wrong_dim = spec("x", KAT_DT_F32, 2, -1, 8);
  KAT_CHECK_INT_EQ(kat__session_check(s, &wrong_dim, 1, &out_ok, 1, &eb), KAT_ECONTRACT);
  KAT_CHECK_CONTAINS(eb.msg, "'x' has shape [?,4], expected [?,8]");
  kat__session_destroy(s);
}

KAT_TEST(test_bad_files) {
  kat__errbuf eb;
  kat__session *s = NULL;
  kat_ep_config cfg = cpu_config();
  KAT_CHECK_INT_EQ(
      kat__session_create("/nonexistent/model.onnx", NULL, 0, &cfg, 0, "image_encoder", &s, &eb),
      KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "image_encoder");
  KAT_CHECK(s == NULL);
  const char *trunc = kat_test_data("runtime/tiny_truncated.onnx");
  KAT_CHECK_INT_EQ(kat__session_create(trunc, NULL, 0, &cfg, 0, "mask_decoder", &s, &eb),
                   KAT_ERUNTIME);
  KAT_CHECK_CONTAINS(eb.msg, "mask_decoder: cannot create session");
  KAT_CHECK(s == NULL);
  const char garbage[] = "definitely not a protobuf";
  KAT_CHECK_INT_EQ(kat__session_create(NULL, garbage, sizeof garbage, &cfg, 0, "junk", &s, &eb),
                   KAT_ERUNTIME);
}

KAT_TEST(test_unavailable_providers) {
  char path[4096];
  kat__strlcpy(path, tiny_path(), sizeof path);
  static const char *const presets[] = {"cuda", "tensorrt", "mac"};
  for (int i = 0; i < 3; i++) {
    kat_ep_profile p;
    KAT_CHECK_INT_EQ(kat_ep_profile_preset(presets[i], &p), KAT_OK);
    if (kat_ep_available(p.module[0].kind)) {
      printf("note: %s is available here; unavailability not tested for it\n", presets[i]);
      continue;
    }
    kat__errbuf eb;
    kat__session *s = NULL;
    kat__strlcpy(p.module[0].cache_dir, "/tmp/katana-test-cache", sizeof p.module[0].cache_dir);
    int rc = kat__session_create(path, NULL, 0, &p.module[0], KAT_EP_FALLBACK_ERROR,
                                 "image_encoder", &s, &eb);
    KAT_CHECK_INT_EQ(rc, KAT_EPROVIDER);
    KAT_CHECK_CONTAINS(eb.msg, "unavailable");
    KAT_CHECK(s == NULL);
    /* Asked-for fallback: CPU runs, and the placement says it fell back. */
    rc = kat__session_create(path, NULL, 0, &p.module[0], KAT_EP_FALLBACK_WARN, "image_encoder", &s,
                             &eb);
    KAT_CHECK_INT_EQ(rc, KAT_OK);
    if (s) {
      KAT_CHECK_INT_EQ(kat__session_placement(s)->fell_back, 1);
      KAT_CHECK_STR_EQ(kat__session_placement(s)->ep[0], "CPUExecutionProvider");
    }
    kat__session_destroy(s);
  }
}

KAT_TEST(test_profiles) {
  kat_ep_profile p;
  KAT_CHECK_INT_EQ(kat_ep_profile_preset("nope", &p), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_ep_profile_preset("mac", &p), KAT_OK);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_IMAGE_ENCODER].coreml_units, KAT_COREML_CPU_ONLY);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MEMORY_ATTENTION].coreml_units, KAT_COREML_CPU_AND_GPU);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MEMORY_ATTENTION].coreml_mlprogram, 1);
  KAT_CHECK_INT_EQ(kat_ep_profile_preset("tensorrt", &p), KAT_OK);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MASK_DECODER].trt_fp16, 1);
  KAT_CHECK_INT_EQ(kat_ep_profile_set(&p, KAT_MODULE_IMAGE_ENCODER, "trt_fp16", "0"), KAT_OK);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_IMAGE_ENCODER].trt_fp16, 0);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MASK_DECODER].trt_fp16, 1);
  KAT_CHECK_INT_EQ(kat_ep_profile_set(&p, -1, "intra_op_threads", "3"), KAT_OK);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MEMORY_ENCODER].intra_op_threads, 3);
  KAT_CHECK_INT_EQ(kat_ep_profile_set(&p, -1, "intra_op_threads", "x3"), KAT_EINVAL);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MEMORY_ENCODER].intra_op_threads, 3);
  KAT_CHECK_INT_EQ(kat_ep_profile_set(&p, -1, "no_such_key", "1"), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_ep_profile_set(&p, 7, "trt_fp16", "1"), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_ep_profile_set(&p, -1, "fallback", "warn"), KAT_OK);
  KAT_CHECK_INT_EQ(p.fallback, KAT_EP_FALLBACK_WARN);
  KAT_CHECK_STR_EQ(kat_module_name(KAT_MODULE_MASK_DECODER), "mask_decoder");
  /* The thread rule: max(1, cores / sessions) for CPU modules still at 0, nothing else. */
  KAT_CHECK_INT_EQ(kat_ep_profile_preset("cpu", &p), KAT_OK);
  KAT_CHECK_INT_EQ(kat_ep_profile_set(&p, KAT_MODULE_MASK_DECODER, "intra_op_threads", "5"),
                   KAT_OK);
  KAT_CHECK_INT_EQ(kat_ep_profile_share_cores(&p, 16, 4), KAT_OK);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_IMAGE_ENCODER].intra_op_threads, 4);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MEMORY_ENCODER].intra_op_threads, 4);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MASK_DECODER].intra_op_threads, 5);
  KAT_CHECK_INT_EQ(kat_ep_profile_preset("cpu", &p), KAT_OK);
  KAT_CHECK_INT_EQ(kat_ep_profile_share_cores(&p, 3, 4), KAT_OK);
  KAT_CHECK_INT_EQ(p.module[KAT_MODULE_MEMORY_ATTENTION].intra_op_threads, 1);
  KAT_CHECK_INT_EQ(kat_ep_profile_preset("cuda", &p), KAT_OK);
  KAT_CHECK_INT_EQ(kat_ep_profile_share_cores(&p, 8, 2), KAT_OK);
  for (int m = 0; m < KAT_MODULE_COUNT; m++)
    KAT_CHECK_INT_EQ(p.module[m].intra_op_threads, p.module[m].kind == KAT_EP_CPU ? 4 : 0);
  KAT_CHECK_INT_EQ(kat_ep_profile_share_cores(&p, 8, 0), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat_ep_profile_share_cores(NULL, 8, 1), KAT_EINVAL);
  KAT_CHECK(kat_ep_available(KAT_EP_CPU));
  char buf[256];
  KAT_CHECK_INT_EQ(kat_ort_providers(buf, sizeof buf), KAT_OK);
  KAT_CHECK_CONTAINS(buf, "CPUExecutionProvider");
}

/* Returns 1 when folder `dir` holds a file whose name starts with `prefix`. */
static int dir_has_prefix(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) found = 1;
  closedir(d);
  return found;
}

KAT_TEST(test_cache_key_only_with_cache) {
  char path[4096];
  kat__strlcpy(path, tiny_path(), sizeof path);
  kat__errbuf eb;
  kat__session *s = NULL;
  kat_ep_config cfg = cpu_config();
  /* The CPU preset uses no cache: creating a session reads the model for ORT only. */
  KAT_CHECK_INT_EQ(cfg.save_optimized, 0);
  uint64_t before = kat__session_bytes_hashed();
  KAT_CHECK_INT_EQ(kat__session_create(path, NULL, 0, &cfg, 0, "tiny", &s, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__session_bytes_hashed() - before, 0);
  kat__session_destroy(s);
  s = NULL;

  /* With a cache and no digest the file is hashed (once); the nested folder is created. */
  char root[] = "/tmp/kat_test_cache.XXXXXX";
  if (!mkdtemp(root)) KAT_SKIP("cannot create a temporary folder");
  snprintf(cfg.cache_dir, sizeof cfg.cache_dir, "%s/a/b", root);
  cfg.save_optimized = 1;
  struct stat st;
  KAT_CHECK(stat(path, &st) == 0);
  before = kat__session_bytes_hashed();
  KAT_CHECK_INT_EQ(kat__session_create(path, NULL, 0, &cfg, 0, "tiny", &s, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__session_bytes_hashed() - before, (uint64_t)st.st_size);
  KAT_CHECK(dir_has_prefix(cfg.cache_dir, "tiny-"));
  kat__session_destroy(s);
  s = NULL;

  /* With a digest nothing is hashed, and the digest names the cache file. */
  const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  before = kat__session_bytes_hashed();
  KAT_CHECK_INT_EQ(kat__session_create_keyed(path, NULL, 0, sha, &cfg, 0, "tinysha", &s, &eb),
                   KAT_OK);
  KAT_CHECK_INT_EQ(kat__session_bytes_hashed() - before, 0);
  KAT_CHECK(dir_has_prefix(cfg.cache_dir, "tinysha-0123456789abcdef-"));
  kat__session_destroy(s);
  s = NULL;

  /* A cache folder whose mkdir fails (a regular file is in the way) is a clear error. */
  char blocker[600];
  snprintf(blocker, sizeof blocker, "%s/file", root);
  FILE *f = fopen(blocker, "w");
  KAT_CHECK(f != NULL);
  if (f) fclose(f);
  snprintf(cfg.cache_dir, sizeof cfg.cache_dir, "%s/file/cache", root);
  KAT_CHECK_INT_EQ(kat__session_create(path, NULL, 0, &cfg, 0, "tiny", &s, &eb), KAT_EIO);
  KAT_CHECK(s == NULL);
  KAT_CHECK_CONTAINS(eb.msg, "/file/cache");
  KAT_CHECK_CONTAINS(eb.msg, "is not a folder");
  /* mkdir itself fails: sysfs refuses new folders even to root. */
  kat__strlcpy(cfg.cache_dir, "/sys/katana-cache", sizeof cfg.cache_dir);
  KAT_CHECK_INT_EQ(kat__session_create(path, NULL, 0, &cfg, 0, "tiny", &s, &eb), KAT_EIO);
  KAT_CHECK_CONTAINS(eb.msg, "cannot create cache folder '/sys/katana-cache'");
  cfg.cache_dir[0] = '\0';
  KAT_CHECK_INT_EQ(kat__session_create(path, NULL, 0, &cfg, 0, "tiny", &s, &eb), KAT_EINVAL);
  KAT_CHECK_CONTAINS(eb.msg, "cache folder is empty");

  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  KAT_CHECK_INT_EQ(system(cmd), 0);
}

/* A bundle (the trained default model, not a test fixture) keys its cache by the verified
 * manifest digest: the module file is read for verification at open, never again for a key. */
KAT_TEST(test_bundle_cache_key_from_manifest) {
  const char *srcdir = getenv("KAT_SOURCE_DIR");
  if (!srcdir) KAT_SKIP("KAT_SOURCE_DIR is not set (run through CTest)");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/models/default", srcdir);
  kat__errbuf eb;
  kat__bundle *b = NULL;
  KAT_CHECK_INT_EQ(kat__bundle_open(dir, NULL, &b, &eb), KAT_OK);
  if (!b) return;
  kat_ep_config cfg = cpu_config();
  kat__session *s = NULL;
  uint64_t before = kat__session_bytes_hashed();
  KAT_CHECK_INT_EQ(kat__bundle_create_session(b, KAT_MODULE_IMAGE_ENCODER, &cfg, 0, &s, &eb),
                   KAT_OK);
  kat__session_destroy(s);
  s = NULL;
  char root[] = "/tmp/kat_test_bcache.XXXXXX";
  if (!mkdtemp(root)) KAT_SKIP("cannot create a temporary folder");
  snprintf(cfg.cache_dir, sizeof cfg.cache_dir, "%s", root);
  cfg.save_optimized = 1;
  KAT_CHECK_INT_EQ(kat__bundle_create_session(b, KAT_MODULE_IMAGE_ENCODER, &cfg, 0, &s, &eb),
                   KAT_OK);
  KAT_CHECK_INT_EQ(kat__session_bytes_hashed() - before, 0);
  char want[64];
  snprintf(want, sizeof want, "image_encoder-%.16s-",
           kat__bundle_manifest(b)->modules[KAT_MODULE_IMAGE_ENCODER].sha256);
  KAT_CHECK(dir_has_prefix(root, want));
  kat__session_destroy(s);
  kat__bundle_destroy(b);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  KAT_CHECK_INT_EQ(system(cmd), 0);
}

KAT_TEST_MAIN(KAT_CASE(test_create_and_run), KAT_CASE(test_contract_mismatch),
              KAT_CASE(test_bad_files), KAT_CASE(test_unavailable_providers),
              KAT_CASE(test_profiles), KAT_CASE(test_cache_key_only_with_cache),
              KAT_CASE(test_bundle_cache_key_from_manifest))
