/*
 * Overlay annotations drawn by katana track on top of kat_overlay_draw: a small bitmap-font label
 * (frame number, state, score) and a dashed box for occluded/lost frames.
 *
 * Images are RGB24 [h, stride] u8, borrowed for the call and drawn in place; everything outside
 * the image is clipped. Thread-safety: pure functions of their arguments.
 */
#ifndef KAT_CLI_OVERLAY_H
#define KAT_CLI_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes `text` (digits, letters, '#', '.', '-', ' '; other characters draw as a blank) at
 * (x, y) in `color` on a darkened band, 3x5-pixel glyphs scaled by 1..3 with the image height.
 */
void kat_cli_overlay_text(uint8_t *rgb, size_t stride, int w, int h, int x, int y, const char *text,
                          const uint8_t color[3]);
/* Outlines box (x, y, w, h, pixels) 2 px wide with 6-on/4-off dashes in `color`. */
void kat_cli_overlay_dashed_box(uint8_t *rgb, size_t stride, int w, int h, const double box[4],
                                const uint8_t color[3]);

#endif /* KAT_CLI_OVERLAY_H */
