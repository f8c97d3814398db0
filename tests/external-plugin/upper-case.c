/* upper-case.c: a third-party plugin, built outside the source tree against the
 * vlm-pipeline-1.0 pkg-config file, as a plugin author would. */
#include <vlm/vlm.h>

G_DECLARE_FINAL_TYPE (ExampleUpperCase, example_upper_case, EXAMPLE, UPPER_CASE, VlmElement)

struct _ExampleUpperCase {
  VlmElement parent;
};

G_DEFINE_FINAL_TYPE (ExampleUpperCase, example_upper_case, VLM_TYPE_ELEMENT)

static gboolean
upper_case_process (VlmElement *element, GError **error)
{
  g_autofree char *upper = g_utf8_strup (vlm_element_get_input_string (element, "text"), -1);
  vlm_element_set_output_string (element, "text", upper);
  return TRUE;
}

static void
example_upper_case_class_init (ExampleUpperCaseClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  ec->process = upper_case_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Upper case",
                                  "Upper-cases text (an out-of-tree example)");
  vlm_element_class_add_port (ec, "text", VLM_PORT_INPUT, G_TYPE_STRING, 0, "text in");
  vlm_element_class_add_port (ec, "text", VLM_PORT_OUTPUT, G_TYPE_STRING, 0, "upper-cased");
}

static void
example_upper_case_init (ExampleUpperCase *self)
{
}

static gboolean
example_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "upper-case", example_upper_case_get_type (), error);
}

VLM_PLUGIN_DEFINE ("example", "1.0", "MIT", "An out-of-tree example plugin", example_init)
