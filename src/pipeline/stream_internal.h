/*
 * Test hooks of the stream: fault injection per stage. Not part of the public API.
 */
#ifndef KAT_PIPELINE_STREAM_INTERNAL_H
#define KAT_PIPELINE_STREAM_INTERNAL_H

#include <stdint.h>

#include "katana/stream.h"

typedef enum kat__stream_stage {
  KAT__STAGE_DECODE = 0,
  KAT__STAGE_ENCODE = 1,
  KAT__STAGE_TRACK = 2
} kat__stream_stage;

/*
 * Makes `stage` fail with `status` and message "injected fault" when it reaches the frame with
 * source index `frame`. Call before the first kat_stream_next/push; a test hook only.
 */
void kat__stream_inject_fault(kat_stream *s, kat__stream_stage stage, int64_t frame, int status);

#endif /* KAT_PIPELINE_STREAM_INTERNAL_H */
