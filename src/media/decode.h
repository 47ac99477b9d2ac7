/*
 * Frame sources: one interface over FFmpeg (any container/codec libavformat opens: files,
 * network URLs, and capture devices such as v4l2 when libavdevice is built in), folders of
 * images, and raw RGB24 frames on a file descriptor (e.g. stdin, `--raw WxH`). Every source yields
 * packed RGB24 frames with stride, a 0-based index and a timestamp in seconds.
 *
 * The first frame is decoded at open, so the frame size is known before the first
 * kat__source_next (callers size their resizers and tensors from kat__source_info). All frames
 * must have that size: a change mid-stream is KAT_EMEDIA with a message naming both sizes.
 * FFmpeg's YUV->RGB conversion is swscale's default (BT.601 limited range unless the stream says
 * otherwise, bicubic chroma upsampling).
 *
 * Memory: buffers are allocated at open and for the first frame; after that kat__source_next
 * allocates nothing of ours (FFmpeg recycles its packet and frame buffers; libpng/libjpeg use
 * their own small allocations per image).
 * Thread-safety: a source is used by one thread at a time.
 */
#ifndef KAT_MEDIA_DECODE_H
#define KAT_MEDIA_DECODE_H

#include <stdint.h>

#include "core/core.h"
#include "katana/media.h"

typedef struct kat__source kat__source;

typedef enum kat__source_kind {
  KAT__SOURCE_FFMPEG = 0,
  KAT__SOURCE_FOLDER = 1,
  KAT__SOURCE_RAW = 2
} kat__source_kind;

typedef struct kat__source_options {
  int raw_width, raw_height; /* > 0: the input is raw RGB24 frames of this size */
  int raw_fd;                /* with raw: the descriptor to read (0 = stdin; not closed) */
  const char *input_format;  /* FFmpeg input format ("v4l2", ...) or NULL to probe */
  double folder_fps;         /* timestamps of folder/raw frames: index / fps (0 -> 30) */
} kat__source_options;

/* Zeroes the options (probe, no raw, 30 fps for folders and raw). */
void kat__source_options_init(kat__source_options *opts);
/* The one translation of the public kat_source_options (may be NULL: the defaults) into *opts;
 * a public fps <= 0 keeps the default. input_format stays borrowed from `pub`. */
void kat__source_options_from(kat__source_options *opts, const kat_source_options *pub);
/* The one translation of a source's info into the public kat_source_info (fully written). */
void kat__source_info_to_public(const kat__source *src, kat_source_info *info);

/* What a source delivers. */
typedef struct kat__source_info {
  kat__source_kind kind;
  int width, height;   /* every frame's size */
  double fps;          /* nominal rate (0 if unknown) */
  int64_t frame_count; /* frames if known in advance (folder; container's count), else -1 */
  char codec[32];      /* FFmpeg decoder name, "png/jpeg" for folders, "rawvideo" for raw */
} kat__source_info;

/*
 * Opens `uri`: with opts->raw_width > 0, raw frames from opts->raw_fd (uri is only a label);
 * else a folder (any directory: its .jpg/.jpeg/.png files in natural order); else FFmpeg.
 * Returns KAT_OK; KAT_EINVAL; KAT_ENOENT (no such file/folder); KAT_EMEDIA (FFmpeg cannot open or
 * decode it, no video stream, a folder without images); KAT_EFORMAT (a corrupt first image
 * in a folder); KAT_EOF (raw input
 * with no frame); KAT_ENOMEM. The message goes to `eb`. *out is NULL on failure; otherwise the
 * caller owns it and frees it with kat__source_close.
 */
int kat__source_open(const char *uri, const kat__source_options *opts, kat__source **out,
                     kat__errbuf *eb);

/*
 * Delivers the next frame into `frame` (RGB24; data points into the source's buffer, valid
 * until the next call or close). Returns KAT_OK, KAT_EOF at the end, or KAT_EMEDIA/KAT_EFORMAT/
 * KAT_EIO with the message in kat__source_last_error. After an error the source stays closed for
 * reading (further calls return the same status).
 */
int kat__source_next(kat__source *src, kat_frame *frame);

/* Fills `info`. */
void kat__source_get_info(const kat__source *src, kat__source_info *info);
/* The last failure's message (empty if none); owned by the source. */
const char *kat__source_last_error(const kat__source *src);
/* Frees everything; a no-op on NULL. */
void kat__source_close(kat__source *src);

/* Routes FFmpeg's log into katana's (kat__log; FFmpeg's info and below map to debug). Called by
 * the media modules before they use FFmpeg; idempotent and thread-safe. */
void kat__media_ffmpeg_init(void);

#endif /* KAT_MEDIA_DECODE_H */
