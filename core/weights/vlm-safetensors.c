/* vlm-safetensors.c: opens safetensors files by mapping them; tensors are views. */
#include "vlm/vlm-safetensors.h"
#include "vlm/vlm-error.h"
#include "weights/safetensors-header.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  char *path;
  GMappedFile *map;
  VlmStorage *storage;   /* the whole mapping, read-only */
  guint64 data_start;
  VlmStHeader header;
} StFile;

typedef struct {
  StFile *file;
  VlmStEntry *entry;
} StRef;

struct _VlmSafetensors {
  GObject parent;
  GPtrArray *files;      /* StFile* */
  GPtrArray *order;      /* StRef*, tensors in file then header order */
  GHashTable *by_name;   /* name -> StRef* */
  GHashTable *metadata;  /* merged "__metadata__" of all files */
};

G_DEFINE_FINAL_TYPE (VlmSafetensors, vlm_safetensors, G_TYPE_OBJECT)

static void
st_file_free (gpointer p)
{
  StFile *f = p;
  vlm_st_header_clear (&f->header);
  g_clear_pointer (&f->storage, vlm_storage_unref);
  g_clear_pointer (&f->map, g_mapped_file_unref);
  g_free (f->path);
  g_free (f);
}

static void
vlm_safetensors_finalize (GObject *obj)
{
  VlmSafetensors *self = VLM_SAFETENSORS (obj);
  g_hash_table_unref (self->by_name);
  g_ptr_array_unref (self->order);
  g_ptr_array_unref (self->files);
  g_hash_table_unref (self->metadata);
  G_OBJECT_CLASS (vlm_safetensors_parent_class)->finalize (obj);
}

static void
vlm_safetensors_class_init (VlmSafetensorsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_safetensors_finalize;
}

static void
vlm_safetensors_init (VlmSafetensors *self)
{
  self->files = g_ptr_array_new_with_free_func (st_file_free);
  self->order = g_ptr_array_new_with_free_func (g_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static StFile *
st_file_open (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  GMappedFile *map = g_mapped_file_new (path, FALSE, &local);
  if (!map) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s: %s", path, local->message);
    return NULL;
  }
  StFile *f = g_new0 (StFile, 1);
  f->path = g_strdup (path);
  f->map = map;
  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (map);
  gsize size = g_mapped_file_get_length (map);
  if (!vlm_st_parse_file_bytes (bytes, size, path, &f->header, &f->data_start, error)) {
    st_file_free (f);
    return NULL;
  }
  /* The storage keeps its own reference on the mapping, so tensors outlive this object. */
  f->storage = vlm_storage_new_wrap ((gpointer) bytes, size, TRUE, g_mapped_file_ref (map),
                                     (GDestroyNotify) g_mapped_file_unref);
  return f;
}

static gboolean
add_file (VlmSafetensors *self, StFile *f, GError **error)
{
  g_ptr_array_add (self->files, f);
  for (guint i = 0; i < f->header.entries->len; i++) {
    VlmStEntry *e = f->header.entries->pdata[i];
    StRef *prev = g_hash_table_lookup (self->by_name, e->name);
    if (prev) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "tensor '%s' is in both %s and %s",
                   e->name, prev->file->path, f->path);
      return FALSE;
    }
    StRef *r = g_new (StRef, 1);
    r->file = f;
    r->entry = e;
    g_ptr_array_add (self->order, r);
    g_hash_table_insert (self->by_name, e->name, r);
  }
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, f->header.metadata);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_replace (self->metadata, g_strdup (k), g_strdup (v));
  return TRUE;
}

/* Shards listed by model.safetensors.index.json; every name in weight_map must be
 * found in the shard it names. */
static gboolean
open_index (VlmSafetensors *self, const char *dir, const char *index_path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_file (parser, index_path, &local)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: %s", index_path, local->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *map = NULL;
  if (root && JSON_NODE_HOLDS_OBJECT (root)) {
    JsonNode *m = json_object_get_member (json_node_get_object (root), "weight_map");
    if (m && JSON_NODE_HOLDS_OBJECT (m))
      map = json_node_get_object (m);
  }
  if (!map) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: no \"weight_map\" object", index_path);
    return FALSE;
  }
  g_autoptr (GHashTable) shards = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonObjectIter it;
  const char *name;
  JsonNode *node;
  json_object_iter_init (&it, map);
  while (json_object_iter_next (&it, &name, &node)) {
    const char *shard = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_string (node) : NULL;
    if (!shard || strchr (shard, '/') || strcmp (shard, "..") == 0 || !*shard) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: tensor '%s': bad shard file name",
                   index_path, name);
      return FALSE;
    }
    if (!g_hash_table_contains (shards, shard)) {
      g_autofree char *p = g_build_filename (dir, shard, NULL);
      StFile *f = st_file_open (p, error);
      if (!f)
        return FALSE;
      g_hash_table_insert (shards, g_strdup (shard), f);
      if (!add_file (self, f, error))
        return FALSE;
    }
  }
  json_object_iter_init (&it, map);
  while (json_object_iter_next (&it, &name, &node)) {
    StFile *want = g_hash_table_lookup (shards, json_node_get_string (node));
    StRef *r = g_hash_table_lookup (self->by_name, name);
    if (!r || r->file != want) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: tensor '%s' is not in %s",
                   index_path, name, want->path);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vlm_safetensors_open:
 * @path: a .safetensors file, or a model folder (with `model.safetensors.index.json`
 *   for sharded checkpoints, else `model.safetensors`)
 * @error: return location for a #GError
 *
 * Maps the file(s) and validates every header strictly. No tensor data is read.
 *
 * Returns: (transfer full) (nullable): the checkpoint
 */
VlmSafetensors *
vlm_safetensors_open (const char *path, GError **error)
{
  g_autoptr (VlmSafetensors) self = g_object_new (VLM_TYPE_SAFETENSORS, NULL);
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autofree char *index = g_build_filename (path, "model.safetensors.index.json", NULL);
    g_autofree char *single = g_build_filename (path, "model.safetensors", NULL);
    if (g_file_test (index, G_FILE_TEST_IS_REGULAR)) {
      if (!open_index (self, path, index, error))
        return NULL;
      return g_steal_pointer (&self);
    }
    if (!g_file_test (single, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND,
                   "%s: no model.safetensors or model.safetensors.index.json", path);
      return NULL;
    }
    path = single;
    StFile *f = st_file_open (single, error);
    if (!f || !add_file (self, f, error))
      return NULL;
    return g_steal_pointer (&self);
  }
  StFile *f = st_file_open (path, error);
  if (!f || !add_file (self, f, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * vlm_safetensors_get_n_tensors:
 * @self: a checkpoint
 *
 * Returns: the number of tensors over all files
 */
guint
vlm_safetensors_get_n_tensors (VlmSafetensors *self)
{
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), 0);
  return self->order->len;
}

/**
 * vlm_safetensors_get_n_files:
 * @self: a checkpoint
 *
 * Returns: the number of files (shards) mapped
 */
guint
vlm_safetensors_get_n_files (VlmSafetensors *self)
{
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), 0);
  return self->files->len;
}

/**
 * vlm_safetensors_list_names:
 * @self: a checkpoint
 *
 * Returns: (transfer full): tensor names, in file and header order
 */
GStrv
vlm_safetensors_list_names (VlmSafetensors *self)
{
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), NULL);
  GStrv names = g_new0 (char *, self->order->len + 1);
  for (guint i = 0; i < self->order->len; i++)
    names[i] = g_strdup (((StRef *) self->order->pdata[i])->entry->name);
  return names;
}

/**
 * vlm_safetensors_contains:
 * @self: a checkpoint
 * @name: a tensor name
 *
 * Returns: whether the checkpoint has a tensor called @name
 */
gboolean
vlm_safetensors_contains (VlmSafetensors *self, const char *name)
{
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), FALSE);
  return g_hash_table_contains (self->by_name, name);
}

static VlmTensor *
ref_to_tensor (StRef *r, GError **error)
{
  VlmStEntry *e = r->entry;
  guint64 off = r->file->data_start + e->begin;
  VlmTensor *t;
  /* Kernels load elements with aligned loads; an oddly placed tensor is copied once. */
  if (off % vlm_dtype_size (e->dtype) != 0) {
    const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (r->file->map);
    t = vlm_tensor_new_from_data (e->dtype, e->ndim, e->shape, bytes + off, e->end - e->begin,
                                  error);
  } else {
    t = vlm_tensor_new_view (r->file->storage, off, e->dtype, e->ndim, e->shape, error);
  }
  if (t)
    vlm_tensor_set_name (t, e->name);
  return t;
}

/**
 * vlm_safetensors_get_tensor:
 * @self: a checkpoint
 * @name: a tensor name
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a read-only view into the mapped file
 */
VlmTensor *
vlm_safetensors_get_tensor (VlmSafetensors *self, const char *name, GError **error)
{
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), NULL);
  StRef *r = g_hash_table_lookup (self->by_name, name);
  if (!r) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "%s: no tensor '%s'",
                 self->files->len ? ((StFile *) self->files->pdata[0])->path : "(checkpoint)",
                 name);
    return NULL;
  }
  return ref_to_tensor (r, error);
}

/**
 * vlm_safetensors_get_total_bytes:
 * @self: a checkpoint
 *
 * Returns: the sum of all tensors' data sizes
 */
guint64
vlm_safetensors_get_total_bytes (VlmSafetensors *self)
{
  guint64 n = 0;
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), 0);
  for (guint i = 0; i < self->order->len; i++) {
    VlmStEntry *e = ((StRef *) self->order->pdata[i])->entry;
    n += e->end - e->begin;
  }
  return n;
}

/**
 * vlm_safetensors_get_metadata:
 * @self: a checkpoint
 * @key: a `__metadata__` key such as "format"
 *
 * Returns: (nullable): the value
 */
const char *
vlm_safetensors_get_metadata (VlmSafetensors *self, const char *key)
{
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), NULL);
  return g_hash_table_lookup (self->metadata, key);
}

/**
 * vlm_safetensors_to_tensor_set:
 * @self: a checkpoint
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): every tensor as a view, in file order
 */
VlmTensorSet *
vlm_safetensors_to_tensor_set (VlmSafetensors *self, GError **error)
{
  g_return_val_if_fail (VLM_IS_SAFETENSORS (self), NULL);
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  for (guint i = 0; i < self->order->len; i++) {
    StRef *r = self->order->pdata[i];
    VlmTensor *t = ref_to_tensor (r, error);
    if (!t)
      return NULL;
    vlm_tensor_set_insert (set, r->entry->name, t);
    vlm_tensor_unref (t);
  }
  return g_steal_pointer (&set);
}
