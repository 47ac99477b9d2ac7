/*
 * Output media: the overlay video writer (H.264 through libx264 when FFmpeg has it, else MPEG-4
 * part 2; container from the file name, normally .mp4), drawing of the overlay (mask tint and box
 * outline) on RGB frames, and per-frame mask PNGs (masks/00000.png, ...).
 *
 * Memory: the writer allocates its codec, frame and colour converter at open; writing a frame
 * allocates nothing of ours (FFmpeg may recycle packet buffers internally).
 * Thread-safety: a writer is used by one thread at a time.
 */
#ifndef KAT_MEDIA_ENCODE_H
#define KAT_MEDIA_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct kat__video_writer kat__video_writer;

/*
 * Opens `path` for writing frames of width x height RGB24 at `fps` (> 0). Odd sizes are encoded
 * one pixel smaller (4:2:0 needs even sizes). Returns KAT_OK, KAT_EINVAL, KAT_EMEDIA (no encoder,
 * container or file; FFmpeg's text in eb) or KAT_ENOMEM. *out is NULL on failure, else owned by
 * the caller, who must call kat__video_writer_close.
 */
int kat__video_writer_open(const char *path, int width, int height, double fps,
                           kat__video_writer **out, kat__errbuf *eb);
/* Encodes one RGB24 frame ([height, stride] u8, borrowed for the call). KAT_OK or KAT_EMEDIA. */
int kat__video_writer_write(kat__video_writer *vw, const uint8_t *rgb, size_t stride);
/* Flushes the encoder, finishes the file and frees the writer (a no-op on NULL). Returns KAT_OK or
 * KAT_EMEDIA (message in eb, may be NULL). */
int kat__video_writer_close(kat__video_writer *vw, kat__errbuf *eb);
/* The encoder's name ("libx264" or "mpeg4"); owned by the writer. */
const char *kat__video_writer_codec(const kat__video_writer *vw);
/* The message of the last failed write; owned by the writer. */
const char *kat__video_writer_last_error(const kat__video_writer *vw);

/*
 * Draws the tracking overlay in place on an RGB24 frame [h, stride]: pixels where mask != 0
 * ([h, mask_stride] u8, may be NULL) are blended towards `color` by `alpha` (0..1), and the box
 * (x, y, w, h in pixels, may be NULL or have w/h <= 0 for none) is outlined 2 px wide in `color`.
 */
void kat__overlay_draw(uint8_t *rgb, size_t stride, int w, int h, const uint8_t *mask,
                       size_t mask_stride, const float box[4], const uint8_t color[3], float alpha);

/*
 * Writes `mask` ([h, stride] u8, nonzero = object) as `<dir>/<index as 5 digits>.png`, 8-bit gray
 * 0/255. Width at most 32768. Returns KAT_OK, KAT_EINVAL or KAT_EIO.
 */
int kat__mask_png_write(const char *dir, int64_t index, const uint8_t *mask, int w, int h,
                        size_t stride, kat__errbuf *eb);

#endif /* KAT_MEDIA_ENCODE_H */
