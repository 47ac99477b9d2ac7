/*
 * katana: SAMURAI video object tracking on ONNX Runtime. Umbrella header.
 */
#ifndef KATANA_KATANA_H
#define KATANA_KATANA_H

#include "katana/common.h"
#include "katana/media.h"
#include "katana/model.h"
#include "katana/prompts.h"
#include "katana/runtime.h"
#include "katana/stream.h"
#include "katana/system.h"
#include "katana/tracker.h"

#endif
