/* test-elements.c: "test-source" (a mask tensor and a word), "test-join" (joins words), and
 * the architecture "test-arch" whose template uses them. */
#include "test-elements.h"

G_DECLARE_FINAL_TYPE (TestSource, test_source, TEST, SOURCE, VlmElement)
struct _TestSource {
  VlmElement parent;
  int count;
  char *word;
};
G_DEFINE_FINAL_TYPE (TestSource, test_source, VLM_TYPE_ELEMENT)

enum { PROP_0, PROP_COUNT, PROP_WORD };

guint test_source_prepare_calls;

static gboolean
source_prepare (VlmElement *element, GError **error)
{
  test_source_prepare_calls++;
  return TRUE;
}

static gboolean
source_process (VlmElement *element, GError **error)
{
  TestSource *self = TEST_SOURCE (element);
  gint64 shape[] = { 1, self->count };
  g_autoptr (VlmTensor) mask = vlm_tensor_new (VLM_DTYPE_I64, 2, shape);
  gint64 *d = vlm_tensor_get_data_mut (mask);
  for (int i = 0; i < self->count; i++)
    d[i] = i % 2;
  vlm_element_set_output_tensor (element, "mask", mask);
  vlm_element_set_output_string (element, "word", self->word);
  return TRUE;
}

static void
source_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestSource *self = TEST_SOURCE (object);
  if (id == PROP_COUNT)
    self->count = g_value_get_int (value);
  else {
    g_free (self->word);
    self->word = g_value_dup_string (value);
  }
}

static void
source_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestSource *self = TEST_SOURCE (object);
  if (id == PROP_COUNT)
    g_value_set_int (value, self->count);
  else
    g_value_set_string (value, self->word);
}

static void
source_finalize (GObject *object)
{
  g_free (TEST_SOURCE (object)->word);
  G_OBJECT_CLASS (test_source_parent_class)->finalize (object);
}

static void
test_source_class_init (TestSourceClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = source_set_property;
  oc->get_property = source_get_property;
  oc->finalize = source_finalize;
  ec->process = source_process;
  ec->prepare = source_prepare;
  g_object_class_install_property (oc, PROP_COUNT,
      g_param_spec_int ("count", "Count", "mask length", 1, 100, 4, G_PARAM_READWRITE));
  g_object_class_install_property (oc, PROP_WORD,
      g_param_spec_string ("word", "Word", "the word", "hello", G_PARAM_READWRITE));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Test source", "test data");
  vlm_element_class_add_port (ec, "mask", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0, "an I64 mask");
  vlm_element_class_add_port (ec, "word", VLM_PORT_OUTPUT, G_TYPE_STRING, 0, "a word");
}

static void
test_source_init (TestSource *self)
{
  self->count = 4;
  self->word = g_strdup ("hello");
}

G_DECLARE_FINAL_TYPE (TestJoin, test_join, TEST, JOIN, VlmElement)
struct _TestJoin {
  VlmElement parent;
};
G_DEFINE_FINAL_TYPE (TestJoin, test_join, VLM_TYPE_ELEMENT)

static gboolean
join_process (VlmElement *element, GError **error)
{
  const char *a = vlm_element_get_input_string (element, "a");
  const char *b = vlm_element_get_input_string (element, "b");
  g_autofree char *joined = b ? g_strconcat (a, " ", b, NULL) : g_strdup (a);
  vlm_element_set_output_string (element, "text", joined);
  return TRUE;
}

static void
test_join_class_init (TestJoinClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  ec->process = join_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Test join", "joins two words");
  vlm_element_class_add_port (ec, "a", VLM_PORT_INPUT, G_TYPE_STRING, 0, "first");
  vlm_element_class_add_port (ec, "b", VLM_PORT_INPUT, G_TYPE_STRING, VLM_PORT_FLAG_OPTIONAL,
                              "second");
  vlm_element_class_add_port (ec, "text", VLM_PORT_OUTPUT, G_TYPE_STRING, 0, "joined");
}

static void
test_join_init (TestJoin *self)
{
}

static const char arch_template[] =
  "{\"nodes\": [{\"id\": \"src\", \"element\": \"test-source\"},"
  " {\"id\": \"join\", \"element\": \"test-join\","
  "  \"inputs\": {\"a\": \"src.word\", \"b\": \"@prompt\"}}]}";

static gboolean
test_plugin_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "test-source", test_source_get_type (), error)
         && vlm_plugin_register_element (plugin, "test-join", test_join_get_type (), error)
         && vlm_plugin_register_architecture (plugin, "test-arch", arch_template, error);
}

static const VlmPluginDesc test_plugin = {
  VLM_PLUGIN_ABI_VERSION, "test", "1.0", "LGPL-2.1-or-later", "test elements", test_plugin_init,
};

gboolean
test_elements_register (GError **error)
{
  return vlm_registry_register_static_plugin (vlm_registry_get_default (), &test_plugin, error);
}
