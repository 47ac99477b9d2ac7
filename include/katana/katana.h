/*
 * katana: SAMURAI video object tracking on ONNX Runtime. Umbrella header.
 */
#ifndef KATANA_KATANA_H
#define KATANA_KATANA_H

#include "katana/common.h"
#include "katana/runtime.h"
#include "katana/system.h"

#endif
