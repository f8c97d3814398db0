/* jinja-value.c: refcounted template values with Python's str(), repr(),
 * equality and truthiness, and conversion from JSON. */
#include "text/jinja-private.h"

#include <math.h>
#include <string.h>

struct _JDict {
  GPtrArray *keys;         /* char*, insertion order */
  GHashTable *map;         /* key -> JValue* */
};

static JValue *
jv_new (JvType type)
{
  JValue *v = g_new0 (JValue, 1);
  v->ref = 1;
  v->type = type;
  return v;
}

JValue *
jv_ref (JValue *v)
{
  g_atomic_int_inc (&v->ref);
  return v;
}

void
jv_unref (JValue *v)
{
  if (!v || !g_atomic_int_dec_and_test (&v->ref)) return;
  switch (v->type) {
  case JV_STRING:
  case JV_UNDEFINED:
    g_free (v->u.s);
    break;
  case JV_LIST:
    g_ptr_array_unref (v->u.list);
    break;
  case JV_DICT:
    g_ptr_array_unref (v->u.dict->keys);
    g_hash_table_unref (v->u.dict->map);
    g_free (v->u.dict);
    break;
  case JV_FUNCTION:
    jv_unref (v->u.func.self);
    g_free (v->u.func.name);
    break;
  default:
    break;
  }
  g_free (v);
}

JValue *
jv_undefined (const char *name)
{
  JValue *v = jv_new (JV_UNDEFINED);
  v->u.s = g_strdup (name);
  return v;
}

JValue *jv_none (void) { return jv_new (JV_NONE); }

JValue *
jv_bool (gboolean b)
{
  JValue *v = jv_new (JV_BOOL);
  v->u.b = !!b;
  return v;
}

JValue *
jv_int (gint64 i)
{
  JValue *v = jv_new (JV_INT);
  v->u.i = i;
  return v;
}

JValue *
jv_float (double f)
{
  JValue *v = jv_new (JV_FLOAT);
  v->u.f = f;
  return v;
}

JValue *
jv_string_take (char *s)
{
  JValue *v = jv_new (JV_STRING);
  v->u.s = s;
  return v;
}

JValue *
jv_string (const char *s)
{
  return jv_string_take (g_strdup (s));
}

JValue *
jv_list_new (void)
{
  JValue *v = jv_new (JV_LIST);
  v->u.list = g_ptr_array_new_with_free_func ((GDestroyNotify) jv_unref);
  return v;
}

void
jv_list_append (JValue *list, JValue *item)
{
  g_ptr_array_add (list->u.list, item);
}

JValue *
jv_dict_new (void)
{
  JValue *v = jv_new (JV_DICT);
  v->u.dict = g_new0 (JDict, 1);
  v->u.dict->keys = g_ptr_array_new_with_free_func (g_free);
  v->u.dict->map = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) jv_unref);
  return v;
}

void
jv_dict_set (JValue *dict, const char *key, JValue *value)
{
  JDict *d = dict->u.dict;
  char *stored = NULL;
  for (guint i = 0; i < d->keys->len && !stored; i++)
    if (strcmp (d->keys->pdata[i], key) == 0) stored = d->keys->pdata[i];
  if (!stored) {
    stored = g_strdup (key);
    g_ptr_array_add (d->keys, stored);
  }
  g_hash_table_replace (d->map, stored, value);
}

JValue *
jv_dict_get (JValue *dict, const char *key)
{
  return g_hash_table_lookup (dict->u.dict->map, key);
}

guint
jv_dict_size (JValue *dict)
{
  return dict->u.dict->keys->len;
}

const char *
jv_dict_key (JValue *dict, guint i)
{
  return dict->u.dict->keys->pdata[i];
}

JValue *
jv_function (const char *name, JFunc fn, JValue *self)
{
  JValue *v = jv_new (JV_FUNCTION);
  v->u.func.fn = fn;
  v->u.func.self = self ? jv_ref (self) : NULL;
  v->u.func.name = g_strdup (name);
  return v;
}

JValue *
jv_from_json (JsonNode *node)
{
  if (!node || JSON_NODE_HOLDS_NULL (node)) return jv_none ();
  if (JSON_NODE_HOLDS_OBJECT (node)) {
    JValue *d = jv_dict_new ();
    JsonObject *o = json_node_get_object (node);
    GList *members = json_object_get_members (o);
    for (GList *l = members; l; l = l->next)
      jv_dict_set (d, l->data, jv_from_json (json_object_get_member (o, l->data)));
    g_list_free (members);
    return d;
  }
  if (JSON_NODE_HOLDS_ARRAY (node)) {
    JValue *l = jv_list_new ();
    JsonArray *a = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (a); i++)
      jv_list_append (l, jv_from_json (json_array_get_element (a, i)));
    return l;
  }
  GType t = json_node_get_value_type (node);
  if (t == G_TYPE_BOOLEAN) return jv_bool (json_node_get_boolean (node));
  if (t == G_TYPE_INT64) return jv_int (json_node_get_int (node));
  if (t == G_TYPE_DOUBLE) return jv_float (json_node_get_double (node));
  return jv_string (json_node_get_string (node));
}

gboolean
jv_truthy (JValue *v)
{
  switch (v->type) {
  case JV_UNDEFINED:
  case JV_NONE: return FALSE;
  case JV_BOOL: return v->u.b;
  case JV_INT: return v->u.i != 0;
  case JV_FLOAT: return v->u.f != 0.0;
  case JV_STRING: return v->u.s[0] != '\0';
  case JV_LIST: return v->u.list->len > 0;
  case JV_DICT: return jv_dict_size (v) > 0;
  case JV_FUNCTION: return TRUE;
  }
  return FALSE;
}

static gboolean
jv_numeric (JValue *v, double *out)
{
  if (v->type == JV_INT) *out = (double) v->u.i;
  else if (v->type == JV_BOOL) *out = v->u.b;
  else if (v->type == JV_FLOAT) *out = v->u.f;
  else return FALSE;
  return TRUE;
}

gboolean
jv_equal (JValue *a, JValue *b)
{
  double x, y;
  if (jv_numeric (a, &x) && jv_numeric (b, &y)) {
    if (a->type != JV_FLOAT && b->type != JV_FLOAT) {
      gint64 ia = a->type == JV_BOOL ? a->u.b : a->u.i, ib = b->type == JV_BOOL ? b->u.b : b->u.i;
      return ia == ib;
    }
    return x == y;
  }
  if (a->type != b->type) return FALSE;
  switch (a->type) {
  case JV_UNDEFINED:
  case JV_NONE: return TRUE;
  case JV_STRING: return strcmp (a->u.s, b->u.s) == 0;
  case JV_LIST:
    if (a->u.list->len != b->u.list->len) return FALSE;
    for (guint i = 0; i < a->u.list->len; i++)
      if (!jv_equal (a->u.list->pdata[i], b->u.list->pdata[i])) return FALSE;
    return TRUE;
  case JV_DICT:
    if (jv_dict_size (a) != jv_dict_size (b)) return FALSE;
    for (guint i = 0; i < jv_dict_size (a); i++) {
      JValue *o = jv_dict_get (b, jv_dict_key (a, i));
      if (!o || !jv_equal (jv_dict_get (a, jv_dict_key (a, i)), o)) return FALSE;
    }
    return TRUE;
  default:
    return a == b;
  }
}

/* Python's float repr: the shortest digits that read back the same. */
static void
jv_append_float (GString *out, double f)
{
  if (isnan (f)) { g_string_append (out, "nan"); return; }
  if (isinf (f)) { g_string_append (out, f > 0 ? "inf" : "-inf"); return; }
  char buf[64];
  for (int p = 1; p <= 17; p++) {
    g_snprintf (buf, sizeof buf, "%.*g", p, f);
    if (g_ascii_strtod (buf, NULL) == f) break;
  }
  g_string_append (out, buf);
  if (!strpbrk (buf, ".e")) g_string_append (out, ".0");
}

static void
jv_append_str_repr (GString *out, const char *s)
{
  char q = (strchr (s, '\'') && !strchr (s, '"')) ? '"' : '\'';
  g_string_append_c (out, q);
  for (const char *p = s; *p; p++) {
    guchar c = *p;
    if (c == '\\' || c == (guchar) q) { g_string_append_c (out, '\\'); g_string_append_c (out, c); }
    else if (c == '\n') g_string_append (out, "\\n");
    else if (c == '\r') g_string_append (out, "\\r");
    else if (c == '\t') g_string_append (out, "\\t");
    else if (c < 0x20 || c == 0x7f) g_string_append_printf (out, "\\x%02x", c);
    else g_string_append_c (out, c);
  }
  g_string_append_c (out, q);
}

void
jv_append_repr (GString *out, JValue *v)
{
  switch (v->type) {
  case JV_STRING:
    jv_append_str_repr (out, v->u.s);
    return;
  case JV_LIST:
    g_string_append_c (out, '[');
    for (guint i = 0; i < v->u.list->len; i++) {
      if (i) g_string_append (out, ", ");
      jv_append_repr (out, v->u.list->pdata[i]);
    }
    g_string_append_c (out, ']');
    return;
  case JV_DICT:
    g_string_append_c (out, '{');
    for (guint i = 0; i < jv_dict_size (v); i++) {
      if (i) g_string_append (out, ", ");
      jv_append_str_repr (out, jv_dict_key (v, i));
      g_string_append (out, ": ");
      jv_append_repr (out, jv_dict_get (v, jv_dict_key (v, i)));
    }
    g_string_append_c (out, '}');
    return;
  default: {
    char *s = jv_to_str (v);
    g_string_append (out, s);
    g_free (s);
  }
  }
}

char *
jv_to_str (JValue *v)
{
  GString *out;
  switch (v->type) {
  case JV_UNDEFINED: return g_strdup ("");
  case JV_NONE: return g_strdup ("None");
  case JV_BOOL: return g_strdup (v->u.b ? "True" : "False");
  case JV_INT: return g_strdup_printf ("%" G_GINT64_FORMAT, v->u.i);
  case JV_FLOAT:
    out = g_string_new (NULL);
    jv_append_float (out, v->u.f);
    return g_string_free (out, FALSE);
  case JV_STRING: return g_strdup (v->u.s);
  case JV_FUNCTION: return g_strdup_printf ("<function %s>", v->u.func.name);
  default:
    out = g_string_new (NULL);
    jv_append_repr (out, v);
    return g_string_free (out, FALSE);
  }
}

/* json.dumps with ensure_ascii=False (what transformers' tojson filter uses). */
static void
jv_append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p; p++) {
    guchar c = *p;
    switch (c) {
    case '"': g_string_append (out, "\\\""); break;
    case '\\': g_string_append (out, "\\\\"); break;
    case '\n': g_string_append (out, "\\n"); break;
    case '\r': g_string_append (out, "\\r"); break;
    case '\t': g_string_append (out, "\\t"); break;
    case '\b': g_string_append (out, "\\b"); break;
    case '\f': g_string_append (out, "\\f"); break;
    default:
      if (c < 0x20) g_string_append_printf (out, "\\u%04x", c);
      else g_string_append_c (out, c);
    }
  }
  g_string_append_c (out, '"');
}

static void
jv_json_newline (GString *out, int indent, int level)
{
  if (indent < 0) return;
  g_string_append_c (out, '\n');
  for (int i = 0; i < indent * level; i++) g_string_append_c (out, ' ');
}

void
jv_append_json (GString *out, JValue *v, int indent, int level)
{
  const char *item_sep = indent >= 0 ? "," : ", ";
  switch (v->type) {
  case JV_UNDEFINED:
  case JV_NONE: g_string_append (out, "null"); return;
  case JV_BOOL: g_string_append (out, v->u.b ? "true" : "false"); return;
  case JV_STRING: jv_append_json_string (out, v->u.s); return;
  case JV_LIST:
    g_string_append_c (out, '[');
    for (guint i = 0; i < v->u.list->len; i++) {
      if (i) g_string_append (out, item_sep);
      jv_json_newline (out, indent, level + 1);
      jv_append_json (out, v->u.list->pdata[i], indent, level + 1);
    }
    if (v->u.list->len) jv_json_newline (out, indent, level);
    g_string_append_c (out, ']');
    return;
  case JV_DICT:
    g_string_append_c (out, '{');
    for (guint i = 0; i < jv_dict_size (v); i++) {
      if (i) g_string_append (out, item_sep);
      jv_json_newline (out, indent, level + 1);
      jv_append_json_string (out, jv_dict_key (v, i));
      g_string_append (out, ": ");
      jv_append_json (out, jv_dict_get (v, jv_dict_key (v, i)), indent, level + 1);
    }
    if (jv_dict_size (v)) jv_json_newline (out, indent, level);
    g_string_append_c (out, '}');
    return;
  default: {
    char *s = jv_to_str (v);
    g_string_append (out, s);
    g_free (s);
  }
  }
}

const char *
jv_type_name (JValue *v)
{
  static const char *names[] = { "Undefined", "NoneType", "bool", "int", "float", "str", "list",
                                 "dict", "function" };
  return names[v->type];
}

gboolean
jv_is_iterable (JValue *v)
{
  return v->type == JV_STRING || v->type == JV_LIST || v->type == JV_DICT || v->type == JV_UNDEFINED;
}

GPtrArray *
jv_iter_items (JValue *v)
{
  GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify) jv_unref);
  switch (v->type) {
  case JV_UNDEFINED:
    break;
  case JV_LIST:
    for (guint i = 0; i < v->u.list->len; i++) g_ptr_array_add (items, jv_ref (v->u.list->pdata[i]));
    break;
  case JV_DICT:
    for (guint i = 0; i < jv_dict_size (v); i++) g_ptr_array_add (items, jv_string (jv_dict_key (v, i)));
    break;
  case JV_STRING:
    for (const char *p = v->u.s; *p; p = g_utf8_next_char (p))
      g_ptr_array_add (items, jv_string_take (g_strndup (p, g_utf8_next_char (p) - p)));
    break;
  default:
    g_ptr_array_unref (items);
    return NULL;
  }
  return items;
}
