/*
 * Tests for frame sources (src/media/decode.c) and the writers (src/media/encode.c): an MP4
 * round trip through our encoder and FFmpeg decoding, image folders in natural order, raw RGB24
 * streams, errors (missing, corrupt, truncated, size change mid-stream, with messages), no
 * allocation of ours per frame after the first, and the overlay drawing.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "kat_test.h"
#include "media/decode.h"
#include "media/encode.h"
#include "media/image_io.h"
#include "tools/synth/render.h"

static char g_tmp[256];

static const char *tmp_path(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmp, name);
  return buf[k];
}

static size_t g_allocs;
static void *count_malloc(void *u, size_t n) {
  (void)u;
  g_allocs++;
  return malloc(n);
}
static void *count_realloc(void *u, void *p, size_t n) {
  (void)u;
  g_allocs++;
  return realloc(p, n);
}
static void count_free(void *u, void *p) {
  (void)u;
  free(p);
}
static const kat_allocator k_counting = {count_malloc, count_realloc, count_free, NULL};

enum { W = 160, H = 96, N = 30 };

KAT_TEST(test_mp4_roundtrip) {
  kat__synth_clip *clip = NULL;
  kat__errbuf eb;
  uint8_t *frames = malloc((size_t)N * W * H * 3), *mask = malloc((size_t)W * H);
  KAT_CHECK_INT_EQ(kat__synth_clip_create(KAT_SYNTH_TRAIN, 3, W, H, N, &clip, &eb), KAT_OK);
  kat__video_writer *vw = NULL;
  KAT_CHECK_INT_EQ(kat__video_writer_open(tmp_path("clip.mp4"), W, H, 30.0, &vw, &eb), KAT_OK);
  if (!vw || !clip) return;
  printf("encoder: %s\n", kat__video_writer_codec(vw));
  KAT_CHECK(strcmp(kat__video_writer_codec(vw), "libx264") == 0 ||
            strcmp(kat__video_writer_codec(vw), "mpeg4") == 0);
  for (int t = 0; t < N; t++) {
    kat__synth_info info;
    uint8_t *f = frames + (size_t)t * W * H * 3;
    kat__synth_clip_render(clip, t, f, mask, &info);
    KAT_CHECK_INT_EQ(kat__video_writer_write(vw, f, (size_t)W * 3), KAT_OK);
  }
  KAT_CHECK_INT_EQ(kat__video_writer_close(vw, &eb), KAT_OK);
  kat__synth_clip_destroy(clip);

  kat__source *src = NULL;
  KAT_CHECK_INT_EQ(kat__source_open(tmp_path("clip.mp4"), NULL, &src, &eb), KAT_OK);
  if (!src) return;
  kat__source_info info;
  kat__source_get_info(src, &info);
  KAT_CHECK_INT_EQ(info.kind, KAT__SOURCE_FFMPEG);
  KAT_CHECK_INT_EQ(info.width, W);
  KAT_CHECK_INT_EQ(info.height, H);
  KAT_CHECK_NEAR(info.fps, 30.0, 1e-6);
  kat_frame fr;
  int n = 0, order_ok = 1;
  double worst_psnr = 1e9, sum_psnr = 0, prev_t = -1;
  size_t allocs_after_first = 0;
  int rc;
  while ((rc = kat__source_next(src, &fr)) == KAT_OK) {
    if (n == 1) {
      kat_set_allocator(&k_counting);
      g_allocs = 0;
    }
    if (fr.index != n || !(fr.time_s > prev_t)) order_ok = 0;
    prev_t = fr.time_s;
    if (n < N) {
      double se = 0;
      const uint8_t *ref = frames + (size_t)n * W * H * 3;
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W * 3; x++) {
          double d = (double)fr.data[0][(size_t)y * fr.stride[0] + x] - ref[(size_t)y * W * 3 + x];
          se += d * d;
        }
      double psnr = 10 * log10(255.0 * 255.0 / (se / (W * H * 3) + 1e-9));
      if (psnr < worst_psnr) worst_psnr = psnr;
      sum_psnr += psnr;
    }
    n++;
  }
  allocs_after_first = g_allocs;
  kat_set_allocator(NULL);
  KAT_CHECK_INT_EQ(rc, KAT_EOF);
  KAT_CHECK_INT_EQ(kat__source_next(src, &fr), KAT_EOF); /* sticky */
  KAT_CHECK_INT_EQ(n, N);
  KAT_CHECK(order_ok);
  KAT_CHECK_NEAR(prev_t, (N - 1) / 30.0, 1e-3);
  printf("mp4 round trip: %d frames, PSNR worst %.1f mean %.1f dB, %zu allocations after frame 0\n",
         n, worst_psnr, sum_psnr / (n ? n : 1), allocs_after_first);
  /* Saturated checkers and grain lose detail in 4:2:0 at this small size; the bound still catches
   * a wrong frame, offset or channel order. */
  KAT_CHECK(worst_psnr > 22.0);
  KAT_CHECK_INT_EQ(allocs_after_first, 0);
  kat__source_close(src);
  free(frames);
  free(mask);
}

static void fill(uint8_t *p, int w, int h, uint8_t v) {
  memset(p, v, (size_t)w * h * 3);
}

KAT_TEST(test_folder_source) {
  char dir[400];
  snprintf(dir, sizeof dir, "%s/frames", g_tmp);
  mkdir(dir, 0700);
  uint8_t img[32 * 24 * 3];
  const char *names[] = {"10.png", "2.png", "1.jpg"};
  const uint8_t vals[] = {30, 20, 10};
  kat__errbuf eb;
  for (int i = 0; i < 3; i++) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    fill(img, 32, 24, vals[i]);
    if (i == 2)
      KAT_CHECK_INT_EQ(kat__jpeg_write(p, img, 32, 24, 32 * 3, 95, &eb), KAT_OK);
    else
      KAT_CHECK_INT_EQ(kat__png_write(p, img, 32, 24, 3, 32 * 3, &eb), KAT_OK);
  }
  kat__source_options o;
  kat__source_options_init(&o);
  o.folder_fps = 10.0;
  kat__source *src = NULL;
  KAT_CHECK_INT_EQ(kat__source_open(dir, &o, &src, &eb), KAT_OK);
  if (!src) return;
  kat__source_info info;
  kat__source_get_info(src, &info);
  KAT_CHECK_INT_EQ(info.kind, KAT__SOURCE_FOLDER);
  KAT_CHECK_INT_EQ(info.frame_count, 3);
  kat_frame fr;
  for (int i = 0; i < 3; i++) {
    if (i == 1) {
      kat_set_allocator(&k_counting);
      g_allocs = 0;
    }
    KAT_CHECK_INT_EQ(kat__source_next(src, &fr), KAT_OK);
    KAT_CHECK_INT_EQ(fr.index, i);
    KAT_CHECK_NEAR(fr.time_s, i / 10.0, 1e-9);
    KAT_CHECK(abs((int)fr.data[0][5 * fr.stride[0] + 7] - (int)(10 * (i + 1))) <= 2);
  }
  kat_set_allocator(NULL);
  KAT_CHECK_INT_EQ(g_allocs, 0);
  KAT_CHECK_INT_EQ(kat__source_next(src, &fr), KAT_EOF);
  kat__source_close(src);

  /* A frame of another size mid-stream is an error naming both sizes. */
  char p[600];
  snprintf(p, sizeof p, "%s/11.png", dir);
  KAT_CHECK_INT_EQ(kat__png_write(p, img, 16, 24, 3, 32 * 3, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(kat__source_open(dir, &o, &src, &eb), KAT_OK);
  int rc = KAT_OK;
  for (int i = 0; i < 5 && rc == KAT_OK; i++) rc = kat__source_next(src, &fr);
  KAT_CHECK_INT_EQ(rc, KAT_EMEDIA);
  KAT_CHECK_CONTAINS(kat__source_last_error(src), "16x24");
  KAT_CHECK_CONTAINS(kat__source_last_error(src), "32x24");
  printf("size change: %s\n", kat__source_last_error(src));
  kat__source_close(src);

  /* An empty folder and a corrupt first image fail at open. */
  char empty[400];
  snprintf(empty, sizeof empty, "%s/empty", g_tmp);
  mkdir(empty, 0700);
  KAT_CHECK_INT_EQ(kat__source_open(empty, NULL, &src, &eb), KAT_EMEDIA);
  KAT_CHECK(src == NULL);
  KAT_CHECK_CONTAINS(eb.msg, "no *.jpg");
  snprintf(p, sizeof p, "%s/0.jpg", empty);
  FILE *f = fopen(p, "wb");
  if (f) {
    fputs("\xff\xd8\xff garbage", f);
    fclose(f);
  }
  KAT_CHECK_INT_EQ(kat__source_open(empty, NULL, &src, &eb), KAT_EFORMAT);
  KAT_CHECK_CONTAINS(eb.msg, "0.jpg");
}

KAT_TEST(test_raw_source) {
  const int w = 8, h = 4;
  uint8_t buf[8 * 4 * 3 * 2 + 10];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)i;
  FILE *f = fopen(tmp_path("raw.rgb"), "wb");
  if (!f) KAT_SKIP("cannot write a temporary file");
  fwrite(buf, 1, sizeof buf, f); /* two frames and 10 stray bytes */
  fclose(f);
  int fd = open(tmp_path("raw.rgb"), O_RDONLY);
  kat__source_options o;
  kat__source_options_init(&o);
  o.raw_width = w;
  o.raw_height = h;
  o.raw_fd = fd;
  kat__source *src = NULL;
  kat__errbuf eb;
  KAT_CHECK_INT_EQ(kat__source_open("-", &o, &src, &eb), KAT_OK);
  if (!src) return;
  kat_frame fr;
  KAT_CHECK_INT_EQ(kat__source_next(src, &fr), KAT_OK);
  KAT_CHECK(fr.width == w && fr.height == h && fr.stride[0] == (size_t)w * 3 && fr.data[0][5] == 5);
  KAT_CHECK_INT_EQ(kat__source_next(src, &fr), KAT_OK);
  KAT_CHECK_INT_EQ(fr.index, 1);
  KAT_CHECK_INT_EQ(fr.data[0][0], (uint8_t)(w * h * 3));
  KAT_CHECK_INT_EQ(kat__source_next(src, &fr), KAT_EMEDIA);
  KAT_CHECK_CONTAINS(kat__source_last_error(src), "truncated frame 2 (10 of 96 bytes");
  kat__source_close(src);
  close(fd);
  fd = open("/dev/null", O_RDONLY);
  o.raw_fd = fd;
  KAT_CHECK_INT_EQ(kat__source_open("-", &o, &src, &eb), KAT_EOF);
  close(fd);
}

KAT_TEST(test_ffmpeg_errors) {
  kat__source *src = NULL;
  kat__errbuf eb;
  KAT_CHECK_INT_EQ(kat__source_open(tmp_path("missing.mp4"), NULL, &src, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, "missing.mp4: cannot open");
  FILE *f = fopen(tmp_path("junk.mp4"), "wb");
  if (f) {
    for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xFF, f);
    fclose(f);
  }
  int rc = kat__source_open(tmp_path("junk.mp4"), NULL, &src, &eb);
  printf("junk.mp4: %s: %s\n", kat_status_name(rc), eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_EMEDIA);
  KAT_CHECK(src == NULL);
  KAT_CHECK_CONTAINS(eb.msg, "junk.mp4");
  /* A truncated copy of the round-trip clip: opening fails or ends early, never crashes. */
  FILE *in = fopen(tmp_path("clip.mp4"), "rb");
  if (!in) return;
  static uint8_t data[1 << 20];
  size_t n = fread(data, 1, sizeof data, in);
  fclose(in);
  f = fopen(tmp_path("cut.mp4"), "wb");
  if (f) {
    fwrite(data, 1, n / 3, f);
    fclose(f);
  }
  rc = kat__source_open(tmp_path("cut.mp4"), NULL, &src, &eb);
  int frames = 0;
  if (rc == KAT_OK) {
    kat_frame fr;
    while (kat__source_next(src, &fr) == KAT_OK) frames++;
  }
  printf("cut.mp4: open %s, %d frames: %s\n", kat_status_name(rc), frames, rc ? eb.msg : "");
  KAT_CHECK(rc == KAT_EMEDIA || (rc == KAT_OK && frames < N));
  kat__source_close(src);
  kat__source_options o;
  kat__source_options_init(&o);
  o.input_format = "no-such-format";
  KAT_CHECK_INT_EQ(kat__source_open("x", &o, &src, &eb), KAT_EMEDIA);
  KAT_CHECK_CONTAINS(eb.msg, "no input format 'no-such-format'");
}

/* Counts the warnings and errors logged from origin "ffmpeg" (the capture should leave none;
 * FFmpeg's info and verbose lines still go to the log, below the default level). */
static _Atomic int g_ffmpeg_lines;
static void count_log(void *user, kat_log_level level, const char *origin, const char *msg) {
  (void)user;
  if (strcmp(origin, "ffmpeg") == 0 && level >= KAT_LOG_WARN) {
    printf("logged: %s\n", msg);
    g_ffmpeg_lines++;
  }
}

/* Writes a hand-made MP4 that has no moov atom: an ftyp box, then an mdat box of junk. */
static void write_moovless(const char *path) {
  static const uint8_t ftyp[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
                                   0, 0, 2, 0,  'i', 's', 'o', 'm', 'm', 'p', '4', '1'};
  uint8_t mdat[8 + 2000] = {0, 0, (8 + 2000) >> 8, (8 + 2000) & 0xFF, 'm', 'd', 'a', 't'};
  for (size_t i = 8; i < sizeof mdat; i++) mdat[i] = (uint8_t)(i * 31);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(ftyp, 1, sizeof ftyp, f);
  fwrite(mdat, 1, sizeof mdat, f);
  fclose(f);
}

/* One opening thread: the file (set before the thread starts, read only) and its failures. */
typedef struct moovless_job {
  const char *path;
  int bad;
} moovless_job;

static void *open_moovless_loop(void *arg) {
  moovless_job *job = arg;
  for (int i = 0; i < 20; i++) {
    kat__source *src = NULL;
    kat__errbuf eb;
    int rc = kat__source_open(job->path, NULL, &src, &eb);
    const char *first = strstr(eb.msg, "moov atom not found");
    if (rc != KAT_EMEDIA || !first || strstr(first + 1, "moov atom not found")) job->bad++;
    kat__source_close(src);
  }
  return NULL;
}

/* A failed open carries FFmpeg's own log line ("moov atom not found") in its message, logs
 * nothing, and opens on two threads at once each get exactly their own line. */
KAT_TEST(test_ffmpeg_log_in_message) {
  write_moovless(tmp_path("moovless.mp4"));
  g_ffmpeg_lines = 0;
  const kat_log_level before = kat_log_get_level();
  kat_log_set(count_log, NULL, KAT_LOG_VERBOSE);
  kat__source *src = NULL;
  kat__errbuf eb;
  int rc = kat__source_open(tmp_path("moovless.mp4"), NULL, &src, &eb);
  printf("moovless.mp4: %s: %s\n", kat_status_name(rc), eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_EMEDIA);
  KAT_CHECK_CONTAINS(eb.msg, "cannot open: Invalid data found when processing input");
  KAT_CHECK_CONTAINS(eb.msg, "(FFmpeg: moov atom not found)");
  KAT_CHECK_INT_EQ(g_ffmpeg_lines, 0);
  /* Two threads opening at once: each message has its own line once, none the other's. */
  pthread_t t[2];
  char path[600];
  snprintf(path, sizeof path, "%s", tmp_path("moovless.mp4")); /* tmp_path is not thread-safe */
  moovless_job jobs[2] = {{path, 0}, {path, 0}};
  for (int k = 0; k < 2; k++)
    KAT_CHECK_INT_EQ(pthread_create(&t[k], NULL, open_moovless_loop, &jobs[k]), 0);
  for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
  KAT_CHECK_INT_EQ(jobs[0].bad + jobs[1].bad, 0);
  KAT_CHECK_INT_EQ(g_ffmpeg_lines, 0);
  kat_log_set(NULL, NULL, before);
}

KAT_TEST(test_overlay_and_masks) {
  uint8_t rgb[20 * 10 * 3], mask[20 * 10] = {0};
  memset(rgb, 100, sizeof rgb);
  mask[8 * 20 + 15] = 1;
  const uint8_t red[3] = {255, 0, 0};
  const float box[4] = {2, 2, 10, 6};
  kat__overlay_draw(rgb, 60, 20, 10, mask, 20, box, red, 0.5f);
  KAT_CHECK_INT_EQ(rgb[(2 * 20 + 2) * 3 + 0], 255); /* top-left corner of the outline */
  KAT_CHECK_INT_EQ(rgb[(7 * 20 + 11) * 3 + 1], 0);  /* bottom-right corner */
  KAT_CHECK_INT_EQ(rgb[(4 * 20 + 6) * 3 + 0], 100); /* inside the box, not masked */
  KAT_CHECK_INT_EQ(rgb[(8 * 20 + 15) * 3 + 0], (100 * 128 + 255 * 128) >> 8); /* tinted */
  KAT_CHECK_INT_EQ(rgb[(8 * 20 + 15) * 3 + 1], (100 * 128) >> 8);
  KAT_CHECK_INT_EQ(rgb[(0 * 20 + 0) * 3 + 0], 100);
  kat__errbuf eb;
  KAT_CHECK_INT_EQ(kat__mask_png_write(g_tmp, 7, mask, 20, 10, 20, &eb), KAT_OK);
  kat__image img = {0};
  KAT_CHECK_INT_EQ(kat__image_read(tmp_path("00007.png"), &img, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(img.data[(8 * 20 + 15) * 3], 255);
  KAT_CHECK_INT_EQ(img.data[(8 * 20 + 14) * 3], 0);
  kat__image_cleanup(&img);
  kat__video_writer *vw = NULL;
  KAT_CHECK_INT_EQ(kat__video_writer_open(tmp_path("x.mp4"), 0, 10, 30, &vw, &eb), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat__video_writer_open("/nonexistent-dir/x.mp4", 64, 64, 30, &vw, &eb),
                   KAT_EMEDIA);
  KAT_CHECK_CONTAINS(eb.msg, "/nonexistent-dir/x.mp4");
}

static void setup(void) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/kat_test_decode_XXXXXX");
  if (!mkdtemp(g_tmp)) KAT_SKIP("cannot create a temporary folder");
  kat_log_set(NULL, NULL, KAT_LOG_ERROR);
}

static void teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(test_mp4_roundtrip), KAT_CASE(test_folder_source),
              KAT_CASE(test_raw_source), KAT_CASE(test_ffmpeg_errors),
              KAT_CASE(test_ffmpeg_log_in_message), KAT_CASE(test_overlay_and_masks),
              KAT_TEARDOWN(teardown))
