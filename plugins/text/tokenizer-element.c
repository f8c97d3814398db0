/* tokenizer-element.c: "tokenizer": text to an I64 [1, L] ids tensor; also hands
 * the loaded VlmTokenizer downstream (decoders detokenize with it). The
 * tokenizer is loaded on first use and kept while the settings stay the same. */
#include "text.h"

struct _VlmTokenizerElement {
  VlmElement parent;
  char *model;
  char *path;
  gboolean add_special;
  VlmTokenizer *tokenizer;
};

G_DEFINE_FINAL_TYPE (VlmTokenizerElement, vlm_tokenizer_element, VLM_TYPE_ELEMENT)

enum { PROP_0, PROP_MODEL, PROP_PATH, PROP_ADD_SPECIAL, N_PROPS };

static gboolean
tokenizer_element_load (VlmTokenizerElement *self, GError **error)
{
  if (self->tokenizer) return TRUE;
  if (self->path)
    self->tokenizer = vlm_tokenizer_new_from_file (self->path, error);
  else if (self->model)
    self->tokenizer = vlm_tokenizer_new_from_dir (self->model, error);
  else
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: set \"model\" (a folder) or \"path\" (a tokenizer.json)",
                 vlm_element_get_id (VLM_ELEMENT (self)));
  return self->tokenizer != NULL;
}

static gboolean
tokenizer_element_process (VlmElement *element, GError **error)
{
  VlmTokenizerElement *self = VLM_TOKENIZER_ELEMENT (element);
  if (!tokenizer_element_load (self, error)) return FALSE;
  const char *text = vlm_element_get_input_string (element, "text");
  gsize n = 0;
  g_autofree gint32 *ids = text ? vlm_tokenizer_encode (self->tokenizer, text, self->add_special, &n) : NULL;
  gint64 shape[2] = { 1, (gint64) n };
  VlmTensor *t = vlm_tensor_new (VLM_DTYPE_I64, 2, shape);
  gint64 *out = vlm_tensor_get_data_mut (t);
  for (gsize i = 0; i < n; i++) out[i] = ids[i];
  vlm_element_set_output_tensor (element, "ids", t);
  vlm_tensor_unref (t);
  vlm_element_set_output_object (element, "tokenizer", self->tokenizer);
  return TRUE;
}

static void
tokenizer_element_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  VlmTokenizerElement *self = VLM_TOKENIZER_ELEMENT (object);
  switch (id) {
  case PROP_MODEL:
    g_free (self->model);
    self->model = g_value_dup_string (value);
    g_clear_object (&self->tokenizer);
    break;
  case PROP_PATH:
    g_free (self->path);
    self->path = g_value_dup_string (value);
    g_clear_object (&self->tokenizer);
    break;
  case PROP_ADD_SPECIAL: self->add_special = g_value_get_boolean (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
tokenizer_element_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmTokenizerElement *self = VLM_TOKENIZER_ELEMENT (object);
  switch (id) {
  case PROP_MODEL: g_value_set_string (value, self->model); break;
  case PROP_PATH: g_value_set_string (value, self->path); break;
  case PROP_ADD_SPECIAL: g_value_set_boolean (value, self->add_special); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
tokenizer_element_finalize (GObject *object)
{
  VlmTokenizerElement *self = VLM_TOKENIZER_ELEMENT (object);
  g_free (self->model);
  g_free (self->path);
  g_clear_object (&self->tokenizer);
  G_OBJECT_CLASS (vlm_tokenizer_element_parent_class)->finalize (object);
}

static void
vlm_tokenizer_element_class_init (VlmTokenizerElementClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = tokenizer_element_set_property;
  oc->get_property = tokenizer_element_get_property;
  oc->finalize = tokenizer_element_finalize;
  ec->process = tokenizer_element_process;
  g_object_class_install_property (oc, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Model folder holding tokenizer.json (and its config files)",
                           NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_PATH,
      g_param_spec_string ("path", "Path", "A tokenizer.json file (instead of model; no bos/eos settings)",
                           NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_ADD_SPECIAL,
      g_param_spec_boolean ("add-special-tokens", "Add special tokens",
                            "Let the post-processor add its special tokens (bos...)", TRUE,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_TOKENIZER, "Tokenizer",
                                  "Encodes text with a Hugging Face tokenizer.json");
  vlm_element_class_add_port (ec, "text", VLM_PORT_INPUT, G_TYPE_STRING, VLM_PORT_FLAG_OPTIONAL,
                              "text to encode (unconnected: only the tokenizer is output)");
  vlm_element_class_add_port (ec, "ids", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
                              "token ids, I64 [1, L]");
  vlm_element_class_add_port (ec, "tokenizer", VLM_PORT_OUTPUT, VLM_TYPE_TOKENIZER, VLM_PORT_FLAG_NONE,
                              "the loaded tokenizer, for decoding downstream");
}

static void
vlm_tokenizer_element_init (VlmTokenizerElement *self)
{
  self->add_special = TRUE;
}
