/*
 * Execution-provider profiles: presets, text options, and applying one module's config to ORT
 * session options (generic SessionOptionsAppendExecutionProvider and the V2 provider-option APIs).
 */
#ifndef KAT_RUNTIME_EP_H
#define KAT_RUNTIME_EP_H

#include <onnxruntime_c_api.h>

#include "core/core.h"
#include "katana/runtime.h"

/*
 * Configures `so` for `ep` (threads, spinning, optimisation level, provider). `label` names the
 * module in messages; `model_key` (hash + options) names cache files. Returns KAT_EPROVIDER with
 * ORT's reason when the provider cannot be added.
 */
int kat__ep_apply(const OrtApi *api, OrtSessionOptions *so, const kat_ep_config *ep,
                  const char *label, const char *model_key, kat__errbuf *eb);

/* Like kat_ep_available() but says why not in `eb`. */
int kat__ep_probe(kat_ep_kind kind, kat__errbuf *eb);

/* Returns "cpu", "cuda", "tensorrt" or "coreml". */
const char *kat__ep_short_name(kat_ep_kind kind);

#endif /* KAT_RUNTIME_EP_H */
