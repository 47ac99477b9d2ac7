/*
 * The JSON writer of katana's reports (write.h).
 */
#include "tools/json/write.h"

#include <math.h>

void kat__json_write_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      fputc('\\', f);
      fputc(*p, f);
    } else if (*p < 0x20) {
      fprintf(f, "\\u%04x", *p);
    } else {
      fputc(*p, f);
    }
  }
  fputc('"', f);
}

void kat__json_write_num(FILE *f, double v, int decimals) {
  if (isfinite(v)) {
    fprintf(f, "%.*f", decimals, v);
  } else {
    fputs("null", f);
  }
}
