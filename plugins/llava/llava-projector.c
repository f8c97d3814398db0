/* llava-projector.c: LlavaMultiModalProjector as an element: linear_1, the
 * projector_hidden_act (exact-erf GELU for LLaVA-1.5), linear_2. */
#include "llava-elements.h"
#include "compute/ops.h"
#include "nn/projector.h"

struct _LlavaProjector {
  VlmModelElement parent;
  gint64 vision_dim, text_dim;
  VlmActivation act;
  VlmLinear l1, l2;     /* [text, vision], [text, text], with biases */
};

G_DEFINE_FINAL_TYPE (LlavaProjector, llava_projector, VLM_TYPE_MODEL_ELEMENT)

static gboolean
projector_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  LlavaProjector *self = LLAVA_PROJECTOR (element);
  const char *model = vlm_model_dir_get_path (dir);
  /* LlavaConfig defaults: CLIP ViT-L (1024) into Llama (4096), GELU. */
  gint64 vdim = vlm_model_dir_get_int (dir, "vision_config", "hidden_size", 1024);
  gint64 tdim = vlm_model_dir_get_int (dir, "text_config", "hidden_size", 4096);
  const char *act_name = vlm_model_dir_get_string (dir, NULL, "projector_hidden_act", "gelu");
  VlmActivation act;
  if (!vlm_activation_from_name (act_name, &act)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s/config.json: projector_hidden_act \"%s\" is not supported", model, act_name);
    return FALSE;
  }
  if (vdim <= 0 || tdim <= 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s/config.json: the vision and text hidden sizes must be positive", model);
    return FALSE;
  }
  g_autoptr (VlmWeightRequest) r = vlm_projector_request_weights (element, dir, error);
  if (!r)
    return FALSE;
  VlmLinear l1 = { 0 }, l2 = { 0 };
  vlm_weight_request_linear (r, "linear_1", tdim, vdim, VLM_WEIGHT_BIAS, &l1);
  vlm_weight_request_linear (r, "linear_2", tdim, tdim, VLM_WEIGHT_BIAS, &l2);
  if (!vlm_weight_request_finish (r, error)) {
    vlm_linear_clear (&l1);
    vlm_linear_clear (&l2);
    return FALSE;
  }
  vlm_linear_clear (&self->l1);
  vlm_linear_clear (&self->l2);
  self->l1 = l1;
  self->l2 = l2;
  self->act = act;
  self->vision_dim = vdim;
  self->text_dim = tdim;
  return TRUE;
}

static gboolean
projector_process (VlmElement *element, GError **error)
{
  LlavaProjector *self = LLAVA_PROJECTOR (element);
  g_autoptr (VlmTensor) x = vlm_element_get_input_f32 (element, "vision_hidden", 3,
                                                       "n_images, tokens", self->vision_dim, error);
  if (!x)
    return FALSE;
  gint64 rows = vlm_tensor_get_dim (x, 0) * vlm_tensor_get_dim (x, 1), D = self->text_dim;
  g_autofree float *h = g_new (float, MAX (rows * D, 1));
  g_autoptr (VlmTensor) out = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { rows, D });
  if (rows > 0) {
    vlm_linear_forward (&self->l1, vlm_tensor_get_data (x), rows, h);
    vlm_activate (h, rows * D, self->act);
    vlm_linear_forward (&self->l2, h, rows, vlm_tensor_get_data_mut (out));
  }
  vlm_element_set_output_tensor (element, "image_features", out);
  return TRUE;
}

static void
llava_projector_finalize (GObject *object)
{
  LlavaProjector *self = LLAVA_PROJECTOR (object);
  vlm_linear_clear (&self->l1);
  vlm_linear_clear (&self->l2);
  G_OBJECT_CLASS (llava_projector_parent_class)->finalize (object);
}

static void
llava_projector_class_init (LlavaProjectorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = llava_projector_finalize;
  ec->process = projector_process;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = projector_load;
  vlm_projector_class_declare (ec, "LLaVA projector",
                               "Two-layer MLP (linear, projector_hidden_act, linear) into the "
                               "text width",
                               "F32 [n_images, tokens, D_vision] from the vision tower",
                               "F32 [n_images * tokens, D_text], images in order");
}

static void
llava_projector_init (LlavaProjector *self)
{
}
