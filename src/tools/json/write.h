/*
 * The one JSON writer of katana's reports (katana bench, katana eval): strings and numbers onto a
 * stdio stream; the callers lay out objects and arrays. Reading JSON is src/model/json.h's.
 *
 * UNSTABLE: an internal header of katana_tools. Thread-safety: reentrant (the stream is the
 * caller's).
 */
#ifndef KAT_TOOLS_JSON_WRITE_H
#define KAT_TOOLS_JSON_WRITE_H

#include <stdio.h>

/*
 * kat__json_write_str writes s as a JSON string (quotes, backslashes and control characters
 * escaped; other bytes, UTF-8 included, as they are). kat__json_write_num writes v with
 * `decimals` digits after the point ("%.*f"), or null when v is not finite (NaN: not measured).
 */
void kat__json_write_str(FILE *f, const char *s);
void kat__json_write_num(FILE *f, double v, int decimals);

#endif /* KAT_TOOLS_JSON_WRITE_H */
