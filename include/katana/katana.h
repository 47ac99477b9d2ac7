/*
 * katana: SAMURAI video object tracking on ONNX Runtime. Umbrella header.
 *
 * Stability: the API and ABI are unstable before 1.0. Any 0.x minor release may change function
 * signatures and struct layouts; the SONAME (libkatana.so.0.MINOR) keeps a program from loading
 * a library of another minor release. Build against the headers you run with and fill option
 * structs with their *_init functions (docs/abi.md).
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
