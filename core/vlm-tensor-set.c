/* vlm-tensor-set.c: an ordered name -> tensor map. */
#include "vlm/vlm-tensor-set.h"

struct _VlmTensorSet {
  gatomicrefcount ref;
  GPtrArray *names;   /* owned strings, in insertion order */
  GHashTable *by_name; /* name (borrowed from names) -> VlmTensor (owned) */
};

G_DEFINE_BOXED_TYPE (VlmTensorSet, vlm_tensor_set, vlm_tensor_set_ref, vlm_tensor_set_unref)

/**
 * vlm_tensor_set_new:
 *
 * Returns: (transfer full): an empty set
 */
VlmTensorSet *
vlm_tensor_set_new (void)
{
  VlmTensorSet *set = g_new0 (VlmTensorSet, 1);
  g_atomic_ref_count_init (&set->ref);
  set->names = g_ptr_array_new_with_free_func (g_free);
  set->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) vlm_tensor_unref);
  return set;
}

/**
 * vlm_tensor_set_ref:
 * @set: a set
 *
 * Returns: (transfer full): @set
 */
VlmTensorSet *
vlm_tensor_set_ref (VlmTensorSet *set)
{
  g_atomic_ref_count_inc (&set->ref);
  return set;
}

/**
 * vlm_tensor_set_unref:
 * @set: a set
 */
void
vlm_tensor_set_unref (VlmTensorSet *set)
{
  if (set && g_atomic_ref_count_dec (&set->ref)) {
    g_hash_table_destroy (set->by_name);
    g_ptr_array_free (set->names, TRUE);
    g_free (set);
  }
}

/**
 * vlm_tensor_set_get_size:
 * @set: a set
 *
 * Returns: the number of tensors
 */
guint
vlm_tensor_set_get_size (VlmTensorSet *set)
{
  return set->names->len;
}

/**
 * vlm_tensor_set_get:
 * @set: a set
 * @name: a tensor name
 *
 * Returns: (transfer none) (nullable): the tensor called @name
 */
VlmTensor *
vlm_tensor_set_get (VlmTensorSet *set, const char *name)
{
  return g_hash_table_lookup (set->by_name, name);
}

/**
 * vlm_tensor_set_get_nth_name:
 * @set: a set
 * @index: position in insertion order
 *
 * Returns: (transfer none): the name at @index
 */
const char *
vlm_tensor_set_get_nth_name (VlmTensorSet *set, guint index)
{
  g_return_val_if_fail (index < set->names->len, NULL);
  return g_ptr_array_index (set->names, index);
}

/**
 * vlm_tensor_set_get_nth:
 * @set: a set
 * @index: position in insertion order
 *
 * Returns: (transfer none): the tensor at @index
 */
VlmTensor *
vlm_tensor_set_get_nth (VlmTensorSet *set, guint index)
{
  g_return_val_if_fail (index < set->names->len, NULL);
  return g_hash_table_lookup (set->by_name, g_ptr_array_index (set->names, index));
}

static gboolean
find_index (VlmTensorSet *set, const char *name, guint *index)
{
  for (guint i = 0; i < set->names->len; i++)
    if (g_str_equal (g_ptr_array_index (set->names, i), name)) {
      *index = i;
      return TRUE;
    }
  return FALSE;
}

/**
 * vlm_tensor_set_insert:
 * @set: a set
 * @name: the name
 * @tensor: (transfer none): the tensor; replaces one of the same name in place
 */
void
vlm_tensor_set_insert (VlmTensorSet *set, const char *name, VlmTensor *tensor)
{
  guint index;
  vlm_tensor_ref (tensor);
  if (find_index (set, name, &index)) {
    g_hash_table_insert (set->by_name, g_ptr_array_index (set->names, index), tensor);
    return;
  }
  char *key = g_strdup (name);
  g_ptr_array_add (set->names, key);
  g_hash_table_insert (set->by_name, key, tensor);
}

/**
 * vlm_tensor_set_remove:
 * @set: a set
 * @name: the name
 *
 * Returns: whether a tensor was removed
 */
gboolean
vlm_tensor_set_remove (VlmTensorSet *set, const char *name)
{
  guint index;
  if (!find_index (set, name, &index))
    return FALSE;
  g_hash_table_remove (set->by_name, name);
  g_ptr_array_remove_index (set->names, index);
  return TRUE;
}

/**
 * vlm_tensor_set_rename:
 * @set: a set
 * @old_name: the current name
 * @new_name: the new name, not already used
 *
 * Keeps the tensor's position.
 *
 * Returns: whether the rename happened
 */
gboolean
vlm_tensor_set_rename (VlmTensorSet *set, const char *old_name, const char *new_name)
{
  guint index;
  if (g_hash_table_contains (set->by_name, new_name) || !find_index (set, old_name, &index))
    return FALSE;
  VlmTensor *t = vlm_tensor_ref (g_hash_table_lookup (set->by_name, old_name));
  g_hash_table_remove (set->by_name, old_name);
  char *key = g_strdup (new_name);
  g_free (g_ptr_array_index (set->names, index));
  g_ptr_array_index (set->names, index) = key;
  g_hash_table_insert (set->by_name, key, t);
  return TRUE;
}

/**
 * vlm_tensor_set_contains:
 * @set: a set
 * @name: a name
 *
 * Returns: whether @set holds a tensor called @name
 */
gboolean
vlm_tensor_set_contains (VlmTensorSet *set, const char *name)
{
  return g_hash_table_contains (set->by_name, name);
}

/**
 * vlm_tensor_set_list_names:
 * @set: a set
 *
 * Returns: (transfer full): the names in insertion order
 */
GStrv
vlm_tensor_set_list_names (VlmTensorSet *set)
{
  GStrv names = g_new0 (char *, set->names->len + 1);
  for (guint i = 0; i < set->names->len; i++)
    names[i] = g_strdup (g_ptr_array_index (set->names, i));
  return names;
}
