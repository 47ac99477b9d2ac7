/*
 * Overlay annotations for katana track (see cli_overlay.h): a 3x5 bitmap font and dashed boxes.
 */
#include "cli_overlay.h"

#include <math.h>
#include <string.h>

/* One glyph: 5 rows, bit 2 = left column, bit 0 = right column. */
typedef struct glyph {
  char c;
  uint8_t rows[5];
} glyph;

static const glyph k_font[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'a', {2, 5, 7, 5, 5}}, {'c', {7, 4, 4, 4, 7}},
    {'d', {6, 5, 5, 5, 6}}, {'e', {7, 4, 6, 4, 7}}, {'f', {7, 4, 6, 4, 4}}, {'i', {7, 2, 2, 2, 7}},
    {'k', {5, 5, 6, 5, 5}}, {'l', {4, 4, 4, 4, 7}}, {'m', {5, 7, 7, 5, 5}}, {'n', {6, 5, 5, 5, 5}},
    {'o', {2, 5, 5, 5, 2}}, {'p', {7, 5, 7, 4, 4}}, {'r', {6, 5, 6, 5, 5}}, {'s', {7, 4, 7, 1, 7}},
    {'t', {7, 2, 2, 2, 2}}, {'u', {5, 5, 5, 5, 7}}, {'y', {5, 5, 2, 2, 2}}, {'#', {5, 7, 5, 7, 5}},
    {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
};

static const uint8_t *glyph_rows(char c) {
  if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
  for (size_t i = 0; i < sizeof k_font / sizeof k_font[0]; i++)
    if (k_font[i].c == c) return k_font[i].rows;
  return NULL;
}

static void put(uint8_t *rgb, size_t stride, int w, int h, int x, int y, const uint8_t c[3]) {
  if (x < 0 || y < 0 || x >= w || y >= h) return;
  memcpy(rgb + (size_t)y * stride + (size_t)x * 3, c, 3);
}

void kat_cli_overlay_text(uint8_t *rgb, size_t stride, int w, int h, int x, int y, const char *text,
                          const uint8_t color[3]) {
  if (!rgb || !text || w < 1 || h < 1) return;
  const int s = h >= 720 ? 3 : h >= 240 ? 2 : 1;
  const int n = (int)strlen(text);
  /* Darken a band behind the text so it reads on any background. */
  const int bx0 = x - s, by0 = y - s, bx1 = x + n * 4 * s, by1 = y + 6 * s;
  for (int yy = by0 < 0 ? 0 : by0; yy < by1 && yy < h; yy++)
    for (int xx = bx0 < 0 ? 0 : bx0; xx < bx1 && xx < w; xx++) {
      uint8_t *p = rgb + (size_t)yy * stride + (size_t)xx * 3;
      p[0] = (uint8_t)(p[0] / 3);
      p[1] = (uint8_t)(p[1] / 3);
      p[2] = (uint8_t)(p[2] / 3);
    }
  for (int k = 0; k < n; k++) {
    const uint8_t *rows = glyph_rows(text[k]);
    if (!rows) continue;
    for (int r = 0; r < 5; r++)
      for (int col = 0; col < 3; col++) {
        if (!(rows[r] & (4 >> col))) continue;
        for (int dy = 0; dy < s; dy++)
          for (int dx = 0; dx < s; dx++)
            put(rgb, stride, w, h, x + (k * 4 + col) * s + dx, y + r * s + dy, color);
      }
  }
}

void kat_cli_overlay_dashed_box(uint8_t *rgb, size_t stride, int w, int h, const double box[4],
                                const uint8_t color[3]) {
  if (!rgb || !box || !(box[2] > 0) || !(box[3] > 0) || !isfinite(box[0]) || !isfinite(box[1]))
    return;
  const double lim = 1e6;
  if (fabs(box[0]) > lim || fabs(box[1]) > lim || box[2] > lim || box[3] > lim) return;
  const int x0 = (int)lround(box[0]), y0 = (int)lround(box[1]);
  const int x1 = (int)lround(box[0] + box[2]) - 1, y1 = (int)lround(box[1] + box[3]) - 1;
  for (int x = x0; x <= x1; x++) {
    if ((x - x0) % 10 >= 6) continue;
    for (int t = 0; t < 2; t++) {
      put(rgb, stride, w, h, x, y0 + t, color);
      put(rgb, stride, w, h, x, y1 - t, color);
    }
  }
  for (int y = y0; y <= y1; y++) {
    if ((y - y0) % 10 >= 6) continue;
    for (int t = 0; t < 2; t++) {
      put(rgb, stride, w, h, x0 + t, y, color);
      put(rgb, stride, w, h, x1 - t, y, color);
    }
  }
}
