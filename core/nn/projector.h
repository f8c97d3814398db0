/* projector.h: what the multi-modal projector elements share: their class
 * declaration and the checkpoint prefix of their weights. Internal. */
#pragma once

#include "vlm/vlm-model-element.h"
#include "weights/weight-binder.h"

G_BEGIN_DECLS

/* Sets a projector's metadata and declares its ports: the input vision_hidden (the
 * vision tower's features, described by @input) and the output image_features (rows
 * in the text width, described by @output). */
void              vlm_projector_class_declare (VlmElementClass *klass, const char *long_name,
                                               const char *description, const char *input,
                                               const char *output);

/* A request for the weights under "multi_modal_projector." (transformers 5:
 * "model.multi_modal_projector.") of @dir's checkpoint, shared with the element's
 * pipeline. */
VlmWeightRequest *vlm_projector_request_weights (VlmModelElement *self, VlmModelDir *dir,
                                                 GError **error);

G_END_DECLS
