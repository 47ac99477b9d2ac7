/*
 * The prompts-list parser behind kat_prompts_load (include/katana/prompts.h), on an already
 * parsed JSON value, so that a prompts file and the inline "prompts" of a batch manifest line
 * (src/tools/batch/list.c) go through one function.
 *
 * Thread-safety: a plain function; no shared state.
 */
#ifndef KAT_TRACK_PROMPTS_FILE_H
#define KAT_TRACK_PROMPTS_FILE_H

#include "core/core.h"
#include "katana/prompts.h"
#include "model/json.h"

/*
 * Parses the JSON list `root` (borrowed) of prompts into a new list: every entry as the format
 * of include/katana/prompts.h says, mask paths relative to the folder `base` (not NULL).
 * `origin` (not NULL) starts every message: "<origin>: prompt <index>: <what is wrong>". On
 * success *out owns the list (free with kat_prompts_free); on failure *out is NULL, nothing stays
 * allocated and `eb` holds the message: KAT_EFORMAT (not a list, empty, a bad entry, a mask that
 * cannot be decoded) or KAT_ENOMEM.
 */
int kat__prompts_from_json(const kat__json *root, const char *origin, const char *base,
                           kat_prompt_list **out, kat__errbuf *eb);

#endif /* KAT_TRACK_PROMPTS_FILE_H */
