/* vlm-json-value.c: typed conversion of pipeline property values. */
#include "vlm-json-value.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-tensor-set.h"

#include <errno.h>
#include <stdlib.h>

static const char *
json_kind (JsonNode *node)
{
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  switch (json_node_get_value_type (node) == G_TYPE_STRING ? 0
          : json_node_get_value_type (node) == G_TYPE_BOOLEAN ? 1 : 2) {
  case 0: return "a string";
  case 1: return "a boolean";
  default: return "a number";
  }
}

static gboolean
type_error (GParamSpec *pspec, const char *what, GError **error)
{
  g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "property '%s' expects %s, got %s",
               pspec->name, g_type_name (pspec->value_type), what);
  return FALSE;
}

/* Integers must be whole numbers within the property's range. */
static gboolean
set_integer (GParamSpec *pspec, double value, gboolean exact, gint64 ivalue, GValue *out,
             GError **error)
{
  if (!exact) {
    if (value != (double) (gint64) value)
      return type_error (pspec, "a non-integer number", error);
    ivalue = (gint64) value;
  }
  g_value_init (out, pspec->value_type);
  switch (G_TYPE_FUNDAMENTAL (pspec->value_type)) {
  case G_TYPE_INT: g_value_set_int (out, (int) CLAMP (ivalue, G_MININT, G_MAXINT)); break;
  case G_TYPE_UINT: g_value_set_uint (out, (guint) CLAMP (ivalue, 0, G_MAXUINT)); break;
  case G_TYPE_INT64: g_value_set_int64 (out, ivalue); break;
  case G_TYPE_UINT64: g_value_set_uint64 (out, (guint64) MAX (ivalue, 0)); break;
  case G_TYPE_LONG: g_value_set_long (out, (glong) ivalue); break;
  case G_TYPE_ULONG: g_value_set_ulong (out, (gulong) MAX (ivalue, 0)); break;
  default: g_assert_not_reached ();
  }
  if (g_param_value_validate (pspec, out)) {
    g_value_unset (out);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "property '%s': %" G_GINT64_FORMAT " is out of range", pspec->name, ivalue);
    return FALSE;
  }
  return TRUE;
}

static gboolean
set_enum (GParamSpec *pspec, const char *nick, GValue *out, GError **error)
{
  GEnumClass *klass = g_type_class_ref (pspec->value_type);
  GEnumValue *v = g_enum_get_value_by_nick (klass, nick);
  if (!v)
    v = g_enum_get_value_by_name (klass, nick);
  if (!v) {
    GString *choices = g_string_new (NULL);
    for (guint i = 0; i < klass->n_values; i++)
      g_string_append_printf (choices, "%s%s", i ? ", " : "", klass->values[i].value_nick);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "property '%s': '%s' is not one of %s", pspec->name, nick, choices->str);
    g_string_free (choices, TRUE);
    g_type_class_unref (klass);
    return FALSE;
  }
  g_value_init (out, pspec->value_type);
  g_value_set_enum (out, v->value);
  g_type_class_unref (klass);
  return TRUE;
}

/**
 * vlm_json_to_gvalue: (skip)
 * @node: a JSON value
 * @pspec: the property it is for
 * @out: (out caller-allocates): an unset #GValue, initialised on success
 * @error: return location for a #GError
 *
 * Converts @node to the property's type; a mismatch is an error naming the
 * property and both types.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_json_to_gvalue (JsonNode *node, GParamSpec *pspec, GValue *out, GError **error)
{
  GType fundamental = G_TYPE_FUNDAMENTAL (pspec->value_type);
  gboolean is_value = JSON_NODE_HOLDS_VALUE (node);
  GType vt = is_value ? json_node_get_value_type (node) : G_TYPE_INVALID;

  if (pspec->value_type == G_TYPE_STRV) {
    if (!JSON_NODE_HOLDS_ARRAY (node))
      return type_error (pspec, json_kind (node), error);
    JsonArray *array = json_node_get_array (node);
    guint n = json_array_get_length (array);
    GStrv strv = g_new0 (char *, n + 1);
    for (guint i = 0; i < n; i++) {
      JsonNode *e = json_array_get_element (array, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING) {
        g_strfreev (strv);
        return type_error (pspec, "an array with a non-string item", error);
      }
      strv[i] = g_strdup (json_node_get_string (e));
    }
    g_value_init (out, G_TYPE_STRV);
    g_value_take_boxed (out, strv);
    return TRUE;
  }
  switch (fundamental) {
  case G_TYPE_BOOLEAN:
    if (vt != G_TYPE_BOOLEAN)
      return type_error (pspec, json_kind (node), error);
    g_value_init (out, G_TYPE_BOOLEAN);
    g_value_set_boolean (out, json_node_get_boolean (node));
    return TRUE;
  case G_TYPE_INT: case G_TYPE_UINT: case G_TYPE_INT64: case G_TYPE_UINT64:
  case G_TYPE_LONG: case G_TYPE_ULONG:
    if (vt == G_TYPE_INT64)
      return set_integer (pspec, 0, TRUE, json_node_get_int (node), out, error);
    if (vt == G_TYPE_DOUBLE)
      return set_integer (pspec, json_node_get_double (node), FALSE, 0, out, error);
    return type_error (pspec, json_kind (node), error);
  case G_TYPE_DOUBLE: case G_TYPE_FLOAT:
    if (vt != G_TYPE_INT64 && vt != G_TYPE_DOUBLE)
      return type_error (pspec, json_kind (node), error);
    g_value_init (out, pspec->value_type);
    if (fundamental == G_TYPE_DOUBLE)
      g_value_set_double (out, json_node_get_double (node));
    else
      g_value_set_float (out, (float) json_node_get_double (node));
    if (g_param_value_validate (pspec, out)) {
      g_value_unset (out);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "property '%s': %g is out of range",
                   pspec->name, json_node_get_double (node));
      return FALSE;
    }
    return TRUE;
  case G_TYPE_STRING:
    if (JSON_NODE_HOLDS_NULL (node)) {
      g_value_init (out, G_TYPE_STRING);
      return TRUE;
    }
    if (vt != G_TYPE_STRING)
      return type_error (pspec, json_kind (node), error);
    g_value_init (out, G_TYPE_STRING);
    g_value_set_string (out, json_node_get_string (node));
    return TRUE;
  case G_TYPE_ENUM:
    if (vt != G_TYPE_STRING)
      return type_error (pspec, json_kind (node), error);
    return set_enum (pspec, json_node_get_string (node), out, error);
  default:
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "property '%s' has type %s, which pipelines cannot set", pspec->name,
                 g_type_name (pspec->value_type));
    return FALSE;
  }
}

/**
 * vlm_string_to_gvalue: (skip)
 * @text: a command-line value
 * @pspec: the property it is for
 * @out: (out caller-allocates): an unset #GValue
 * @error: return location for a #GError
 *
 * Like vlm_json_to_gvalue() for `--set NODE.PROP=VALUE`: numbers and
 * booleans are parsed, strings taken as they are, lists split at commas.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_string_to_gvalue (const char *text, GParamSpec *pspec, GValue *out, GError **error)
{
  GType fundamental = G_TYPE_FUNDAMENTAL (pspec->value_type);
  g_autoptr (JsonNode) node = NULL;
  if (pspec->value_type == G_TYPE_STRV) {
    g_auto (GStrv) parts = g_strsplit (text, ",", -1);
    g_value_init (out, G_TYPE_STRV);
    g_value_set_boxed (out, parts);
    return TRUE;
  }
  if (fundamental == G_TYPE_STRING || fundamental == G_TYPE_ENUM) {
    node = json_node_init_string (json_node_alloc (), text);
  } else if (fundamental == G_TYPE_BOOLEAN) {
    if (g_strcmp0 (text, "true") && g_strcmp0 (text, "false"))
      return type_error (pspec, "a value other than true or false", error);
    node = json_node_init_boolean (json_node_alloc (), g_str_equal (text, "true"));
  } else {
    char *end = NULL;
    errno = 0;
    gint64 i = g_ascii_strtoll (text, &end, 10);
    if (end && *end == '\0' && end != text && errno == 0)
      node = json_node_init_int (json_node_alloc (), i);
    else {
      double d = g_ascii_strtod (text, &end);
      if (!end || *end != '\0' || end == text)
        return type_error (pspec, "a value that is not a number", error);
      node = json_node_init_double (json_node_alloc (), d);
    }
  }
  return vlm_json_to_gvalue (node, pspec, out, error);
}

/**
 * vlm_gvalue_to_json: (skip)
 * @value: a value
 *
 * Tensors become {"dtype", "shape"} summaries; objects their type name.
 *
 * Returns: (transfer full): a JSON node
 */
JsonNode *
vlm_gvalue_to_json (const GValue *value)
{
  JsonNode *node = json_node_alloc ();
  GType type = G_VALUE_TYPE (value);
  if (type == G_TYPE_STRV) {
    JsonArray *array = json_array_new ();
    const char *const *strv = g_value_get_boxed (value);
    for (guint i = 0; strv && strv[i]; i++)
      json_array_add_string_element (array, strv[i]);
    return json_node_init_array (node, array);
  }
  if (type == VLM_TYPE_TENSOR || type == VLM_TYPE_TENSOR_SET) {
    g_autofree char *text = vlm_gvalue_describe (value);
    return json_node_init_string (node, text);
  }
  switch (G_TYPE_FUNDAMENTAL (type)) {
  case G_TYPE_BOOLEAN: return json_node_init_boolean (node, g_value_get_boolean (value));
  case G_TYPE_INT: return json_node_init_int (node, g_value_get_int (value));
  case G_TYPE_UINT: return json_node_init_int (node, g_value_get_uint (value));
  case G_TYPE_INT64: return json_node_init_int (node, g_value_get_int64 (value));
  case G_TYPE_UINT64: return json_node_init_int (node, (gint64) g_value_get_uint64 (value));
  case G_TYPE_LONG: return json_node_init_int (node, g_value_get_long (value));
  case G_TYPE_ULONG: return json_node_init_int (node, (gint64) g_value_get_ulong (value));
  case G_TYPE_DOUBLE: return json_node_init_double (node, g_value_get_double (value));
  case G_TYPE_FLOAT: return json_node_init_double (node, g_value_get_float (value));
  case G_TYPE_STRING:
    if (!g_value_get_string (value))
      return json_node_init_null (node);
    return json_node_init_string (node, g_value_get_string (value));
  case G_TYPE_ENUM: {
    GEnumClass *klass = g_type_class_ref (type);
    GEnumValue *v = g_enum_get_value (klass, g_value_get_enum (value));
    json_node_init_string (node, v ? v->value_nick : "?");
    g_type_class_unref (klass);
    return node;
  }
  default: {
    g_autofree char *text = vlm_gvalue_describe (value);
    return json_node_init_string (node, text);
  }
  }
}

/**
 * vlm_gvalue_describe: (skip)
 * @value: a value
 *
 * Returns: (transfer full): a short human-readable rendering
 */
char *
vlm_gvalue_describe (const GValue *value)
{
  GType type = G_VALUE_TYPE (value);
  if (type == VLM_TYPE_TENSOR)
    return g_value_get_boxed (value) ? vlm_tensor_describe (g_value_get_boxed (value))
                                     : g_strdup ("(none)");
  if (type == VLM_TYPE_TENSOR_SET) {
    VlmTensorSet *set = g_value_get_boxed (value);
    GString *s = g_string_new ("{");
    for (guint i = 0; set && i < vlm_tensor_set_get_size (set); i++) {
      g_autofree char *d = vlm_tensor_describe (vlm_tensor_set_get_nth (set, i));
      g_string_append_printf (s, "%s%s: %s", i ? ", " : "", vlm_tensor_set_get_nth_name (set, i), d);
    }
    g_string_append_c (s, '}');
    return g_string_free (s, FALSE);
  }
  if (type == G_TYPE_STRV) {
    const char *const *strv = g_value_get_boxed (value);
    g_autofree char *joined = strv ? g_strjoinv (", ", (GStrv) strv) : g_strdup ("");
    return g_strdup_printf ("[%s]", joined);
  }
  if (G_TYPE_FUNDAMENTAL (type) == G_TYPE_STRING)
    return g_strdup_printf ("\"%s\"", g_value_get_string (value) ? g_value_get_string (value) : "");
  if (G_TYPE_FUNDAMENTAL (type) == G_TYPE_ENUM) {
    GEnumClass *klass = g_type_class_ref (type);
    GEnumValue *v = g_enum_get_value (klass, g_value_get_enum (value));
    char *s = g_strdup (v ? v->value_nick : "?");
    g_type_class_unref (klass);
    return s;
  }
  if (G_TYPE_FUNDAMENTAL (type) == G_TYPE_OBJECT)
    return g_strdup_printf ("<%s>", g_value_get_object (value)
                                      ? G_OBJECT_TYPE_NAME (g_value_get_object (value)) : "null");
  GValue str = G_VALUE_INIT;
  g_value_init (&str, G_TYPE_STRING);
  char *out = g_value_transform (value, &str) ? g_value_dup_string (&str) : g_strdup (g_type_name (type));
  g_value_unset (&str);
  return out;
}
