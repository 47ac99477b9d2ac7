/*
 * Tests for the overlay video writer (media/encode.c): every frame written comes back when the
 * MP4 is decoded, by our own decoder and, when installed, by ffprobe (an independent reader).
 * Lengths 1, 4 and 7 lost their last frame before the encoder gave each packet a duration.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "katana/katana.h"
#include "kat_test.h"

enum { W = 96, H = 64 };

static long decode_count(const char *path) {
  kat_source *src = NULL;
  char err[KAT_ERROR_SIZE];
  if (kat_source_open(path, NULL, &src, err, sizeof err) != KAT_OK) {
    fprintf(stderr, "cannot open %s: %s\n", path, err);
    return -1;
  }
  long n = 0;
  kat_frame f;
  int rc;
  while ((rc = kat_source_next(src, &f)) == KAT_OK) n++;
  if (rc != KAT_EOF) n = -1;
  kat_source_close(src);
  return n;
}

/* ffprobe's decoded frame count, or -2 when ffprobe is not installed. */
static long ffprobe_count(const char *path) {
  if (system("command -v ffprobe >/dev/null 2>&1") != 0) return -2;
  char cmd[4200];
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
           "stream=nb_read_frames -of default=nw=1:nk=1 '%s'",
           path);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  long n = -1;
  if (fscanf(p, "%ld", &n) != 1) n = -1;
  pclose(p);
  return n;
}

KAT_TEST(test_all_frames_decodable) {
  char dir[] = "/tmp/kat_test_encode_XXXXXX";
  KAT_CHECK(mkdtemp(dir) != NULL);
  static uint8_t rgb[H * W * 3];
  const int lengths[] = {1, 2, 3, 4, 7, 25};
  for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
    char path[256];
    snprintf(path, sizeof path, "%s/len%d.mp4", dir, lengths[k]);
    kat_video_writer *vw = NULL;
    char err[KAT_ERROR_SIZE] = "";
    KAT_CHECK_INT_EQ(kat_video_writer_open(path, W, H, 25.0, &vw, err, sizeof err), KAT_OK);
    if (!vw) continue;
    for (int i = 0; i < lengths[k]; i++) {
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          uint8_t *p = rgb + ((size_t)y * W + (size_t)x) * 3;
          p[0] = (uint8_t)(x * 2 + i * 9);
          p[1] = (uint8_t)(y * 3);
          p[2] = (uint8_t)(i * 31);
        }
      KAT_CHECK_INT_EQ(kat_video_writer_write(vw, rgb, (size_t)W * 3), KAT_OK);
    }
    KAT_CHECK_INT_EQ(kat_video_writer_close(vw, err, sizeof err), KAT_OK);
    long ours = decode_count(path);
    printf("%d frames written: our decoder reads %ld\n", lengths[k], ours);
    KAT_CHECK_INT_EQ(ours, lengths[k]);
    long theirs = ffprobe_count(path);
    if (theirs == -2) {
      printf("ffprobe not installed: only our decoder checked\n");
    } else {
      printf("%d frames written: ffprobe reads %ld\n", lengths[k], theirs);
      KAT_CHECK_INT_EQ(theirs, lengths[k]);
    }
    unlink(path);
  }
  rmdir(dir);
}

KAT_TEST_MAIN(KAT_CASE(test_all_frames_decodable))
