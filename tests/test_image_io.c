/*
 * Tests for src/media/image_io: PNG/JPEG decode equals Pillow's (goldens from
 * scripts/testdata/05-media), write/read round trips, errors on missing, corrupt and truncated
 * files (status and message, no crash), and natural-order folder listing.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "kat_test.h"
#include "media/image_io.h"

static void write_all(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  if (n) fwrite(p, 1, n, f);
  fclose(f);
}

static char g_tmp[256];

static const char *tmp_path(const char *name) {
  static char buf[512];
  snprintf(buf, sizeof buf, "%s/%s", g_tmp, name);
  return buf;
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n) {
  int m = 0;
  for (size_t i = 0; i < n; i++) {
    int d = abs((int)a[i] - (int)b[i]);
    if (d > m) m = d;
  }
  return m;
}

KAT_TEST(test_decode_matches_pillow) {
  const char *names[][2] = {{"media/photo.png", "media/photo_png.rgb"},
                            {"media/photo.jpg", "media/photo_jpg.rgb"}};
  if (!kat_test_data("x")) KAT_SKIP("KAT_TEST_DATA is not set");
  kat__image img = {0};
  kat__errbuf eb;
  for (int i = 0; i < 2; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s", kat_test_data(names[i][0]));
    size_t n;
    uint8_t *gold = kat_test_read_file(kat_test_data(names[i][1]), &n);
    if (!gold) KAT_SKIP("media goldens missing (run scripts/make_test_data)");
    KAT_CHECK_INT_EQ(kat__image_read(path, &img, &eb), KAT_OK);
    KAT_CHECK_INT_EQ(img.width, 160);
    KAT_CHECK_INT_EQ(img.height, 120);
    KAT_CHECK_INT_EQ(img.channels, 3);
    KAT_CHECK_INT_EQ(n, (size_t)160 * 120 * 3);
    if (n == (size_t)img.height * img.stride) {
      int d = max_diff(img.data, gold, n);
      printf("%s vs Pillow: max |diff| %d\n", names[i][0], d);
      KAT_CHECK_INT_EQ(d, 0);
    }
    free(gold);
  }
  /* Gray PNG comes back as RGB with three equal channels; the buffer is reused (smaller image). */
  uint8_t *prev = img.data;
  size_t n;
  uint8_t *gray = kat_test_read_file(kat_test_data("media/gray.raw"), &n);
  char path[4200];
  snprintf(path, sizeof path, "%s", kat_test_data("media/gray.png"));
  KAT_CHECK_INT_EQ(kat__image_read(path, &img, &eb), KAT_OK);
  KAT_CHECK(img.data == prev);
  KAT_CHECK_INT_EQ(img.width, 64);
  KAT_CHECK_INT_EQ(img.height, 48);
  int bad = 0;
  for (size_t i = 0; gray && i < n; i++)
    for (int c = 0; c < 3; c++) bad += img.data[i * 3 + c] != gray[i];
  KAT_CHECK(gray != NULL);
  KAT_CHECK_INT_EQ(bad, 0);
  free(gray);
  kat__image_cleanup(&img);
}

/* PNG/JPEG variants (alpha, gray+alpha, palette with transparency, 1-bit, 16-bit, gray JPEG,
 * progressive, 4:4:4) decode like Pillow's open(...).convert("RGB"). */
KAT_TEST(test_variants_match_pillow) {
  const char *list = kat_test_data("media/variants.txt");
  FILE *f = list ? fopen(list, "r") : NULL;
  if (!f) KAT_SKIP("media goldens missing (run scripts/make_test_data)");
  char name[128];
  int count = 0;
  kat__image img = {0};
  kat__errbuf eb;
  while (fscanf(f, "%127s", name) == 1) {
    char rel[200], path[4200];
    snprintf(rel, sizeof rel, "media/%s", name);
    snprintf(path, sizeof path, "%s", kat_test_data(rel));
    snprintf(rel, sizeof rel, "media/%s.rgb", name);
    size_t n;
    uint8_t *gold = kat_test_read_file(kat_test_data(rel), &n);
    int rc = kat__image_read(path, &img, &eb);
    KAT_CHECK_INT_EQ(rc, KAT_OK);
    KAT_CHECK(gold != NULL);
    if (rc == KAT_OK && gold) {
      KAT_CHECK_INT_EQ(n, (size_t)img.height * img.stride);
      int d = n == (size_t)img.height * img.stride ? max_diff(img.data, gold, n) : 256;
      printf("%s vs Pillow: max |diff| %d\n", name, d);
      KAT_CHECK_INT_EQ(d, 0);
    }
    free(gold);
    count++;
  }
  fclose(f);
  kat__image_cleanup(&img);
  KAT_CHECK_INT_EQ(count, 8);
}

KAT_TEST(test_roundtrip) {
  const int w = 37, h = 23;
  uint8_t rgb[37 * 23 * 3], mask[37 * 23];
  for (int i = 0; i < w * h; i++) {
    rgb[3 * i] = (uint8_t)(i * 7);
    rgb[3 * i + 1] = (uint8_t)(i * 13);
    rgb[3 * i + 2] = (uint8_t)(255 - i);
    mask[i] = (i % 5 == 0) ? 255 : 0;
  }
  kat__errbuf eb;
  kat__image img = {0};
  KAT_CHECK_INT_EQ(kat__png_write(tmp_path("rgb.png"), rgb, w, h, 3, (size_t)w * 3, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__image_read(tmp_path("rgb.png"), &img, &eb), KAT_OK);
  KAT_CHECK(img.width == w && img.height == h && memcmp(img.data, rgb, sizeof rgb) == 0);
  KAT_CHECK_INT_EQ(kat__png_write(tmp_path("mask.png"), mask, w, h, 1, (size_t)w, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__image_read(tmp_path("mask.png"), &img, &eb), KAT_OK);
  int bad = 0;
  for (int i = 0; i < w * h; i++) bad += img.data[3 * i + 1] != mask[i];
  KAT_CHECK_INT_EQ(bad, 0);
  /* The mask file itself is 8-bit gray (PNG color type 0 at byte 25 of the IHDR). */
  size_t n;
  uint8_t *bytes = kat_test_read_file(tmp_path("mask.png"), &n);
  KAT_CHECK(bytes && n > 26 && bytes[24] == 8 && bytes[25] == 0);
  free(bytes);
  KAT_CHECK_INT_EQ(kat__jpeg_write(tmp_path("rgb.jpg"), rgb, w, h, (size_t)w * 3, 95, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__image_read(tmp_path("rgb.jpg"), &img, &eb), KAT_OK);
  KAT_CHECK(img.width == w && img.height == h);
  kat__image_cleanup(&img);
}

KAT_TEST(test_errors) {
  kat__errbuf eb;
  kat__image img = {0};
  KAT_CHECK_INT_EQ(kat__image_read(tmp_path("missing.png"), &img, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "missing.png");
  write_all(tmp_path("empty.jpg"), "", 0);
  KAT_CHECK_INT_EQ(kat__image_read(tmp_path("empty.jpg"), &img, &eb), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "empty.jpg: not a PNG or JPEG file");
  write_all(tmp_path("text.png"), "hello, not an image", 19);
  KAT_CHECK_INT_EQ(kat__image_read(tmp_path("text.png"), &img, &eb), KAT_EFORMAT);

  const char *srcs[2] = {"media/photo.png", "media/photo.jpg"};
  for (int i = 0; i < 2; i++) {
    size_t n;
    uint8_t *b = kat_test_read_file(kat_test_data(srcs[i]), &n);
    if (!b) KAT_SKIP("media goldens missing");
    const char *tname = i == 0 ? "trunc.png" : "trunc.jpg";
    write_all(tmp_path(tname), b, n / 2);
    KAT_CHECK_INT_EQ(kat__image_read(tmp_path(tname), &img, &eb), KAT_EFORMAT);
    KAT_CHECK_CONTAINS(eb.msg, tname);
    KAT_CHECK_CONTAINS(eb.msg,
                       i == 0 ? "corrupt or truncated PNG: " : "corrupt or truncated JPEG: ");
    printf("truncated %s: %s\n", i == 0 ? "PNG" : "JPEG", eb.msg);
    /* Flip bytes in the header: the libraries must reject it without crashing. */
    for (size_t k = 12; k < 40 && k < n; k++) b[k] ^= 0x5A;
    const char *cname = i == 0 ? "corrupt.png" : "corrupt.jpg";
    write_all(tmp_path(cname), b, n);
    int rc = kat__image_read(tmp_path(cname), &img, &eb);
    printf("corrupt %s: %s (%s)\n", i == 0 ? "PNG" : "JPEG", kat_status_name(rc), eb.msg);
    KAT_CHECK_INT_EQ(rc, KAT_EFORMAT);
    KAT_CHECK_CONTAINS(eb.msg, cname);
    free(b);
  }
  kat__image_cleanup(&img);
}

KAT_TEST(test_natural_sort_listing) {
  KAT_CHECK(kat__natural_cmp("2.jpg", "10.jpg") < 0);
  KAT_CHECK(kat__natural_cmp("10.jpg", "2.jpg") > 0);
  KAT_CHECK(kat__natural_cmp("img9.png", "img10.png") < 0);
  KAT_CHECK(kat__natural_cmp("a.png", "a.png") == 0);
  KAT_CHECK(kat__natural_cmp("007.jpg", "7.jpg") > 0);
  KAT_CHECK(kat__natural_cmp("frame_2_b", "frame_2_a") > 0);
  char dir[300];
  snprintf(dir, sizeof dir, "%s/folder", g_tmp);
  mkdir(dir, 0700);
  const char *names[] = {"10.jpg", "2.jpg",   "1.png",      "notes.txt",
                         "3.JPEG", "100.jpg", ".hidden.png"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    write_all(p, "x", 1);
  }
  kat__file_list list;
  kat__errbuf eb;
  KAT_CHECK_INT_EQ(kat__image_dir_list(dir, &list, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(list.count, 5);
  const char *want[] = {"1.png", "2.jpg", "3.JPEG", "10.jpg", "100.jpg"};
  for (size_t i = 0; i < 5 && i < list.count; i++) {
    const char *base = strrchr(list.paths[i], '/');
    KAT_CHECK_STR_EQ(base ? base + 1 : list.paths[i], want[i]);
  }
  kat__file_list_cleanup(&list);
  KAT_CHECK_INT_EQ(kat__image_dir_list(tmp_path("nope"), &list, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "nope");
}

static void setup(void) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/kat_test_image_io_XXXXXX");
  if (!mkdtemp(g_tmp)) KAT_SKIP("cannot create a temporary folder");
}

static void teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_decode_matches_pillow),
              KAT_CASE(test_variants_match_pillow), KAT_CASE(test_roundtrip), KAT_CASE(test_errors),
              KAT_CASE(test_natural_sort_listing), KAT_TEARDOWN(teardown))
