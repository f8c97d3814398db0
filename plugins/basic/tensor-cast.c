/* tensor-cast.c: converts a tensor to another dtype, refusing values that do not fit. */
#include "basic.h"

struct _VlmTensorCast {
  VlmElement parent;
  VlmDType dtype;
};

G_DEFINE_FINAL_TYPE (VlmTensorCast, vlm_tensor_cast, VLM_TYPE_ELEMENT)

enum { PROP_0, PROP_DTYPE };

static gboolean
tensor_cast_process (VlmElement *element, GError **error)
{
  VlmTensor *in = vlm_element_get_input_tensor (element, "tensor");
  g_autoptr (VlmTensor) out = vlm_tensor_to_dtype (in, VLM_TENSOR_CAST (element)->dtype, error);
  if (!out)
    return FALSE;
  vlm_element_set_output_tensor (element, "tensor", out);
  return TRUE;
}

static void
tensor_cast_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  if (id == PROP_DTYPE)
    VLM_TENSOR_CAST (object)->dtype = g_value_get_enum (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
tensor_cast_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  if (id == PROP_DTYPE)
    g_value_set_enum (value, VLM_TENSOR_CAST (object)->dtype);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
vlm_tensor_cast_class_init (VlmTensorCastClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = tensor_cast_set_property;
  oc->get_property = tensor_cast_get_property;
  ec->process = tensor_cast_process;
  g_object_class_install_property (oc, PROP_DTYPE,
      g_param_spec_enum ("dtype", "Dtype", "Target element type", VLM_TYPE_DTYPE, VLM_DTYPE_F32,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Tensor cast",
                                  "Converts a tensor to another dtype, checking every value");
  vlm_element_class_add_port (ec, "tensor", VLM_PORT_INPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
                              "the tensor to convert");
  vlm_element_class_add_port (ec, "tensor", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
                              "the converted tensor");
}

static void
vlm_tensor_cast_init (VlmTensorCast *self)
{
  self->dtype = VLM_DTYPE_F32;
}
