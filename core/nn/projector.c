/* projector.c: the class declaration and weight prefix of the multi-modal
 * projector elements. */
#include "nn/projector.h"

void
vlm_projector_class_declare (VlmElementClass *klass, const char *long_name,
                             const char *description, const char *input, const char *output)
{
  vlm_element_class_set_metadata (klass, VLM_ELEMENT_KIND_PROJECTOR, long_name, description);
  vlm_element_class_add_port (klass, "vision_hidden", VLM_PORT_INPUT, VLM_TYPE_TENSOR, 0, input);
  vlm_element_class_add_port (klass, "image_features", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              output);
}

VlmWeightRequest *
vlm_projector_request_weights (VlmModelElement *self, VlmModelDir *dir, GError **error)
{
  VlmPipeline *pipeline = vlm_element_get_pipeline (VLM_ELEMENT (self));
  g_autoptr (VlmWeights) weights = vlm_weights_open (dir, pipeline, error);
  if (!weights)
    return NULL;
  const char *const aliases[] = { "model.multi_modal_projector.", NULL };
  return vlm_weight_request_new (weights, "multi_modal_projector.", aliases);
}
