/* vlm-model-dir.c: a model folder and its settings, with key fallbacks and defaults. */
#include "vlm/vlm-model-dir.h"
#include "vlm/vlm-error.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

struct _VlmModelDir {
  GObject parent;
  char *path;
  JsonNode *config;       /* config.json (object) */
  JsonNode *generation;   /* generation_config.json, or NULL */
  JsonObject *processor;  /* merged processor settings (never NULL) */
  VlmSafetensors *weights;
};

G_DEFINE_FINAL_TYPE (VlmModelDir, vlm_model_dir, G_TYPE_OBJECT)

static void
vlm_model_dir_finalize (GObject *obj)
{
  VlmModelDir *self = VLM_MODEL_DIR (obj);
  g_free (self->path);
  g_clear_pointer (&self->config, json_node_unref);
  g_clear_pointer (&self->generation, json_node_unref);
  g_clear_pointer (&self->processor, json_object_unref);
  g_clear_object (&self->weights);
  G_OBJECT_CLASS (vlm_model_dir_parent_class)->finalize (obj);
}

static void
vlm_model_dir_class_init (VlmModelDirClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_model_dir_finalize;
}

static void
vlm_model_dir_init (VlmModelDir *self)
{
  self->processor = json_object_new ();
}

/* A Hugging Face repository id: "org/name", both parts plain names. */
static gboolean
looks_like_hf_id (const char *s)
{
  g_auto (GStrv) parts = g_strsplit (s, "/", -1);
  if (g_strv_length (parts) != 2)
    return FALSE;
  for (int i = 0; i < 2; i++) {
    const char *p = parts[i];
    if (!*p || *p == '.' || *p == '-')
      return FALSE;
    for (; *p; p++)
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
        return FALSE;
  }
  return TRUE;
}

static char *
hub_cache_dir (void)
{
  const char *hub = g_getenv ("HF_HUB_CACHE");
  if (hub && *hub)
    return g_strdup (hub);
  const char *home = g_getenv ("HF_HOME");
  if (home && *home)
    return g_build_filename (home, "hub", NULL);
  return g_build_filename (g_get_home_dir (), ".cache", "huggingface", "hub", NULL);
}

/* The snapshot named by refs/main, else the most recently modified one. */
static char *
pick_snapshot (const char *repo_dir)
{
  g_autofree char *ref_path = g_build_filename (repo_dir, "refs", "main", NULL);
  g_autofree char *ref = NULL;
  if (g_file_get_contents (ref_path, &ref, NULL, NULL)) {
    g_strstrip (ref);
    if (*ref && !strchr (ref, '/') && strcmp (ref, "..") != 0) {
      char *snap = g_build_filename (repo_dir, "snapshots", ref, NULL);
      if (g_file_test (snap, G_FILE_TEST_IS_DIR))
        return snap;
      g_free (snap);
    }
  }
  g_autofree char *snaps = g_build_filename (repo_dir, "snapshots", NULL);
  g_autoptr (GDir) dir = g_dir_open (snaps, 0, NULL);
  char *best = NULL;
  gint64 best_time = G_MININT64;
  const char *name;
  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree char *p = g_build_filename (snaps, name, NULL);
    GStatBuf st;
    if (g_stat (p, &st) == 0 && S_ISDIR (st.st_mode) && (gint64) st.st_mtime > best_time) {
      best_time = st.st_mtime;
      g_free (best);
      best = g_steal_pointer (&p);
    }
  }
  return best;
}

/**
 * vlm_model_dir_resolve:
 * @path_or_hf_id: a folder, or a Hugging Face id such as `org/name` found in the
 *   local cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the folder
 */
char *
vlm_model_dir_resolve (const char *path_or_hf_id, GError **error)
{
  if (g_file_test (path_or_hf_id, G_FILE_TEST_IS_DIR))
    return g_strdup (path_or_hf_id);
  if (!looks_like_hf_id (path_or_hf_id) || g_path_is_absolute (path_or_hf_id)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "%s: no such model folder",
                 path_or_hf_id);
    return NULL;
  }
  g_autofree char *cache = hub_cache_dir ();
  g_autofree char *repo = g_strdup_printf ("models--%.*s--%s",
                                           (int) (strchr (path_or_hf_id, '/') - path_or_hf_id),
                                           path_or_hf_id, strchr (path_or_hf_id, '/') + 1);
  g_autofree char *repo_dir = g_build_filename (cache, repo, NULL);
  char *snap = pick_snapshot (repo_dir);
  if (!snap) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND,
                 "model '%s' is neither a folder nor in the Hugging Face cache (looked for %s/"
                 "snapshots/); download it first, e.g. `hf download %s`",
                 path_or_hf_id, repo_dir, path_or_hf_id);
    return NULL;
  }
  return snap;
}

static JsonNode *
load_json_root (const char *path, gboolean required, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    if (required)
      g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "%s: no such file", path);
    return NULL;
  }
  if (!json_parser_load_from_file (parser, path, &local)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: %s", path, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_steal_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_clear_pointer (&root, json_node_unref);
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: not a JSON object", path);
  }
  return root;
}

static void
merge_into (JsonObject *dst, JsonObject *src, const char *skip)
{
  JsonObjectIter it;
  const char *name;
  JsonNode *node;
  json_object_iter_init (&it, src);
  while (json_object_iter_next (&it, &name, &node))
    if (!skip || strcmp (name, skip) != 0)
      json_object_set_member (dst, name, json_node_copy (node));
}

/* preprocessor_config.json (older checkpoints) and processor_config.json, whose
 * nested "image_processor" (transformers 5) wins over the older file. */
static gboolean
load_processor (VlmModelDir *self, GError **error)
{
  g_autofree char *pre_path = g_build_filename (self->path, "preprocessor_config.json", NULL);
  g_autofree char *proc_path = g_build_filename (self->path, "processor_config.json", NULL);
  GError *local = NULL;
  g_autoptr (JsonNode) pre = load_json_root (pre_path, FALSE, &local);
  if (local) {
    g_propagate_error (error, local);
    return FALSE;
  }
  g_autoptr (JsonNode) proc = load_json_root (proc_path, FALSE, &local);
  if (local) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (pre)
    merge_into (self->processor, json_node_get_object (pre), NULL);
  if (proc) {
    JsonObject *o = json_node_get_object (proc);
    merge_into (self->processor, o, "image_processor");
    JsonNode *ip = json_object_get_member (o, "image_processor");
    if (ip && JSON_NODE_HOLDS_OBJECT (ip))
      merge_into (self->processor, json_node_get_object (ip), NULL);
  }
  return TRUE;
}

/**
 * vlm_model_dir_new:
 * @path_or_hf_id: a model folder or a Hugging Face id (see vlm_model_dir_resolve())
 * @error: return location for a #GError
 *
 * Reads `config.json` (required), `generation_config.json` and the processor
 * settings. Weights are opened on first use.
 *
 * Returns: (transfer full) (nullable): the model folder
 */
VlmModelDir *
vlm_model_dir_new (const char *path_or_hf_id, GError **error)
{
  g_autofree char *path = vlm_model_dir_resolve (path_or_hf_id, error);
  if (!path)
    return NULL;
  g_autoptr (VlmModelDir) self = g_object_new (VLM_TYPE_MODEL_DIR, NULL);
  self->path = g_steal_pointer (&path);
  g_autofree char *cfg = g_build_filename (self->path, "config.json", NULL);
  g_autofree char *gen = g_build_filename (self->path, "generation_config.json", NULL);
  self->config = load_json_root (cfg, TRUE, error);
  if (!self->config)
    return NULL;
  GError *local = NULL;
  self->generation = load_json_root (gen, FALSE, &local);
  if (local) {
    g_propagate_error (error, local);
    return NULL;
  }
  if (!load_processor (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * vlm_model_dir_get_path:
 * @self: a model folder
 *
 * Returns: the folder (resolved from a Hugging Face id when one was given)
 */
const char *
vlm_model_dir_get_path (VlmModelDir *self)
{
  g_return_val_if_fail (VLM_IS_MODEL_DIR (self), NULL);
  return self->path;
}

/**
 * vlm_model_dir_get_config:
 * @self: a model folder
 *
 * Returns: (transfer none): the top level of `config.json`
 */
JsonObject *
vlm_model_dir_get_config (VlmModelDir *self)
{
  g_return_val_if_fail (VLM_IS_MODEL_DIR (self), NULL);
  return json_node_get_object (self->config);
}

/**
 * vlm_model_dir_get_model_type:
 * @self: a model folder
 *
 * Returns: (nullable): the top-level `model_type`
 */
const char *
vlm_model_dir_get_model_type (VlmModelDir *self)
{
  return vlm_model_dir_get_string (self, NULL, "model_type", NULL);
}

/**
 * vlm_model_dir_get_section:
 * @self: a model folder
 * @section: (nullable): %NULL for the top level of `config.json`, a nested
 *   object name such as "text_config", or "generation_config" /
 *   "processor_config" for those settings
 *
 * A nested object that is absent falls back to the top level (single-tower
 * configs keep text settings there).
 *
 * Returns: (transfer none) (nullable): the object (%NULL only for a missing
 *   generation config)
 */
JsonObject *
vlm_model_dir_get_section (VlmModelDir *self, const char *section)
{
  g_return_val_if_fail (VLM_IS_MODEL_DIR (self), NULL);
  JsonObject *top = json_node_get_object (self->config);
  if (!section || !*section)
    return top;
  if (strcmp (section, "generation_config") == 0)
    return self->generation ? json_node_get_object (self->generation) : NULL;
  if (strcmp (section, "processor_config") == 0)
    return self->processor;
  JsonNode *n = json_object_get_member (top, section);
  if (n && JSON_NODE_HOLDS_OBJECT (n))
    return json_node_get_object (n);
  return top;
}

/**
 * vlm_model_dir_get_text_config:
 * @self: a model folder
 *
 * Returns: (transfer none): `text_config`, or the top level when absent
 */
JsonObject *
vlm_model_dir_get_text_config (VlmModelDir *self)
{
  return vlm_model_dir_get_section (self, "text_config");
}

/**
 * vlm_model_dir_get_vision_config:
 * @self: a model folder
 *
 * Returns: (transfer none): `vision_config`, or the top level when absent
 */
JsonObject *
vlm_model_dir_get_vision_config (VlmModelDir *self)
{
  return vlm_model_dir_get_section (self, "vision_config");
}

/**
 * vlm_model_dir_get_generation_config:
 * @self: a model folder
 *
 * Returns: (transfer none) (nullable): `generation_config.json`
 */
JsonObject *
vlm_model_dir_get_generation_config (VlmModelDir *self)
{
  return vlm_model_dir_get_section (self, "generation_config");
}

/**
 * vlm_model_dir_get_processor_config:
 * @self: a model folder
 *
 * The processor settings: `preprocessor_config.json` merged with
 * `processor_config.json` (its top-level keys such as `image_seq_len`, and the
 * members of its nested `image_processor`, which win).
 *
 * Returns: (transfer none): the merged settings (empty when there are none)
 */
JsonObject *
vlm_model_dir_get_processor_config (VlmModelDir *self)
{
  return vlm_model_dir_get_section (self, "processor_config");
}

/**
 * vlm_json_object_lookup:
 * @object: a JSON object
 * @keys: alternatives separated by `|`, each a dotted path, e.g.
 *   "rope_theta|rope_parameters.rope_theta"
 *
 * Returns: (transfer none) (nullable): the first alternative present and not null
 */
JsonNode *
vlm_json_object_lookup (JsonObject *object, const char *keys)
{
  g_auto (GStrv) alts = g_strsplit (keys, "|", -1);
  for (guint a = 0; alts[a]; a++) {
    g_auto (GStrv) path = g_strsplit (alts[a], ".", -1);
    JsonObject *o = object;
    JsonNode *n = NULL;
    for (guint i = 0; path[i] && o; i++) {
      n = json_object_get_member (o, path[i]);
      if (!n)
        break;
      o = path[i + 1] && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      if (path[i + 1] && !o)
        n = NULL;
    }
    if (n && !JSON_NODE_HOLDS_NULL (n))
      return n;
  }
  return NULL;
}

/**
 * vlm_model_dir_lookup:
 * @self: a model folder
 * @section: (nullable): see vlm_model_dir_get_section()
 * @keys: see vlm_json_object_lookup()
 *
 * Returns: (transfer none) (nullable): the value
 */
JsonNode *
vlm_model_dir_lookup (VlmModelDir *self, const char *section, const char *keys)
{
  JsonObject *o = vlm_model_dir_get_section (self, section);
  return o ? vlm_json_object_lookup (o, keys) : NULL;
}

/**
 * vlm_model_dir_has_key:
 * @self: a model folder
 * @section: (nullable): see vlm_model_dir_get_section()
 * @keys: see vlm_json_object_lookup()
 *
 * Returns: whether a non-null value is present
 */
gboolean
vlm_model_dir_has_key (VlmModelDir *self, const char *section, const char *keys)
{
  return vlm_model_dir_lookup (self, section, keys) != NULL;
}

static gboolean
node_number (JsonNode *n, double *out)
{
  if (!n || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t == G_TYPE_INT64)
    *out = (double) json_node_get_int (n);
  else if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (n);
  else if (t == G_TYPE_BOOLEAN)
    *out = json_node_get_boolean (n);
  else
    return FALSE;
  return TRUE;
}

/**
 * vlm_model_dir_get_int:
 * @self: a model folder
 * @section: (nullable): see vlm_model_dir_get_section()
 * @keys: see vlm_json_object_lookup()
 * @default_value: returned when no alternative holds a number
 *
 * Returns: the value
 */
gint64
vlm_model_dir_get_int (VlmModelDir *self, const char *section, const char *keys,
                       gint64 default_value)
{
  JsonNode *n = vlm_model_dir_lookup (self, section, keys);
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
    return json_node_get_int (n);
  double d;
  return node_number (n, &d) && d == (double) (gint64) d ? (gint64) d : default_value;
}

/**
 * vlm_model_dir_get_double:
 * @self: a model folder
 * @section: (nullable): see vlm_model_dir_get_section()
 * @keys: see vlm_json_object_lookup()
 * @default_value: returned when no alternative holds a number
 *
 * Returns: the value
 */
double
vlm_model_dir_get_double (VlmModelDir *self, const char *section, const char *keys,
                          double default_value)
{
  double d;
  return node_number (vlm_model_dir_lookup (self, section, keys), &d) ? d : default_value;
}

/**
 * vlm_model_dir_get_bool:
 * @self: a model folder
 * @section: (nullable): see vlm_model_dir_get_section()
 * @keys: see vlm_json_object_lookup()
 * @default_value: returned when no alternative holds a boolean
 *
 * Returns: the value
 */
gboolean
vlm_model_dir_get_bool (VlmModelDir *self, const char *section, const char *keys,
                        gboolean default_value)
{
  JsonNode *n = vlm_model_dir_lookup (self, section, keys);
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN)
    return json_node_get_boolean (n);
  return default_value;
}

/**
 * vlm_model_dir_get_string:
 * @self: a model folder
 * @section: (nullable): see vlm_model_dir_get_section()
 * @keys: see vlm_json_object_lookup()
 * @default_value: (nullable): returned when no alternative holds a string
 *
 * Returns: (nullable): the value
 */
const char *
vlm_model_dir_get_string (VlmModelDir *self, const char *section, const char *keys,
                          const char *default_value)
{
  JsonNode *n = vlm_model_dir_lookup (self, section, keys);
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  return default_value;
}

static gint64 *
node_int_list (JsonNode *n, guint *n_ids)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_INT64) {
        gint64 v = json_node_get_int (e);
        g_array_append_val (ids, v);
      }
    }
  } else if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64) {
    gint64 v = json_node_get_int (n);
    g_array_append_val (ids, v);
  }
  *n_ids = ids->len;
  return (gint64 *) g_array_free (ids, FALSE);
}

/**
 * vlm_model_dir_get_eos_token_ids:
 * @self: a model folder
 * @n_ids: (out): the number of ids
 *
 * The stop ids: `eos_token_id` (a number or a list) from
 * `generation_config.json`, else from `config.json` or its `text_config`.
 *
 * Returns: (array length=n_ids) (transfer full): the ids
 */
gint64 *
vlm_model_dir_get_eos_token_ids (VlmModelDir *self, guint *n_ids)
{
  const char *sections[] = { "generation_config", NULL, "text_config" };
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++) {
    JsonNode *n = vlm_model_dir_lookup (self, sections[i], "eos_token_id");
    if (n)
      return node_int_list (n, n_ids);
  }
  *n_ids = 0;
  return g_new0 (gint64, 1);
}

/**
 * vlm_model_dir_get_quantization:
 * @self: a model folder
 * @group_size: (out) (optional): MLX group size
 * @bits: (out) (optional): bits per weight
 *
 * Reads MLX affine quantization from `quantization` or `quantization_config`.
 *
 * Returns: whether the checkpoint is quantized
 */
gboolean
vlm_model_dir_get_quantization (VlmModelDir *self, int *group_size, int *bits)
{
  gint64 gs = vlm_model_dir_get_int (self, NULL,
                                     "quantization.group_size|quantization_config.group_size", 0);
  gint64 b = vlm_model_dir_get_int (self, NULL, "quantization.bits|quantization_config.bits", 0);
  if (gs <= 0 || b <= 0)
    return FALSE;
  if (group_size)
    *group_size = (int) gs;
  if (bits)
    *bits = (int) b;
  return TRUE;
}

/**
 * vlm_model_dir_find_file:
 * @self: a model folder
 * @name: a file name such as "tokenizer.json"
 *
 * Returns: (transfer full) (nullable): its path when it exists
 */
char *
vlm_model_dir_find_file (VlmModelDir *self, const char *name)
{
  g_return_val_if_fail (VLM_IS_MODEL_DIR (self), NULL);
  char *p = g_build_filename (self->path, name, NULL);
  if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
    return p;
  g_free (p);
  return NULL;
}

/**
 * vlm_model_dir_load_json:
 * @self: a model folder
 * @name: a JSON file in it, such as "tokenizer_config.json"
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): its top-level object
 */
JsonObject *
vlm_model_dir_load_json (VlmModelDir *self, const char *name, GError **error)
{
  g_return_val_if_fail (VLM_IS_MODEL_DIR (self), NULL);
  g_autofree char *p = g_build_filename (self->path, name, NULL);
  g_autoptr (JsonNode) root = load_json_root (p, TRUE, error);
  return root ? json_object_ref (json_node_get_object (root)) : NULL;
}

/**
 * vlm_model_dir_get_weights:
 * @self: a model folder
 * @error: return location for a #GError
 *
 * Opens (once) the folder's safetensors checkpoint.
 *
 * Returns: (transfer none) (nullable): the checkpoint
 */
VlmSafetensors *
vlm_model_dir_get_weights (VlmModelDir *self, GError **error)
{
  g_return_val_if_fail (VLM_IS_MODEL_DIR (self), NULL);
  if (!self->weights)
    self->weights = vlm_safetensors_open (self->path, error);
  return self->weights;
}
