/* jinja-builtins.c: the filters, tests, globals and str/dict methods that chat
 * templates use, with Jinja2's lookup rules (getattr falls back to getitem and
 * the reverse; a failed lookup gives Undefined). */
#include "text/jinja-ast.h"

#include "vlm/vlm-error.h"

#include <string.h>

static gpointer
jfail_set (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gpointer
jfail_set (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID, msg);
  g_free (msg);
  return NULL;
}

#define JFAIL(error, ...) jfail_set ((error), __VA_ARGS__)

JValue *
jargs_get (JCallArgs *args, guint index, const char *kw)
{
  if (!args) return NULL;
  if (index < args->pos->len) return args->pos->pdata[index];
  for (guint i = 0; kw && i < args->kw_names->len; i++)
    if (!strcmp (args->kw_names->pdata[i], kw)) return args->kw_values->pdata[i];
  return NULL;
}

JValue *
jinja_undefined_error (JValue *undef, GError **error)
{
  if (undef->u.s) return JFAIL (error, "'%s' is undefined", undef->u.s);
  return JFAIL (error, "value is undefined");
}

static const char *
jstr_arg (JCallArgs *args, guint index, const char *kw, const char *fallback)
{
  JValue *v = jargs_get (args, index, kw);
  return v && v->type == JV_STRING ? v->u.s : fallback;
}

/* ---- str methods ---- */

static gboolean
jchar_in (gunichar c, const char *chars)
{
  if (!chars) return g_unichar_isspace (c);
  for (const char *p = chars; *p; p = g_utf8_next_char (p))
    if (g_utf8_get_char (p) == c) return TRUE;
  return FALSE;
}

static char *
jstrip (const char *s, const char *chars, gboolean left, gboolean right)
{
  const char *b = s, *e = s + strlen (s);
  if (left)
    while (b < e && jchar_in (g_utf8_get_char (b), chars)) b = g_utf8_next_char (b);
  if (right)
    while (e > b) {
      const char *p = g_utf8_prev_char (e);
      if (!jchar_in (g_utf8_get_char (p), chars)) break;
      e = p;
    }
  return g_strndup (b, e - b);
}

static char *
jcapitalize (const char *s)
{
  if (!*s) return g_strdup ("");
  const char *rest = g_utf8_next_char (s);
  char *first = g_utf8_strup (s, rest - s);
  char *tail = g_utf8_strdown (rest, -1);
  char *r = g_strconcat (first, tail, NULL);
  g_free (first);
  g_free (tail);
  return r;
}

static char *
jtitle (const char *s)
{
  GString *out = g_string_new (NULL);
  gboolean start = TRUE;
  for (const char *p = s; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    gunichar m = start ? g_unichar_totitle (c) : g_unichar_tolower (c);
    g_string_append_unichar (out, m);
    start = !g_unichar_isalnum (c);
  }
  return g_string_free (out, FALSE);
}

static JValue *
jsplit (const char *s, const char *sep, gint64 maxsplit)
{
  JValue *l = jv_list_new ();
  if (!sep) {                            /* runs of whitespace, no empty parts */
    const char *p = s;
    while (*p) {
      while (*p && g_unichar_isspace (g_utf8_get_char (p))) p = g_utf8_next_char (p);
      if (!*p) break;
      const char *b = p;
      if (maxsplit >= 0 && (gint64) l->u.list->len >= maxsplit) {
        char *rest = jstrip (b, NULL, FALSE, TRUE);
        jv_list_append (l, jv_string_take (rest));
        break;
      }
      while (*p && !g_unichar_isspace (g_utf8_get_char (p))) p = g_utf8_next_char (p);
      jv_list_append (l, jv_string_take (g_strndup (b, p - b)));
    }
    return l;
  }
  gsize sl = strlen (sep);
  const char *p = s;
  for (;;) {
    const char *hit = (maxsplit < 0 || (gint64) l->u.list->len < maxsplit) ? strstr (p, sep) : NULL;
    if (!hit) {
      jv_list_append (l, jv_string (p));
      return l;
    }
    jv_list_append (l, jv_string_take (g_strndup (p, hit - p)));
    p = hit + sl;
  }
}

static JValue *
jreplace (const char *s, const char *old, const char *new, gint64 count)
{
  GString *out = g_string_new (NULL);
  gsize ol = strlen (old);
  const char *p = s;
  gint64 done = 0;
  if (!ol) {                             /* Python inserts around every character */
    for (; *p && (count < 0 || done < count); p = g_utf8_next_char (p), done++) {
      g_string_append (out, new);
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
    if (!*p && (count < 0 || done < count)) g_string_append (out, new);
    g_string_append (out, p);
    return jv_string_take (g_string_free (out, FALSE));
  }
  const char *hit;
  while ((count < 0 || done < count) && (hit = strstr (p, old))) {
    g_string_append_len (out, p, hit - p);
    g_string_append (out, new);
    p = hit + ol;
    done++;
  }
  g_string_append (out, p);
  return jv_string_take (g_string_free (out, FALSE));
}

static JValue *
jmethod_str (JEval *ev, JValue *self, JCallArgs *args, GError **error, const char *m)
{
  const char *s = self->u.s;
  const char *a0 = jstr_arg (args, 0, NULL, NULL);
  if (!strcmp (m, "strip")) return jv_string_take (jstrip (s, a0, TRUE, TRUE));
  if (!strcmp (m, "lstrip")) return jv_string_take (jstrip (s, a0, TRUE, FALSE));
  if (!strcmp (m, "rstrip")) return jv_string_take (jstrip (s, a0, FALSE, TRUE));
  if (!strcmp (m, "upper")) return jv_string_take (g_utf8_strup (s, -1));
  if (!strcmp (m, "lower")) return jv_string_take (g_utf8_strdown (s, -1));
  if (!strcmp (m, "capitalize")) return jv_string_take (jcapitalize (s));
  if (!strcmp (m, "title")) return jv_string_take (jtitle (s));
  if (!strcmp (m, "startswith") || !strcmp (m, "endswith")) {
    JValue *arg = jargs_get (args, 0, NULL);
    gboolean start = m[0] == 's', hit = FALSE;
    if (!arg) return JFAIL (error, "str.%s() needs an argument", m);
    GPtrArray *cands = arg->type == JV_LIST ? g_ptr_array_ref (arg->u.list) : NULL;
    for (guint i = 0; i < (cands ? cands->len : 1) && !hit; i++) {
      JValue *c = cands ? cands->pdata[i] : arg;
      if (c->type != JV_STRING) {
        if (cands) g_ptr_array_unref (cands);
        return JFAIL (error, "str.%s() argument must be str, not %s", m, jv_type_name (c));
      }
      hit = start ? g_str_has_prefix (s, c->u.s) : g_str_has_suffix (s, c->u.s);
    }
    if (cands) g_ptr_array_unref (cands);
    return jv_bool (hit);
  }
  if (!strcmp (m, "split")) {
    JValue *max = jargs_get (args, 1, "maxsplit");
    const char *sep = jstr_arg (args, 0, "sep", NULL);
    if (sep && !*sep) return JFAIL (error, "str.split(): empty separator");
    return jsplit (s, sep, max && max->type == JV_INT ? max->u.i : -1);
  }
  if (!strcmp (m, "replace")) {
    const char *old = jstr_arg (args, 0, NULL, NULL), *new = jstr_arg (args, 1, NULL, NULL);
    JValue *count = jargs_get (args, 2, "count");
    if (!old || !new) return JFAIL (error, "str.replace() needs two string arguments");
    return jreplace (s, old, new, count && count->type == JV_INT ? count->u.i : -1);
  }
  if (!strcmp (m, "find")) {
    if (!a0) return JFAIL (error, "str.find() needs a string argument");
    const char *hit = strstr (s, a0);
    return jv_int (hit ? (gint64) g_utf8_pointer_to_offset (s, hit) : -1);
  }
  if (!strcmp (m, "join")) {
    JValue *arg = jargs_get (args, 0, NULL);
    GPtrArray *items = arg ? jv_iter_items (arg) : NULL;
    if (!items) return JFAIL (error, "str.join() needs an iterable");
    GString *out = g_string_new (NULL);
    for (guint i = 0; i < items->len; i++) {
      char *x = jv_to_str (items->pdata[i]);
      if (i) g_string_append (out, s);
      g_string_append (out, x);
      g_free (x);
    }
    g_ptr_array_unref (items);
    return jv_string_take (g_string_free (out, FALSE));
  }
  return JFAIL (error, "str has no method '%s'", m);
}

static JValue *
jmethod_dict (JEval *ev, JValue *self, JCallArgs *args, GError **error, const char *m)
{
  if (!strcmp (m, "get")) {
    JValue *key = jargs_get (args, 0, NULL), *def = jargs_get (args, 1, "default");
    JValue *v = key && key->type == JV_STRING ? jv_dict_get (self, key->u.s) : NULL;
    return v ? jv_ref (v) : def ? jv_ref (def) : jv_none ();
  }
  JValue *l = jv_list_new ();
  for (guint i = 0; i < jv_dict_size (self); i++) {
    const char *k = jv_dict_key (self, i);
    if (!strcmp (m, "keys")) jv_list_append (l, jv_string (k));
    else if (!strcmp (m, "values")) jv_list_append (l, jv_ref (jv_dict_get (self, k)));
    else {
      JValue *pair = jv_list_new ();
      jv_list_append (pair, jv_string (k));
      jv_list_append (pair, jv_ref (jv_dict_get (self, k)));
      jv_list_append (l, pair);
    }
  }
  return l;
}

static JValue *
jmethod (JEval *ev, JValue *fn_self, JCallArgs *args, GError **error)
{
  /* fn_self is a list [receiver, method name] (see jinja_getattr). */
  JValue *recv = fn_self->u.list->pdata[0];
  const char *m = ((JValue *) fn_self->u.list->pdata[1])->u.s;
  return recv->type == JV_STRING ? jmethod_str (ev, recv, args, error, m)
                                 : jmethod_dict (ev, recv, args, error, m);
}

static const char *const str_methods[] = { "strip", "lstrip", "rstrip", "upper", "lower",
  "capitalize", "title", "startswith", "endswith", "split", "replace", "find", "join", NULL };
static const char *const dict_methods[] = { "items", "keys", "values", "get", NULL };

static gboolean
jin_list (const char *const *list, const char *name)
{
  for (int i = 0; list[i]; i++)
    if (!strcmp (list[i], name)) return TRUE;
  return FALSE;
}

static JValue *
jbound (JValue *obj, const char *name)
{
  JValue *pair = jv_list_new ();
  jv_list_append (pair, jv_ref (obj));
  jv_list_append (pair, jv_string (name));
  JValue *f = jv_function (name, jmethod, pair);
  jv_unref (pair);
  return f;
}

JValue *
jinja_getattr (JValue *obj, const char *name, GError **error)
{
  if (obj->type == JV_UNDEFINED) return jinja_undefined_error (obj, error);
  if (obj->type == JV_DICT) {
    if (!obj->is_namespace && jin_list (dict_methods, name)) return jbound (obj, name);
    JValue *v = jv_dict_get (obj, name);
    return v ? jv_ref (v) : jv_undefined (name);
  }
  if (obj->type == JV_STRING && jin_list (str_methods, name)) return jbound (obj, name);
  return jv_undefined (name);
}

JValue *
jinja_getitem (JValue *obj, JValue *key, GError **error)
{
  if (obj->type == JV_UNDEFINED) return jinja_undefined_error (obj, error);
  if (key->type == JV_INT || key->type == JV_BOOL) {
    gint64 i = key->type == JV_INT ? key->u.i : key->u.b;
    if (obj->type == JV_LIST) {
      gint64 n = obj->u.list->len;
      if (i < 0) i += n;
      return i >= 0 && i < n ? jv_ref (obj->u.list->pdata[i]) : jv_undefined (NULL);
    }
    if (obj->type == JV_STRING) {
      gint64 n = g_utf8_strlen (obj->u.s, -1);
      if (i < 0) i += n;
      if (i < 0 || i >= n) return jv_undefined (NULL);
      const char *p = g_utf8_offset_to_pointer (obj->u.s, i);
      return jv_string_take (g_strndup (p, g_utf8_next_char (p) - p));
    }
  }
  if (key->type == JV_STRING) {
    if (obj->type == JV_DICT) {
      JValue *v = jv_dict_get (obj, key->u.s);
      if (v) return jv_ref (v);
    }
    return jinja_getattr (obj, key->u.s, error);
  }
  return jv_undefined (NULL);
}

/* ---- tests ---- */

static gboolean
jcompare (JValue *a, JValue *b, int *out)
{
  if ((a->type == JV_INT || a->type == JV_FLOAT || a->type == JV_BOOL)
      && (b->type == JV_INT || b->type == JV_FLOAT || b->type == JV_BOOL)) {
    double x = a->type == JV_INT ? a->u.i : a->type == JV_FLOAT ? a->u.f : a->u.b;
    double y = b->type == JV_INT ? b->u.i : b->type == JV_FLOAT ? b->u.f : b->u.b;
    *out = x < y ? -1 : x > y;
    return TRUE;
  }
  if (a->type == JV_STRING && b->type == JV_STRING) {
    int c = strcmp (a->u.s, b->u.s);
    *out = c < 0 ? -1 : c > 0;
    return TRUE;
  }
  return FALSE;
}

gboolean
jinja_test (const char *name, JValue *v, JCallArgs *args, gboolean *result, GError **error)
{
  JValue *arg = jargs_get (args, 0, NULL);
  JvType t = v->type;
  if (!strcmp (name, "defined")) *result = t != JV_UNDEFINED;
  else if (!strcmp (name, "undefined")) *result = t == JV_UNDEFINED;
  else if (!strcmp (name, "none")) *result = t == JV_NONE;
  else if (!strcmp (name, "string")) *result = t == JV_STRING;
  else if (!strcmp (name, "number")) *result = t == JV_INT || t == JV_FLOAT || t == JV_BOOL;
  else if (!strcmp (name, "integer")) *result = t == JV_INT;
  else if (!strcmp (name, "float")) *result = t == JV_FLOAT;
  else if (!strcmp (name, "boolean")) *result = t == JV_BOOL;
  else if (!strcmp (name, "true")) *result = t == JV_BOOL && v->u.b;
  else if (!strcmp (name, "false")) *result = t == JV_BOOL && !v->u.b;
  else if (!strcmp (name, "mapping")) *result = t == JV_DICT;
  else if (!strcmp (name, "iterable")) *result = jv_is_iterable (v);
  else if (!strcmp (name, "sequence")) *result = t == JV_LIST || t == JV_STRING || t == JV_DICT;
  else if (!strcmp (name, "callable")) *result = t == JV_FUNCTION;
  else if (!strcmp (name, "odd") || !strcmp (name, "even")) {
    if (t != JV_INT) { JFAIL (error, "test '%s' needs an integer", name); return FALSE; }
    *result = (v->u.i % 2 != 0) == (name[0] == 'o');
  } else if (!strcmp (name, "divisibleby")) {
    if (t != JV_INT || !arg || arg->type != JV_INT || arg->u.i == 0) {
      JFAIL (error, "test 'divisibleby' needs integers");
      return FALSE;
    }
    *result = v->u.i % arg->u.i == 0;
  } else if (!strcmp (name, "lower") || !strcmp (name, "upper")) {
    if (t != JV_STRING) { *result = FALSE; return TRUE; }
    char *conv = name[0] == 'l' ? g_utf8_strdown (v->u.s, -1) : g_utf8_strup (v->u.s, -1);
    *result = !strcmp (conv, v->u.s);
    g_free (conv);
  } else if (!arg) {
    JFAIL (error, "unknown test '%s' (or it needs an argument)", name);
    return FALSE;
  } else if (!strcmp (name, "equalto") || !strcmp (name, "eq") || !strcmp (name, "==")
             || !strcmp (name, "sameas")) {
    *result = jv_equal (v, arg);
  } else if (!strcmp (name, "ne") || !strcmp (name, "!=")) {
    *result = !jv_equal (v, arg);
  } else if (!strcmp (name, "in")) {
    GPtrArray *items = jv_iter_items (arg);
    *result = FALSE;
    if (arg->type == JV_STRING && t == JV_STRING) *result = strstr (arg->u.s, v->u.s) != NULL;
    else for (guint i = 0; items && i < items->len && !*result; i++) *result = jv_equal (v, items->pdata[i]);
    if (items) g_ptr_array_unref (items);
  } else {
    static const char *cmp[] = { "lt", "<", "le", "<=", "gt", ">", "ge", ">=" };
    int which = -1, c;
    for (int i = 0; i < 8; i++) if (!strcmp (name, cmp[i])) which = i / 2;
    if (which < 0) { JFAIL (error, "unknown test '%s'", name); return FALSE; }
    if (!jcompare (v, arg, &c)) {
      JFAIL (error, "cannot compare %s and %s", jv_type_name (v), jv_type_name (arg));
      return FALSE;
    }
    *result = which == 0 ? c < 0 : which == 1 ? c <= 0 : which == 2 ? c > 0 : c >= 0;
  }
  return TRUE;
}

/* ---- filters ---- */

/* Dotted attribute path lookup used by selectattr, map and join. */
static JValue *
jattr_path (JValue *v, const char *path, GError **error)
{
  char **parts = g_strsplit (path, ".", -1);
  JValue *cur = jv_ref (v);
  for (int i = 0; parts[i] && cur; i++) {
    char *end;
    gint64 idx = g_ascii_strtoll (parts[i], &end, 10);
    JValue *key = *end || !*parts[i] ? jv_string (parts[i]) : jv_int (idx);
    JValue *next = cur->type == JV_UNDEFINED ? jv_undefined (parts[i]) : jinja_getitem (cur, key, error);
    jv_unref (key);
    jv_unref (cur);
    cur = next;
  }
  g_strfreev (parts);
  return cur;
}

static JValue *
jselect (JValue *v, JCallArgs *args, gboolean by_attr, gboolean keep, GError **error)
{
  GPtrArray *items = jv_iter_items (v);
  if (!items) return JFAIL (error, "%s object is not iterable", jv_type_name (v));
  guint first_test_arg = by_attr ? 1 : 0;
  const char *attr = by_attr ? jstr_arg (args, 0, NULL, NULL) : NULL;
  const char *test = jstr_arg (args, first_test_arg, NULL, NULL);
  if (by_attr && !attr) {
    g_ptr_array_unref (items);
    return JFAIL (error, "selectattr/rejectattr need an attribute name");
  }
  JCallArgs targs = { g_ptr_array_new (), g_ptr_array_new (), g_ptr_array_new () };
  for (guint i = first_test_arg + 1; args && i < args->pos->len; i++) g_ptr_array_add (targs.pos, args->pos->pdata[i]);
  JValue *out = jv_list_new ();
  for (guint i = 0; i < items->len; i++) {
    JValue *x = items->pdata[i];
    JValue *probe = attr ? jattr_path (x, attr, error) : jv_ref (x);
    gboolean r;
    if (!probe) goto fail;
    if (test) {
      gboolean ok = jinja_test (test, probe, &targs, &r, error);
      if (!ok) { jv_unref (probe); goto fail; }
    } else {
      r = jv_truthy (probe);
    }
    jv_unref (probe);
    if (r == keep) jv_list_append (out, jv_ref (x));
  }
  g_ptr_array_unref (items);
  g_ptr_array_unref (targs.pos); g_ptr_array_unref (targs.kw_names); g_ptr_array_unref (targs.kw_values);
  return out;
fail:
  g_ptr_array_unref (items);
  g_ptr_array_unref (targs.pos); g_ptr_array_unref (targs.kw_names); g_ptr_array_unref (targs.kw_values);
  jv_unref (out);
  return NULL;
}

static gint64
jlength (JValue *v, gboolean *ok)
{
  *ok = TRUE;
  switch (v->type) {
  case JV_STRING: return g_utf8_strlen (v->u.s, -1);
  case JV_LIST: return v->u.list->len;
  case JV_DICT: return jv_dict_size (v);
  case JV_UNDEFINED: return 0;
  default: *ok = FALSE; return 0;
  }
}

static int
jsort_cmp (gconstpointer a, gconstpointer b)
{
  JValue *x = *(JValue **) a, *y = *(JValue **) b;
  if (x->type == JV_LIST && x->u.list->len) x = x->u.list->pdata[0];
  if (y->type == JV_LIST && y->u.list->len) y = y->u.list->pdata[0];
  int c = 0;
  jcompare (x, y, &c);
  return c;
}

JValue *
jinja_filter (const char *name, JValue *v, JCallArgs *args, GError **error)
{
  if (!strcmp (name, "default") || !strcmp (name, "d")) {
    JValue *def = jargs_get (args, 0, "default_value"), *boolean = jargs_get (args, 1, "boolean");
    gboolean use = v->type == JV_UNDEFINED || (boolean && jv_truthy (boolean) && !jv_truthy (v));
    return use ? (def ? jv_ref (def) : jv_string ("")) : jv_ref (v);
  }
  if (!strcmp (name, "length") || !strcmp (name, "count")) {
    gboolean ok;
    gint64 n = jlength (v, &ok);
    if (!ok) return JFAIL (error, "object of type '%s' has no len()", jv_type_name (v));
    return jv_int (n);
  }
  if (!strcmp (name, "tojson")) {
    JValue *indent = jargs_get (args, 0, "indent");
    GString *out = g_string_new (NULL);
    jv_append_json (out, v, indent && indent->type == JV_INT ? (int) indent->u.i : -1, 0);
    return jv_string_take (g_string_free (out, FALSE));
  }
  if (!strcmp (name, "selectattr") || !strcmp (name, "rejectattr"))
    return jselect (v, args, TRUE, name[0] == 's', error);
  if (!strcmp (name, "select") || !strcmp (name, "reject"))
    return jselect (v, args, FALSE, !strcmp (name, "select"), error);
  if (!strcmp (name, "list")) {
    GPtrArray *items = jv_iter_items (v);
    if (!items) return JFAIL (error, "%s object is not iterable", jv_type_name (v));
    JValue *l = jv_list_new ();
    for (guint i = 0; i < items->len; i++) jv_list_append (l, jv_ref (items->pdata[i]));
    g_ptr_array_unref (items);
    return l;
  }
  if (!strcmp (name, "first") || !strcmp (name, "last") || !strcmp (name, "reverse")
      || !strcmp (name, "unique") || !strcmp (name, "sort")) {
    if (v->type == JV_STRING && !strcmp (name, "reverse")) {
      char *r = g_utf8_strreverse (v->u.s, -1);
      return jv_string_take (r);
    }
    GPtrArray *items = jv_iter_items (v);
    if (!items) return JFAIL (error, "%s object is not iterable", jv_type_name (v));
    JValue *r;
    if (name[0] == 'f' || name[0] == 'l')
      r = items->len ? jv_ref (items->pdata[name[0] == 'f' ? 0 : items->len - 1]) : jv_undefined (NULL);
    else {
      r = jv_list_new ();
      if (name[0] == 's') g_ptr_array_sort (items, jsort_cmp);
      for (guint i = 0; i < items->len; i++) {
        JValue *x = items->pdata[name[0] == 'r' ? items->len - 1 - i : i];
        gboolean seen = FALSE;
        for (guint k = 0; name[0] == 'u' && k < r->u.list->len && !seen; k++) seen = jv_equal (x, r->u.list->pdata[k]);
        if (!seen) jv_list_append (r, jv_ref (x));
      }
    }
    g_ptr_array_unref (items);
    return r;
  }
  if (!strcmp (name, "join")) {
    GPtrArray *items = jv_iter_items (v);
    if (!items) return JFAIL (error, "%s object is not iterable", jv_type_name (v));
    const char *sep = jstr_arg (args, 0, "d", "");
    const char *attr = jstr_arg (args, 1, "attribute", NULL);
    GString *out = g_string_new (NULL);
    for (guint i = 0; i < items->len; i++) {
      JValue *x = attr ? jattr_path (items->pdata[i], attr, error) : jv_ref (items->pdata[i]);
      if (!x) { g_ptr_array_unref (items); g_string_free (out, TRUE); return NULL; }
      char *s = jv_to_str (x);
      if (i) g_string_append (out, sep);
      g_string_append (out, s);
      g_free (s);
      jv_unref (x);
    }
    g_ptr_array_unref (items);
    return jv_string_take (g_string_free (out, FALSE));
  }
  if (!strcmp (name, "map")) {
    GPtrArray *items = jv_iter_items (v);
    if (!items) return JFAIL (error, "%s object is not iterable", jv_type_name (v));
    const char *attr = jstr_arg (args, G_MAXUINT, "attribute", NULL);
    const char *filter = attr ? NULL : jstr_arg (args, 0, NULL, NULL);
    JValue *out = jv_list_new ();
    for (guint i = 0; i < items->len; i++) {
      JValue *x = attr ? jattr_path (items->pdata[i], attr, error)
                : filter ? jinja_filter (filter, items->pdata[i], NULL, error)
                : NULL;
      if (!x) {
        if (!attr && !filter) JFAIL (error, "map needs attribute= or a filter name");
        g_ptr_array_unref (items);
        jv_unref (out);
        return NULL;
      }
      jv_list_append (out, x);
    }
    g_ptr_array_unref (items);
    return out;
  }
  if (!strcmp (name, "items") || !strcmp (name, "dictsort")) {
    if (v->type != JV_DICT) return JFAIL (error, "filter '%s' needs a dict", name);
    JValue *r = jmethod_dict (NULL, v, NULL, error, "items");
    if (name[0] == 'd') g_ptr_array_sort (r->u.list, jsort_cmp);
    return r;
  }
  if (!strcmp (name, "safe") || !strcmp (name, "e") || !strcmp (name, "escape")) return jv_ref (v);
  if (!strcmp (name, "int")) {
    if (v->type == JV_INT) return jv_ref (v);
    if (v->type == JV_FLOAT) return jv_int ((gint64) v->u.f);
    if (v->type == JV_BOOL) return jv_int (v->u.b);
    if (v->type == JV_STRING) {
      char *end;
      gint64 i = g_ascii_strtoll (v->u.s, &end, 10);
      return jv_int (*end ? 0 : i);
    }
    return jv_int (0);
  }
  if (!strcmp (name, "abs")) {
    if (v->type == JV_INT) return jv_int (v->u.i < 0 ? -v->u.i : v->u.i);
    if (v->type == JV_FLOAT) return jv_float (v->u.f < 0 ? -v->u.f : v->u.f);
    return JFAIL (error, "bad operand type for abs(): '%s'", jv_type_name (v));
  }
  /* The rest work on the string form of the value. */
  g_autofree char *s = jv_to_str (v);
  if (!strcmp (name, "string")) return jv_string (s);
  if (!strcmp (name, "trim")) return jv_string_take (jstrip (s, jstr_arg (args, 0, "chars", NULL), TRUE, TRUE));
  if (!strcmp (name, "upper")) return jv_string_take (g_utf8_strup (s, -1));
  if (!strcmp (name, "lower")) return jv_string_take (g_utf8_strdown (s, -1));
  if (!strcmp (name, "capitalize")) return jv_string_take (jcapitalize (s));
  if (!strcmp (name, "title")) return jv_string_take (jtitle (s));
  if (!strcmp (name, "replace")) {
    const char *old = jstr_arg (args, 0, "old", NULL), *new = jstr_arg (args, 1, "new", NULL);
    JValue *count = jargs_get (args, 2, "count");
    if (!old || !new) return JFAIL (error, "filter 'replace' needs two strings");
    return jreplace (s, old, new, count && count->type == JV_INT ? count->u.i : -1);
  }
  if (!strcmp (name, "indent")) {
    JValue *w = jargs_get (args, 0, "width");
    JValue *first = jargs_get (args, 1, "first");
    gint64 width = w && w->type == JV_INT ? w->u.i : 4;
    char *pad = g_strnfill (CLAMP (width, 0, 256), ' ');
    GString *out = g_string_new (NULL);
    char **lines = g_strsplit (s, "\n", -1);
    for (int i = 0; lines[i]; i++) {
      if (i) g_string_append_c (out, '\n');
      if ((i > 0 || (first && jv_truthy (first))) && lines[i][0]) g_string_append (out, pad);
      g_string_append (out, lines[i]);
    }
    g_strfreev (lines);
    g_free (pad);
    return jv_string_take (g_string_free (out, FALSE));
  }
  return JFAIL (error, "unknown filter '%s'", name);
}

/* ---- globals ---- */

static JValue *
jg_raise_exception (JEval *ev, JValue *self, JCallArgs *args, GError **error)
{
  JValue *msg = jargs_get (args, 0, NULL);
  g_autofree char *text = msg ? jv_to_str (msg) : g_strdup ("raise_exception() called");
  return JFAIL (error, "%s", text);
}

static JValue *
jg_namespace (JEval *ev, JValue *self, JCallArgs *args, GError **error)
{
  JValue *ns = jv_dict_new ();
  ns->is_namespace = TRUE;
  if (args->pos->len == 1 && ((JValue *) args->pos->pdata[0])->type == JV_DICT) {
    JValue *init = args->pos->pdata[0];
    for (guint i = 0; i < jv_dict_size (init); i++)
      jv_dict_set (ns, jv_dict_key (init, i), jv_ref (jv_dict_get (init, jv_dict_key (init, i))));
  }
  for (guint i = 0; i < args->kw_names->len; i++)
    jv_dict_set (ns, args->kw_names->pdata[i], jv_ref (args->kw_values->pdata[i]));
  return ns;
}

static JValue *
jg_dict (JEval *ev, JValue *self, JCallArgs *args, GError **error)
{
  JValue *d = jg_namespace (ev, self, args, error);
  d->is_namespace = FALSE;
  return d;
}

static JValue *
jg_range (JEval *ev, JValue *self, JCallArgs *args, GError **error)
{
  gint64 v[3] = { 0, 0, 1 };
  guint n = args->pos->len;
  if (n < 1 || n > 3) return JFAIL (error, "range() takes 1 to 3 arguments");
  for (guint i = 0; i < n; i++) {
    JValue *a = args->pos->pdata[i];
    if (a->type != JV_INT) return JFAIL (error, "range() arguments must be integers");
    v[n == 1 ? 1 : i] = a->u.i;
  }
  if (v[2] == 0) return JFAIL (error, "range() step must not be zero");
  JValue *l = jv_list_new ();
  for (gint64 i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) {
    if (l->u.list->len >= 1000000) {
      jv_unref (l);
      return JFAIL (error, "range() too long");
    }
    jv_list_append (l, jv_int (i));
  }
  return l;
}

static JValue *
jg_strftime_now (JEval *ev, JValue *self, JCallArgs *args, GError **error)
{
  const char *fmt = jstr_arg (args, 0, NULL, NULL);
  if (!fmt) return JFAIL (error, "strftime_now() needs a format string");
  GDateTime *now = g_date_time_new_now_local ();
  char *s = g_date_time_format (now, fmt);
  g_date_time_unref (now);
  return s ? jv_string_take (s) : JFAIL (error, "strftime_now(): bad format '%s'", fmt);
}

JValue *
jinja_global (const char *name)
{
  static const struct { const char *name; JFunc fn; } globals[] = {
    { "raise_exception", jg_raise_exception }, { "namespace", jg_namespace },
    { "dict", jg_dict }, { "range", jg_range }, { "strftime_now", jg_strftime_now },
  };
  for (guint i = 0; i < G_N_ELEMENTS (globals); i++)
    if (!strcmp (name, globals[i].name)) return jv_function (name, globals[i].fn, NULL);
  return NULL;
}
