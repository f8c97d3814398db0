/* vlm-registry.c: finds plugin modules, checks their descriptors, keeps what they register. */
#include "vlm-config.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-registry.h"
#include "vlm-registry-private.h"

#include <gmodule.h>
#include <string.h>

typedef struct {
  char *json;
  VlmPlugin *plugin;
} Architecture;

struct _VlmRegistry {
  GObject parent;
  GMutex lock;
  gboolean loaded;
  GPtrArray *plugins;         /* VlmPlugin* */
  GPtrArray *failures;        /* "FILE: reason" */
  GHashTable *factories;      /* name -> VlmElementFactory* */
  GHashTable *architectures;  /* model_type -> Architecture* */
  GHashTable *patches;        /* name -> VlmPatch* */
  GHashTable *loaded_files;   /* canonical path -> TRUE */
  /* Registrations of the plugin whose init is running; committed when it succeeds. */
  GPtrArray *pending_factories;
  GPtrArray *pending_architectures; /* model_type strings */
  GPtrArray *pending_patches;       /* names */
};

G_DEFINE_FINAL_TYPE (VlmRegistry, vlm_registry, G_TYPE_OBJECT)

static void
architecture_free (gpointer p)
{
  Architecture *a = p;
  g_free (a->json);
  g_clear_object (&a->plugin);
  g_free (a);
}

static void
vlm_registry_class_init (VlmRegistryClass *klass)
{
}

static void
vlm_registry_init (VlmRegistry *self)
{
  g_mutex_init (&self->lock);
  self->plugins = g_ptr_array_new_with_free_func (g_object_unref);
  self->failures = g_ptr_array_new_with_free_func (g_free);
  self->factories = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->architectures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               architecture_free);
  self->patches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) vlm_patch_free_internal);
  self->loaded_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * vlm_registry_get_default:
 *
 * The process-wide registry. Plugins are loaded on first use of
 * vlm_registry_ensure_loaded() (the lookup functions call it).
 *
 * Returns: (transfer none): the registry
 */
VlmRegistry *
vlm_registry_get_default (void)
{
  static gsize registry = 0;
  if (g_once_init_enter (&registry)) {
    VlmRegistry *r = g_object_new (VLM_TYPE_REGISTRY, NULL);
    g_once_init_leave (&registry, (gsize) r);
  }
  return (VlmRegistry *) registry;
}

static void
record_failure (VlmRegistry *self, const char *filename, const char *reason)
{
  g_ptr_array_add (self->failures, g_strdup_printf ("%s: %s", filename, reason));
  g_warning ("skipping plugin %s: %s", filename, reason);
}

static void
discard_pending (VlmRegistry *self)
{
  for (guint i = 0; i < self->pending_factories->len; i++)
    g_hash_table_remove (self->factories,
                         vlm_element_factory_get_name (g_ptr_array_index (self->pending_factories, i)));
  for (guint i = 0; i < self->pending_architectures->len; i++)
    g_hash_table_remove (self->architectures, g_ptr_array_index (self->pending_architectures, i));
  for (guint i = 0; i < self->pending_patches->len; i++)
    g_hash_table_remove (self->patches, g_ptr_array_index (self->pending_patches, i));
}

/* Runs a plugin's init; what it registered is kept only if it succeeds. */
static gboolean
init_plugin (VlmRegistry *self, const VlmPluginDesc *desc, const char *filename, GError **error)
{
  for (guint i = 0; i < self->plugins->len; i++) {
    VlmPlugin *other = g_ptr_array_index (self->plugins, i);
    if (g_str_equal (vlm_plugin_get_name (other), desc->name)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "a plugin named '%s' is already loaded%s%s",
                   desc->name, vlm_plugin_get_filename (other) ? " from " : "",
                   vlm_plugin_get_filename (other) ? vlm_plugin_get_filename (other) : "");
      return FALSE;
    }
  }
  g_autoptr (VlmPlugin) plugin = vlm_plugin_new_internal (desc, filename);
  self->pending_factories = g_ptr_array_new ();
  self->pending_architectures = g_ptr_array_new_with_free_func (g_free);
  self->pending_patches = g_ptr_array_new_with_free_func (g_free);
  GError *local = NULL;
  gboolean ok = desc->init (plugin, &local);
  if (!ok)
    discard_pending (self);
  g_clear_pointer (&self->pending_factories, g_ptr_array_unref);
  g_clear_pointer (&self->pending_architectures, g_ptr_array_unref);
  g_clear_pointer (&self->pending_patches, g_ptr_array_unref);
  if (!ok) {
    if (!local)
      local = g_error_new (VLM_ERROR, VLM_ERROR_PLUGIN, "no reason given");
    g_propagate_error (error, local);
    return FALSE;
  }
  g_ptr_array_add (self->plugins, g_steal_pointer (&plugin));
  return TRUE;
}

/**
 * vlm_registry_load_plugin:
 * @registry: the registry
 * @filename: a plugin module
 * @error: return location for a #GError
 *
 * Opens @filename, checks its descriptor (ABI version, name, init) and runs
 * its init. On failure nothing it registered is kept.
 *
 * Returns: %TRUE if the plugin was loaded (or already was)
 */
gboolean
vlm_registry_load_plugin (VlmRegistry *registry, const char *filename, GError **error)
{
  VlmRegistry *self = registry;
  g_autofree char *canonical = g_canonicalize_filename (filename, NULL);
  if (g_hash_table_contains (self->loaded_files, canonical))
    return TRUE;

  GModule *module = g_module_open (canonical, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (!module) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "%s: cannot open: %s", filename,
                 g_module_error ());
    return FALSE;
  }
  const VlmPluginDesc *desc = NULL;
  if (!g_module_symbol (module, "vlm_plugin_desc", (gpointer *) &desc) || !desc) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN,
                 "%s: not a vlm-pipeline plugin (no vlm_plugin_desc symbol)", filename);
    g_module_close (module);
    return FALSE;
  }
  if (desc->abi_version != VLM_PLUGIN_ABI_VERSION) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN,
                 "%s: built for plugin ABI version %u, this library has version %d", filename,
                 desc->abi_version, VLM_PLUGIN_ABI_VERSION);
    g_module_close (module);
    return FALSE;
  }
  if (!desc->name || !*desc->name || !desc->init) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "%s: descriptor lacks a name or init",
                 filename);
    g_module_close (module);
    return FALSE;
  }
  GError *local = NULL;
  if (!init_plugin (self, desc, canonical, &local)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "%s: init failed: %s", filename,
                 local->message);
    g_clear_error (&local);
    /* Its types may be registered already: keep the code mapped. */
    g_module_make_resident (module);
    return FALSE;
  }
  g_module_make_resident (module);
  g_hash_table_add (self->loaded_files, g_steal_pointer (&canonical));
  return TRUE;
}

/**
 * vlm_registry_register_static_plugin:
 * @registry: the registry
 * @desc: a plugin descriptor linked into the application
 * @error: return location for a #GError
 *
 * Registers a plugin that is part of the program rather than a module file,
 * as GStreamer's gst_plugin_register_static() does.
 *
 * Returns: %TRUE if its init succeeded
 */
gboolean
vlm_registry_register_static_plugin (VlmRegistry *registry, const VlmPluginDesc *desc,
                                     GError **error)
{
  vlm_registry_ensure_loaded (registry);
  if (desc->abi_version != VLM_PLUGIN_ABI_VERSION || !desc->name || !desc->init) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "static plugin %s: invalid descriptor",
                 desc->name ? desc->name : "(unnamed)");
    return FALSE;
  }
  return init_plugin (registry, desc, NULL, error);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static void
scan_directory (VlmRegistry *self, const char *directory, int depth)
{
  g_autoptr (GDir) dir = g_dir_open (directory, 0, NULL);
  if (!dir)
    return;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    g_ptr_array_add (names, g_strdup (name));
  /* Sorted, so that load order (and duplicate resolution) is reproducible. */
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++) {
    name = g_ptr_array_index (names, i);
    g_autofree char *path = g_build_filename (directory, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      if (depth > 0 && name[0] != '.')
        scan_directory (self, path, depth - 1);
      continue;
    }
    if (!g_str_has_suffix (name, "." G_MODULE_SUFFIX))
      continue;
    GError *error = NULL;
    if (!vlm_registry_load_plugin (self, path, &error)) {
      /* The message already starts with the file name. */
      const char *reason = error->message;
      if (g_str_has_prefix (reason, path) && reason[strlen (path)] == ':')
        reason += strlen (path) + 2;
      record_failure (self, path, reason);
      g_error_free (error);
    }
  }
}

/**
 * vlm_registry_scan_directory:
 * @registry: the registry
 * @directory: a folder of plugin modules (sub-folders are searched two levels deep)
 *
 * Loads every module found; failures are recorded (see
 * vlm_registry_list_failures()) and reported as warnings naming the file.
 */
void
vlm_registry_scan_directory (VlmRegistry *registry, const char *directory)
{
  scan_directory (registry, directory, 2);
}

static void
scan_path_list (VlmRegistry *self, const char *list)
{
  g_auto (GStrv) dirs = g_strsplit (list, G_SEARCHPATH_SEPARATOR_S, -1);
  for (guint i = 0; dirs[i]; i++)
    if (*dirs[i])
      scan_directory (self, dirs[i], 2);
}

/**
 * vlm_registry_ensure_loaded:
 * @registry: the registry
 *
 * Scans, once, the built-in plugin folder (or `VLM_PLUGIN_SYSTEM_PATH` when
 * set) and every folder in `VLM_PLUGIN_PATH`.
 */
void
vlm_registry_ensure_loaded (VlmRegistry *registry)
{
  g_mutex_lock (&registry->lock);
  if (!registry->loaded) {
    registry->loaded = TRUE;
    const char *system = g_getenv ("VLM_PLUGIN_SYSTEM_PATH");
    scan_path_list (registry, system && *system ? system : VLM_PLUGIN_DIR);
    const char *extra = g_getenv ("VLM_PLUGIN_PATH");
    if (extra)
      scan_path_list (registry, extra);
  }
  g_mutex_unlock (&registry->lock);
}

gboolean
vlm_registry_add_factory (VlmRegistry *self, VlmElementFactory *factory, GError **error)
{
  const char *name = vlm_element_factory_get_name (factory);
  VlmElementFactory *existing = g_hash_table_lookup (self->factories, name);
  if (existing) {
    VlmPlugin *p = vlm_element_factory_get_plugin (existing);
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN,
                 "element '%s' is already registered by plugin %s", name,
                 p ? vlm_plugin_get_name (p) : "(built-in)");
    return FALSE;
  }
  g_hash_table_insert (self->factories, g_strdup (name), g_object_ref (factory));
  if (self->pending_factories)
    g_ptr_array_add (self->pending_factories, factory);
  return TRUE;
}

gboolean
vlm_registry_add_architecture (VlmRegistry *self, const char *model_type,
                               const char *pipeline_json, VlmPlugin *plugin, GError **error)
{
  Architecture *existing = g_hash_table_lookup (self->architectures, model_type);
  if (existing) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN,
                 "architecture '%s' is already registered by plugin %s", model_type,
                 vlm_plugin_get_name (existing->plugin));
    return FALSE;
  }
  Architecture *a = g_new0 (Architecture, 1);
  a->json = g_strdup (pipeline_json);
  a->plugin = g_object_ref (plugin);
  g_hash_table_insert (self->architectures, g_strdup (model_type), a);
  if (self->pending_architectures)
    g_ptr_array_add (self->pending_architectures, g_strdup (model_type));
  return TRUE;
}

gboolean
vlm_registry_add_patch (VlmRegistry *self, VlmPatch *patch, GError **error)
{
  const char *name = vlm_patch_get_name (patch);
  if (g_hash_table_contains (self->patches, name)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "patch '%s' is already registered", name);
    return FALSE;
  }
  g_hash_table_insert (self->patches, g_strdup (name), patch);
  if (self->pending_patches)
    g_ptr_array_add (self->pending_patches, g_strdup (name));
  return TRUE;
}

/**
 * vlm_registry_list_plugins:
 * @registry: the registry
 *
 * Returns: (transfer container) (element-type VlmPlugin): loaded plugins, in load order
 */
GPtrArray *
vlm_registry_list_plugins (VlmRegistry *registry)
{
  vlm_registry_ensure_loaded (registry);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < registry->plugins->len; i++)
    g_ptr_array_add (out, g_object_ref (g_ptr_array_index (registry->plugins, i)));
  return out;
}

/**
 * vlm_registry_list_failures:
 * @registry: the registry
 *
 * Returns: (transfer full): "FILE: reason" for every plugin that was skipped
 */
GStrv
vlm_registry_list_failures (VlmRegistry *registry)
{
  vlm_registry_ensure_loaded (registry);
  GStrv out = g_new0 (char *, registry->failures->len + 1);
  for (guint i = 0; i < registry->failures->len; i++)
    out[i] = g_strdup (g_ptr_array_index (registry->failures, i));
  return out;
}

static int
compare_factories (gconstpointer a, gconstpointer b)
{
  VlmElementFactory *fa = *(VlmElementFactory **) a, *fb = *(VlmElementFactory **) b;
  return g_strcmp0 (vlm_element_factory_get_name (fa), vlm_element_factory_get_name (fb));
}

/**
 * vlm_registry_list_factories:
 * @registry: the registry
 *
 * Returns: (transfer container) (element-type VlmElementFactory): all factories, by name
 */
GPtrArray *
vlm_registry_list_factories (VlmRegistry *registry)
{
  vlm_registry_ensure_loaded (registry);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, registry->factories);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (out, g_object_ref (value));
  g_ptr_array_sort (out, compare_factories);
  return out;
}

/**
 * vlm_registry_find_factory:
 * @registry: the registry
 * @name: a factory name
 *
 * Returns: (transfer none) (nullable): the factory
 */
VlmElementFactory *
vlm_registry_find_factory (VlmRegistry *registry, const char *name)
{
  vlm_registry_ensure_loaded (registry);
  return g_hash_table_lookup (registry->factories, name);
}

/**
 * vlm_registry_make_element:
 * @registry: the registry
 * @factory_name: a factory name
 * @id: (nullable): node id
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new element
 */
VlmElement *
vlm_registry_make_element (VlmRegistry *registry, const char *factory_name, const char *id,
                           GError **error)
{
  VlmElementFactory *f = vlm_registry_find_factory (registry, factory_name);
  if (!f) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "no element named '%s'", factory_name);
    return NULL;
  }
  return vlm_element_factory_create (f, id);
}

/**
 * vlm_registry_find_architecture:
 * @registry: the registry
 * @model_type: a config.json `model_type`
 *
 * Returns: (nullable): the pipeline template (JSON text) registered for it
 */
const char *
vlm_registry_find_architecture (VlmRegistry *registry, const char *model_type)
{
  vlm_registry_ensure_loaded (registry);
  Architecture *a = g_hash_table_lookup (registry->architectures, model_type);
  return a ? a->json : NULL;
}

/**
 * vlm_registry_list_architectures:
 * @registry: the registry
 *
 * Returns: (transfer full): the registered model types, sorted
 */
GStrv
vlm_registry_list_architectures (VlmRegistry *registry)
{
  vlm_registry_ensure_loaded (registry);
  GStrv keys = (GStrv) g_hash_table_get_keys_as_array (registry->architectures, NULL);
  GStrv out = g_strdupv (keys);
  g_free (keys);
  qsort (out, g_strv_length (out), sizeof (char *), compare_strings);
  return out;
}

static int
compare_patches (gconstpointer a, gconstpointer b)
{
  const VlmPatch *pa = *(const VlmPatch **) a, *pb = *(const VlmPatch **) b;
  if (vlm_patch_get_hook (pa) != vlm_patch_get_hook (pb))
    return (int) vlm_patch_get_hook (pa) - (int) vlm_patch_get_hook (pb);
  if (vlm_patch_get_order (pa) != vlm_patch_get_order (pb))
    return vlm_patch_get_order (pa) < vlm_patch_get_order (pb) ? -1 : 1;
  return g_strcmp0 (vlm_patch_get_name (pa), vlm_patch_get_name (pb));
}

/**
 * vlm_registry_list_patches:
 * @registry: the registry
 *
 * Returns: (transfer container) (element-type VlmPatch): every patch, in
 *   application order (by hook, order, name)
 */
GPtrArray *
vlm_registry_list_patches (VlmRegistry *registry)
{
  vlm_registry_ensure_loaded (registry);
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, registry->patches);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (out, value);
  g_ptr_array_sort (out, compare_patches);
  return out;
}

/**
 * vlm_registry_find_patch:
 * @registry: the registry
 * @name: a patch name
 *
 * Returns: (transfer none) (nullable): the patch
 */
const VlmPatch *
vlm_registry_find_patch (VlmRegistry *registry, const char *name)
{
  vlm_registry_ensure_loaded (registry);
  return g_hash_table_lookup (registry->patches, name);
}
