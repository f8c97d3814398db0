/* tensor-info.c: describes tensors (names, dtypes, shapes, value ranges) as text. */
#include "basic.h"

#include <math.h>

struct _VlmTensorInfo {
  VlmElement parent;
};

G_DEFINE_FINAL_TYPE (VlmTensorInfo, vlm_tensor_info, VLM_TYPE_ELEMENT)

static void
describe (GString *out, const char *name, VlmTensor *t)
{
  g_autofree char *d = vlm_tensor_describe (t);
  double lo = INFINITY, hi = -INFINITY;
  gint64 n = vlm_tensor_get_numel (t);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (t, VLM_DTYPE_F64, &error);
  const double *v = vlm_tensor_get_data (f);
  for (gint64 i = 0; i < n; i++) {
    lo = MIN (lo, v[i]);
    hi = MAX (hi, v[i]);
  }
  g_string_append_printf (out, "%s: %s", name, d);
  if (n)
    g_string_append_printf (out, " min %g max %g", lo, hi);
  g_string_append_c (out, '\n');
}

static gboolean
tensor_info_process (VlmElement *element, GError **error)
{
  GString *out = g_string_new (NULL);
  VlmTensor *t = vlm_element_get_input_tensor (element, "tensor");
  VlmTensorSet *set = vlm_element_get_input_tensor_set (element, "tensors");
  if (!t && !set) {
    g_string_free (out, TRUE);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "connect 'tensor' or 'tensors'");
    return FALSE;
  }
  if (t)
    describe (out, vlm_tensor_get_name (t) ? vlm_tensor_get_name (t) : "tensor", t);
  for (guint i = 0; set && i < vlm_tensor_set_get_size (set); i++)
    describe (out, vlm_tensor_set_get_nth_name (set, i), vlm_tensor_set_get_nth (set, i));
  vlm_element_set_output_string (element, "text", out->str);
  g_string_free (out, TRUE);
  return TRUE;
}

static void
vlm_tensor_info_class_init (VlmTensorInfoClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  ec->process = tensor_info_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Tensor info",
                                  "Describes tensors: dtype, shape and value range");
  vlm_element_class_add_port (ec, "tensor", VLM_PORT_INPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "one tensor");
  vlm_element_class_add_port (ec, "tensors", VLM_PORT_INPUT, VLM_TYPE_TENSOR_SET,
                              VLM_PORT_FLAG_OPTIONAL, "a set of tensors");
  vlm_element_class_add_port (ec, "text", VLM_PORT_OUTPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
                              "one line per tensor");
}

static void
vlm_tensor_info_init (VlmTensorInfo *self)
{
}
