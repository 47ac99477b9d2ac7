/*
 * katana media types: the description of one video frame as the library takes and returns it.
 *
 * A kat_frame never owns its pixels: `data` points into a buffer owned by whoever filled the
 * struct (a frame source, the caller), and stays valid as long as that owner documents.
 *
 * Thread-safety: plain values; no functions here.
 */
#ifndef KATANA_MEDIA_H
#define KATANA_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pixel layouts a frame can have. All are 8 bits per sample. */
typedef enum kat_pixel_format {
  KAT_PIXEL_RGB24 = 0, /* packed R,G,B; data[0], stride[0] */
  KAT_PIXEL_BGR24 = 1, /* packed B,G,R; data[0], stride[0] (OpenCV's layout) */
  KAT_PIXEL_NV12 = 2,  /* data[0]: Y plane (W x H); data[1]: interleaved U,V (W/2 x H/2 pairs);
                          BT.601 limited range; width and height even */
  KAT_PIXEL_GRAY8 = 3  /* one byte per pixel; data[0], stride[0] */
} kat_pixel_format;

/* One frame: a borrowed view of pixels plus where it sits in its stream. */
typedef struct kat_frame {
  kat_pixel_format format;
  int width;              /* pixels */
  int height;             /* pixels */
  const uint8_t *data[2]; /* planes; data[1] is used by NV12 only (else NULL) */
  size_t stride[2];       /* bytes from one row to the next, per plane */
  int64_t index;          /* 0-based frame number in its source */
  double time_s;          /* presentation time in seconds (index / fps when unknown) */
} kat_frame;

/*
 * Frame sources: video files and streams (anything FFmpeg reads, also v4l2 devices with
 * input_format "v4l2" and network URLs), folders of PNG/JPEG frames in natural name order, and
 * raw RGB24 frames from a file descriptor. Frames come out as RGB24.
 *
 * Thread-safety: a source or writer is used by one thread at a time.
 */
typedef struct kat_source kat_source;

typedef struct kat_source_options {
  int raw_width, raw_height; /* > 0: raw RGB24 frames of this size from raw_fd */
  int raw_fd;                /* with raw input: the descriptor (0 = stdin); not closed */
  const char *input_format;  /* FFmpeg input format ("v4l2", ...) or NULL to probe; borrowed */
  double fps;                /* timestamps of folder/raw frames: index / fps (0: 30) */
} kat_source_options;

typedef struct kat_source_info {
  int width, height;   /* every frame's size */
  double fps;          /* nominal rate, 0 if unknown */
  int64_t frame_count; /* frames if known in advance, else -1 */
  char codec[32];      /* decoder name ("h264", "png/jpeg", "rawvideo") */
} kat_source_info;

/* Fills `o` with defaults: probe, no raw input, 30 fps for folders. */
KAT_API void kat_source_options_init(kat_source_options *o);

/*
 * Opens `uri` (a file, URL, device, folder, or a label for raw input). On success *out owns a
 * source that the caller frees with kat_source_close; the first frame is decoded already, so the
 * info is complete. On failure *out is NULL and the message is in `err` (may be NULL).
 * KAT_ENOENT, KAT_EMEDIA, KAT_EFORMAT, KAT_EINVAL, KAT_ENOMEM.
 */
KAT_API int kat_source_open(const char *uri, const kat_source_options *o, kat_source **out,
                            char *err, size_t err_size);
/* Fills `info` (sizes, rate, count). */
KAT_API void kat_source_get_info(const kat_source *s, kat_source_info *info);
/*
 * Delivers the next frame: `frame` views the source's buffer, valid until the next call or close.
 * KAT_OK, KAT_EOF at the end, or an error (a frame size change mid-stream is KAT_EMEDIA) with the
 * message in kat_source_last_error. Allocates nothing after the first frame.
 */
KAT_API int kat_source_next(kat_source *s, kat_frame *frame);
/* The last failure's message (empty if none); owned by the source. */
KAT_API const char *kat_source_last_error(const kat_source *s);
/* Frees the source; NULL is a no-op. */
KAT_API void kat_source_close(kat_source *s);

/* An MP4 writer of RGB24 frames (H.264 when FFmpeg has libx264, else MPEG-4 part 2). */
typedef struct kat_video_writer kat_video_writer;

/* Opens `path` for width x height frames at `fps`. *out is NULL on failure (message in err). */
KAT_API int kat_video_writer_open(const char *path, int width, int height, double fps,
                                  kat_video_writer **out, char *err, size_t err_size);
/* Encodes one RGB24 frame ([height, stride] u8, borrowed for the call). */
KAT_API int kat_video_writer_write(kat_video_writer *w, const uint8_t *rgb, size_t stride);
/* Finishes the file and frees the writer (NULL is a no-op); the message of a failure in err. */
KAT_API int kat_video_writer_close(kat_video_writer *w, char *err, size_t err_size);

/*
 * Draws katana's overlay in place on an RGB24 image [h, stride]: where mask != 0 ([h, mask_stride]
 * u8, may be NULL) the pixels are tinted towards `rgb_color` by `alpha`, and the box (x, y, w, h,
 * may be NULL) is outlined 2 px wide.
 */
KAT_API void kat_overlay_draw(uint8_t *rgb, size_t stride, int w, int h, const uint8_t *mask,
                              size_t mask_stride, const float box[4], const uint8_t rgb_color[3],
                              float alpha);

/* Writes `mask` ([h, stride] u8, nonzero = object) as dir/NNNNN.png (index, 5 digits), 0/255. */
KAT_API int kat_mask_png_write(const char *dir, int64_t index, const uint8_t *mask, int w, int h,
                               size_t stride, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_MEDIA_H */
