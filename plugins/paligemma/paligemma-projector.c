/* paligemma-projector.c: PaliGemmaMultiModalProjector as an element: one linear layer
 * from the SigLIP width into the text width, then division by sqrt(text hidden) as
 * transformers 4.x get_image_features does (the decoder's normalizer multiplies the
 * merged rows back, see VlmDecoderConfig.scale_image_features). */
#include "paligemma-elements.h"
#include "compute/ops.h"
#include "nn/projector.h"

#include <math.h>

struct _PaligemmaProjector {
  VlmModelElement parent;
  gint64 vision_dim, text_dim;
  VlmLinear proj;       /* [text_dim, vision_dim] with bias */
};

G_DEFINE_FINAL_TYPE (PaligemmaProjector, paligemma_projector, VLM_TYPE_MODEL_ELEMENT)

static gboolean
projector_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  PaligemmaProjector *self = PALIGEMMA_PROJECTOR (element);
  /* PaliGemmaConfig: the projection maps the vision width to projection_dim, which
   * equals the text hidden size (2048 in the released checkpoints). */
  gint64 vdim = vlm_model_dir_get_int (dir, "vision_config", "hidden_size", 768);
  gint64 tdim = vlm_model_dir_get_int (dir, "text_config", "hidden_size", 2048);
  if (vdim <= 0 || tdim <= 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: the vision and text hidden sizes must be positive",
                 vlm_model_dir_get_path (dir));
    return FALSE;
  }
  g_autoptr (VlmWeightRequest) r = vlm_projector_request_weights (element, dir, error);
  if (!r)
    return FALSE;
  VlmLinear proj = { 0 };
  vlm_weight_request_linear (r, "linear", tdim, vdim, VLM_WEIGHT_BIAS, &proj);
  if (!vlm_weight_request_finish (r, error)) {
    vlm_linear_clear (&proj);
    return FALSE;
  }
  vlm_linear_clear (&self->proj);
  self->proj = proj;
  self->vision_dim = vdim;
  self->text_dim = tdim;
  return TRUE;
}

static gboolean
projector_process (VlmElement *element, GError **error)
{
  PaligemmaProjector *self = PALIGEMMA_PROJECTOR (element);
  g_autoptr (VlmTensor) x = vlm_element_get_input_f32 (element, "vision_hidden", 3,
                                                       "n_images, patches", self->vision_dim, error);
  if (!x)
    return FALSE;
  gint64 rows = vlm_tensor_get_dim (x, 0) * vlm_tensor_get_dim (x, 1);
  g_autoptr (VlmTensor) out = vlm_tensor_new (VLM_DTYPE_F32, 2,
                                              (gint64[]) { rows, self->text_dim });
  float *o = vlm_tensor_get_data_mut (out);
  if (rows > 0)
    vlm_linear_forward (&self->proj, vlm_tensor_get_data (x), rows, o);
  vlm_scale_f32 (o, 1.0f / sqrtf ((float) self->text_dim), rows * self->text_dim);
  vlm_element_set_output_tensor (element, "image_features", out);
  return TRUE;
}

static void
paligemma_projector_finalize (GObject *object)
{
  PaligemmaProjector *self = PALIGEMMA_PROJECTOR (object);
  vlm_linear_clear (&self->proj);
  G_OBJECT_CLASS (paligemma_projector_parent_class)->finalize (object);
}

static void
paligemma_projector_class_init (PaligemmaProjectorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = paligemma_projector_finalize;
  ec->process = projector_process;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = projector_load;
  vlm_projector_class_declare (ec, "PaliGemma projector",
                               "Linear projection of the SigLIP features into the text width, "
                               "divided by sqrt(text hidden)",
                               "F32 [n_images, patches, D_vision] from the vision tower",
                               "F32 [n_images * patches, D_text], images in order");
}

static void
paligemma_projector_init (PaligemmaProjector *self)
{
}
