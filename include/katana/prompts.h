/*
 * Prompt files (docs/internals/prompts.md): a JSON list of prompts for several objects, as
 * `katana track --prompts FILE` and the reference (tools/reference/katana_reference/run.py)
 * read them:
 *
 *   [{"frame": 0, "obj": 0, "box": [x, y, w, h]},
 *    {"frame": 0, "obj": 1, "points": [[x, y, 1], [x, y, 0]]},
 *    {"frame": 24, "obj": 0, "box": [x, y, w, h], "points": [[x, y, 1]]},
 *    {"frame": 30, "obj": 2, "mask": "path.png"}]
 *
 * Keys: "frame" (integer >= 0), "obj" (integer >= 0), then "box" (x, y, w, h in source pixels,
 * finite, w and h > 0), "points" (1..KAT_MAX_PROMPT_POINTS of [x, y, label], finite, label 1
 * positive or 0 negative), both, or "mask" alone (a PNG or JPEG path, relative to the JSON
 * file's folder; nonzero = object); optional "append": true (add the points to the frame's
 * earlier prompt for the object; not with a box or a mask). Any other key is refused.
 *
 * Thread-safety: kat_prompts_load and kat_prompts_free are reentrant; a loaded list is immutable
 * and may be read from any thread.
 */
#ifndef KATANA_PROMPTS_H
#define KATANA_PROMPTS_H

#include <stddef.h>
#include <stdint.h>

#include "katana/common.h"
#include "katana/tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One entry of a prompts file, ready for kat_tracker_add_prompt / kat_stream_add_prompt. */
typedef struct kat_prompt_entry {
  int64_t frame;
  int obj_id;
  kat_prompt prompt; /* prompt.mask, when set, is owned by the list ([mask_height, mask_stride] u8,
                        255 = object, 0 = background) */
} kat_prompt_entry;

typedef struct kat_prompt_list {
  kat_prompt_entry *entries; /* [count], in file order, owned by the list */
  size_t count;
} kat_prompt_list;

/*
 * Reads the prompts file at `path` (at most 4 MiB) and every mask it names. On success *out owns
 * a new list (free with kat_prompts_free). On failure *out is NULL, nothing stays allocated, and
 * `err` (`err_size` bytes, may be NULL/0) holds "<path>: prompt <index>: <what is wrong>" (or
 * "<path>: <why>" for the file as a whole): KAT_EINVAL for a NULL argument, KAT_ENOENT / KAT_EIO
 * when the file cannot be read, KAT_EFORMAT for bad JSON or a bad entry (including a mask file
 * that cannot be decoded or has no object pixel), KAT_ENOMEM. Frame sizes are not known here: the
 * caller checks each mask's size against the video (and the library checks points against it).
 */
KAT_API int kat_prompts_load(const char *path, kat_prompt_list **out, char *err, size_t err_size);

/* Frees the list and its masks; NULL is a no-op. */
KAT_API void kat_prompts_free(kat_prompt_list *list);

#ifdef __cplusplus
}
#endif
#endif /* KATANA_PROMPTS_H */
