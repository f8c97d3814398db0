/* text-sink.c: writes text to a file, or hands it to the application (stdout in the CLI). */
#include "basic.h"

struct _VlmTextSink {
  VlmElement parent;
  char *location;
  gboolean newline;
};

G_DEFINE_FINAL_TYPE (VlmTextSink, vlm_text_sink, VLM_TYPE_ELEMENT)

enum { PROP_0, PROP_LOCATION, PROP_NEWLINE, N_PROPS };

static gboolean
text_sink_process (VlmElement *element, GError **error)
{
  VlmTextSink *self = VLM_TEXT_SINK (element);
  const char *text = vlm_element_get_input_string (element, "text");
  g_autofree char *line = NULL;
  if (!text)
    text = "";
  if (self->newline && !g_str_has_suffix (text, "\n"))
    text = line = g_strconcat (text, "\n", NULL);
  if (self->location) {
    GError *local = NULL;
    if (!g_file_set_contents (self->location, text, -1, &local)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s", local->message);
      g_error_free (local);
      return FALSE;
    }
    return TRUE;
  }
  vlm_element_emit_text (element, text);
  return TRUE;
}

static void
text_sink_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  VlmTextSink *self = VLM_TEXT_SINK (object);
  switch (id) {
  case PROP_LOCATION:
    g_free (self->location);
    self->location = g_value_dup_string (value);
    break;
  case PROP_NEWLINE: self->newline = g_value_get_boolean (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
text_sink_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmTextSink *self = VLM_TEXT_SINK (object);
  switch (id) {
  case PROP_LOCATION: g_value_set_string (value, self->location); break;
  case PROP_NEWLINE: g_value_set_boolean (value, self->newline); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
text_sink_finalize (GObject *object)
{
  g_free (VLM_TEXT_SINK (object)->location);
  G_OBJECT_CLASS (vlm_text_sink_parent_class)->finalize (object);
}

static void
vlm_text_sink_class_init (VlmTextSinkClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = text_sink_set_property;
  oc->get_property = text_sink_get_property;
  oc->finalize = text_sink_finalize;
  ec->process = text_sink_process;
  g_object_class_install_property (oc, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
                           "File to write; unset hands the text to the application (stdout)",
                           NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_NEWLINE,
      g_param_spec_boolean ("newline", "Newline", "End the text with a newline", TRUE,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_SINK, "Text sink",
                                  "Writes text to a file or to the application");
  vlm_element_class_add_port (ec, "text", VLM_PORT_INPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
                              "the text to write");
}

static void
vlm_text_sink_init (VlmTextSink *self)
{
  self->newline = TRUE;
}
