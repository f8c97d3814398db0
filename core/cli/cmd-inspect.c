/* cmd-inspect.c: `vlm-pipeline inspect [ELEMENT]`: everything printed comes from the
 * registry and the elements' own declarations (metadata, ports, GObject properties). */
#include "vlm-cli.h"
#include "vlm-json-value.h"

static void
list_everything (VlmRegistry *registry)
{
  g_autoptr (GPtrArray) factories = vlm_registry_list_factories (registry);
  g_print ("Elements:\n");
  for (guint i = 0; i < factories->len; i++) {
    VlmElementFactory *f = g_ptr_array_index (factories, i);
    VlmPlugin *p = vlm_element_factory_get_plugin (f);
    g_print ("  %-22s %-13s %-10s %s\n", vlm_element_factory_get_name (f),
             vlm_element_kind_to_string (vlm_element_factory_get_kind (f)),
             p ? vlm_plugin_get_name (p) : "-", vlm_element_factory_get_description (f));
  }
  g_auto (GStrv) archs = vlm_registry_list_architectures (registry);
  g_print ("\nArchitectures (model_type):\n");
  for (guint i = 0; archs[i]; i++)
    g_print ("  %s\n", archs[i]);
  g_autoptr (GPtrArray) patches = vlm_registry_list_patches (registry);
  g_print ("\nPatches (in application order):\n");
  for (guint i = 0; i < patches->len; i++) {
    const VlmPatch *patch = g_ptr_array_index (patches, i);
    const char *const *types = vlm_patch_get_model_types (patch);
    g_autofree char *joined = types && types[0] ? g_strjoinv (",", (GStrv) types) : g_strdup ("all");
    g_print ("  %-22s %-13s order %-4d models %-16s %s\n", vlm_patch_get_name (patch),
             vlm_hook_to_string (vlm_patch_get_hook (patch)), vlm_patch_get_order (patch), joined,
             vlm_patch_get_description (patch));
  }
  g_autoptr (GPtrArray) plugins = vlm_registry_list_plugins (registry);
  g_print ("\nPlugins:\n");
  for (guint i = 0; i < plugins->len; i++) {
    VlmPlugin *p = g_ptr_array_index (plugins, i);
    g_print ("  %-16s %-8s %-18s %s\n", vlm_plugin_get_name (p), vlm_plugin_get_version (p),
             vlm_plugin_get_license (p), vlm_plugin_get_filename (p));
  }
  g_print ("\n%u elements, %u plugins\n", factories->len, plugins->len);
}

static char *
describe_range (GParamSpec *pspec)
{
  if (G_IS_PARAM_SPEC_INT (pspec))
    return g_strdup_printf ("%d..%d", G_PARAM_SPEC_INT (pspec)->minimum,
                            G_PARAM_SPEC_INT (pspec)->maximum);
  if (G_IS_PARAM_SPEC_UINT (pspec))
    return g_strdup_printf ("%u..%u", G_PARAM_SPEC_UINT (pspec)->minimum,
                            G_PARAM_SPEC_UINT (pspec)->maximum);
  if (G_IS_PARAM_SPEC_INT64 (pspec))
    return g_strdup_printf ("%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                            G_PARAM_SPEC_INT64 (pspec)->minimum, G_PARAM_SPEC_INT64 (pspec)->maximum);
  if (G_IS_PARAM_SPEC_UINT64 (pspec))
    return g_strdup_printf ("%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                            G_PARAM_SPEC_UINT64 (pspec)->minimum,
                            G_PARAM_SPEC_UINT64 (pspec)->maximum);
  if (G_IS_PARAM_SPEC_DOUBLE (pspec))
    return g_strdup_printf ("%g..%g", G_PARAM_SPEC_DOUBLE (pspec)->minimum,
                            G_PARAM_SPEC_DOUBLE (pspec)->maximum);
  if (G_IS_PARAM_SPEC_FLOAT (pspec))
    return g_strdup_printf ("%g..%g", G_PARAM_SPEC_FLOAT (pspec)->minimum,
                            G_PARAM_SPEC_FLOAT (pspec)->maximum);
  if (G_IS_PARAM_SPEC_ENUM (pspec)) {
    GEnumClass *klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < klass->n_values; i++)
      g_string_append_printf (s, "%s%s", i ? "|" : "", klass->values[i].value_nick);
    return g_string_free (s, FALSE);
  }
  return NULL;
}

static void
print_ports (VlmElementClass *klass, VlmPortDirection direction)
{
  g_autoptr (GPtrArray) ports = vlm_element_class_list_ports (klass, direction);
  g_print ("%s:\n", direction == VLM_PORT_INPUT ? "Inputs" : "Outputs");
  if (!ports->len)
    g_print ("  (none)\n");
  for (guint i = 0; i < ports->len; i++) {
    const VlmPortSpec *spec = g_ptr_array_index (ports, i);
    g_print ("  %-20s %-16s %s%s\n", spec->name, g_type_name (spec->value_type),
             (spec->flags & VLM_PORT_FLAG_OPTIONAL) ? "(optional) " : "", spec->description);
  }
}

static void
print_properties (GObjectClass *klass)
{
  guint n = 0;
  g_autofree GParamSpec **props = g_object_class_list_properties (klass, &n);
  g_print ("Properties:\n");
  if (!n)
    g_print ("  (none)\n");
  for (guint i = 0; i < n; i++) {
    GParamSpec *p = props[i];
    g_autofree char *def = vlm_gvalue_describe (g_param_spec_get_default_value (p));
    g_autofree char *range = describe_range (p);
    g_print ("  %-20s %-12s default %s%s%s%s\n      %s\n", p->name, g_type_name (p->value_type),
             def, range ? ", range " : "", range ? range : "",
             (p->flags & G_PARAM_WRITABLE) ? "" : " (read-only)", g_param_spec_get_blurb (p));
  }
}

static int
inspect_one (VlmRegistry *registry, const char *name)
{
  VlmElementFactory *f = vlm_registry_find_factory (registry, name);
  if (!f) {
    g_printerr ("vlm-pipeline: error: no element named '%s' (run `vlm-pipeline inspect` for "
                "the list)\n", name);
    return VLM_EXIT_RUNTIME;
  }
  VlmPlugin *p = vlm_element_factory_get_plugin (f);
  VlmElementClass *klass = g_type_class_peek (vlm_element_factory_get_element_type (f));
  g_print ("Element: %s\n  Long name:   %s\n  Kind:        %s\n  Description: %s\n"
           "  Plugin:      %s %s (%s)\n  Type:        %s\n\n",
           name, vlm_element_factory_get_long_name (f),
           vlm_element_kind_to_string (vlm_element_factory_get_kind (f)),
           vlm_element_factory_get_description (f), p ? vlm_plugin_get_name (p) : "-",
           p ? vlm_plugin_get_version (p) : "", p ? vlm_plugin_get_filename (p) : "",
           g_type_name (vlm_element_factory_get_element_type (f)));
  print_ports (klass, VLM_PORT_INPUT);
  print_ports (klass, VLM_PORT_OUTPUT);
  g_print ("\n");
  print_properties (G_OBJECT_CLASS (klass));
  return VLM_EXIT_OK;
}

int
vlm_cli_inspect (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[ELEMENT]");
  g_option_context_set_summary (ctx, "Without ELEMENT: list elements (kind, plugin, description), "
                                     "architectures, patches and plugins.\nWith ELEMENT: its "
                                     "ports and properties with types, defaults and ranges.");
  if (!vlm_cli_parse (ctx, &argc, &argv, &code))
    return code;
  if (argc > 2)
    return vlm_cli_usage_error (ctx, "inspect takes at most one element name");
  VlmRegistry *registry = vlm_registry_get_default ();
  if (argc == 2)
    return inspect_one (registry, argv[1]);
  list_everything (registry);
  return VLM_EXIT_OK;
}
