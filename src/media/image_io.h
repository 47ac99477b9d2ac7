/*
 * Still images: PNG (libpng) and JPEG (libjpeg-turbo) decoding to packed RGB24, PNG/JPEG
 * writing (RGB frames, 8-bit gray masks), and image-folder listing in natural order.
 *
 * Errors never crash: both libraries report through handlers that longjmp back into the reading
 * function, which returns KAT_EFORMAT (bad or truncated data), KAT_ENOENT (missing file), KAT_EIO
 * or KAT_ENOMEM, with "<path>: <library message>" in the caller's error buffer. A JPEG that ends
 * early is an error (as in Pillow), not a gray-padded image.
 *
 * Thread-safety: every function is reentrant; distinct kat__image values may be used on distinct
 * threads.
 */
#ifndef KAT_MEDIA_IMAGE_IO_H
#define KAT_MEDIA_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* A decoded image that owns its buffer. Zero-initialise before first use; the buffer is reused by
 * later reads and only grows when a larger image arrives. Free with kat__image_cleanup. */
typedef struct kat__image {
  uint8_t *data;   /* [height, stride] u8: packed RGB24 (channels 3) or gray (channels 1) */
  int width;       /* pixels */
  int height;      /* pixels */
  int channels;    /* 3 for every read; writers accept 1 or 3 */
  size_t stride;   /* bytes per row (= width * channels) */
  size_t capacity; /* bytes allocated at data */
} kat__image;

/* Frees the buffer and zeroes the struct; a no-op on NULL. */
void kat__image_cleanup(kat__image *img);

/*
 * Decodes the PNG or JPEG at `path` (format by content, not by name) into `img` as RGB24
 * (gray, palette and alpha images are converted; alpha is dropped as PIL's convert("RGB") does).
 * Images wider or taller than 32768 are refused (KAT_EFORMAT). On failure `img` keeps its buffer
 * but its contents are undefined.
 */
int kat__image_read(const char *path, kat__image *img, kat__errbuf *eb);

/* Writes an 8-bit PNG: channels 1 (gray, e.g. a 0/255 mask) or 3 (RGB). `stride` is bytes per
 * row. Uses fast zlib settings (level 1). */
int kat__png_write(const char *path, const uint8_t *data, int width, int height, int channels,
                   size_t stride, kat__errbuf *eb);
/* Writes an 8-bit gray PNG of a mask: 255 where mask != 0, else 0 (width <= 32768). */
int kat__png_write_mask(const char *path, const uint8_t *mask, int width, int height, size_t stride,
                        kat__errbuf *eb);
/* Writes a baseline JPEG (RGB24, quality 1..100). */
int kat__jpeg_write(const char *path, const uint8_t *data, int width, int height, size_t stride,
                    int quality, kat__errbuf *eb);

/* A list of file paths, owned by the list. */
typedef struct kat__file_list {
  char **paths; /* [count] "<dir>/<name>", each kat__malloc'ed */
  size_t count;
} kat__file_list;

/*
 * Lists the *.jpg, *.jpeg and *.png files (case-insensitive extension) directly inside `dir`, in
 * natural order (kat__natural_cmp). An empty folder is not an error (count 0). Returns KAT_ENOENT
 * if the folder cannot be opened. The caller frees the list with kat__file_list_cleanup.
 */
int kat__image_dir_list(const char *dir, kat__file_list *out, kat__errbuf *eb);
/* Frees the list; a no-op on NULL. */
void kat__file_list_cleanup(kat__file_list *list);

/* Natural order: runs of digits compare by numeric value ("2.jpg" < "10.jpg", "007" == "7" then
 * broken by length), everything else byte by byte. Returns <0, 0 or >0. */
int kat__natural_cmp(const char *a, const char *b);

#endif /* KAT_MEDIA_IMAGE_IO_H */
