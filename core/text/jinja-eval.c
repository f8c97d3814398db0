/* jinja-eval.c: renders a parsed template. Scoping follows Jinja2: each loop
 * iteration and macro call has its own frame, `set` writes to the innermost
 * frame, and only namespace() objects carry values out of a loop. */
#include "text/jinja-ast.h"

#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

#define JINJA_MAX_DEPTH 200
#define JINJA_MAX_OUTPUT (256u << 20)

typedef struct _JFrame JFrame;
struct _JFrame {
  GHashTable *vars;        /* name -> JValue* */
  JFrame *parent;
};

struct _JEval {
  const char *name;
  JFrame *globals;         /* the frame macros run in */
  gboolean located;        /* the error already names its line */
  int depth;
};

typedef enum { JR_OK, JR_BREAK, JR_CONTINUE, JR_ERROR } JResult;

static JFrame *
jframe_new (JFrame *parent)
{
  JFrame *f = g_new0 (JFrame, 1);
  f->vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) jv_unref);
  f->parent = parent;
  return f;
}

static void
jframe_free (JFrame *f)
{
  g_hash_table_unref (f->vars);
  g_free (f);
}

static void
jframe_set (JFrame *f, const char *name, JValue *v)
{
  g_hash_table_replace (f->vars, g_strdup (name), v);
}

static JValue *
jframe_lookup (JFrame *f, const char *name)
{
  for (; f; f = f->parent) {
    JValue *v = g_hash_table_lookup (f->vars, name);
    if (v) return jv_ref (v);
  }
  JValue *g = jinja_global (name);
  return g ? g : jv_undefined (name);
}

/* Adds "template NAME line N: CONSTRUCT: " to an error once. */
static void
jlocate (JEval *ev, JNode *n, const char *construct, GError **error)
{
  if (ev->located || !error || !*error) return;
  ev->located = TRUE;
  g_prefix_error (error, "template %s line %d: %s%s", ev->name, n->line, construct ? construct : "",
                  construct ? ": " : "");
}

static gpointer
jfail (JEval *ev, JNode *n, GError **error, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gpointer
jfail (JEval *ev, JNode *n, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "template %s line %d: %s", ev->name, n->line, msg);
  ev->located = TRUE;
  g_free (msg);
  return NULL;
}

static JValue *jeval (JEval *ev, JFrame *f, JNode *n, GError **error);
static JResult jrender (JEval *ev, JFrame *f, JNode *n, GString *out, GError **error);

static void
jargs_clear (JCallArgs *a)
{
  g_clear_pointer (&a->pos, g_ptr_array_unref);
  g_clear_pointer (&a->kw_names, g_ptr_array_unref);
  g_clear_pointer (&a->kw_values, g_ptr_array_unref);
}

static gboolean
jargs_eval (JEval *ev, JFrame *f, JNode *n, JCallArgs *a, GError **error)
{
  a->pos = g_ptr_array_new_with_free_func ((GDestroyNotify) jv_unref);
  a->kw_names = g_ptr_array_new ();
  a->kw_values = g_ptr_array_new_with_free_func ((GDestroyNotify) jv_unref);
  for (guint i = 0; n->items && i < n->items->len; i++) {
    JValue *v = jeval (ev, f, n->items->pdata[i], error);
    if (!v) return FALSE;
    g_ptr_array_add (a->pos, v);
  }
  for (guint i = 0; n->kw_names && i < n->kw_names->len; i++) {
    JValue *v = jeval (ev, f, n->kw_values->pdata[i], error);
    if (!v) return FALSE;
    g_ptr_array_add (a->kw_names, n->kw_names->pdata[i]);
    g_ptr_array_add (a->kw_values, v);
  }
  return TRUE;
}

static JValue *
jcall_macro (JEval *ev, JNode *macro, JCallArgs *args, GError **error)
{
  JFrame *f = jframe_new (ev->globals);
  JValue *result = NULL;
  for (guint i = 0; i < macro->kw_names->len; i++) {
    const char *pname = macro->kw_names->pdata[i];
    JValue *v = jargs_get (args, i, pname);
    if (v) v = jv_ref (v);
    else if (macro->kw_values->pdata[i] && !(v = jeval (ev, f, macro->kw_values->pdata[i], error)))
      goto done;
    else if (!v) v = jv_undefined (pname);
    jframe_set (f, pname, v);
  }
  GString *out = g_string_new (NULL);
  if (jrender (ev, f, macro->a, out, error) == JR_ERROR) {
    g_string_free (out, TRUE);
    goto done;
  }
  result = jv_string_take (g_string_free (out, FALSE));
done:
  jframe_free (f);
  return result;
}

static JValue *
jarith (JEval *ev, JNode *n, const char *op, JValue *a, JValue *b, GError **error)
{
  gboolean an = a->type == JV_INT || a->type == JV_FLOAT || a->type == JV_BOOL;
  gboolean bn = b->type == JV_INT || b->type == JV_FLOAT || b->type == JV_BOOL;
  if (a->type == JV_UNDEFINED) return jinja_undefined_error (a, error);
  if (b->type == JV_UNDEFINED) return jinja_undefined_error (b, error);
  if (!strcmp (op, "+")) {
    if (a->type == JV_STRING && b->type == JV_STRING)
      return jv_string_take (g_strconcat (a->u.s, b->u.s, NULL));
    if (a->type == JV_LIST && b->type == JV_LIST) {
      JValue *l = jv_list_new ();
      for (guint i = 0; i < a->u.list->len; i++) jv_list_append (l, jv_ref (a->u.list->pdata[i]));
      for (guint i = 0; i < b->u.list->len; i++) jv_list_append (l, jv_ref (b->u.list->pdata[i]));
      return l;
    }
    if ((a->type == JV_STRING || a->type == JV_LIST) && !(an && bn)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "can only concatenate %s (not \"%s\") to %s", jv_type_name (a), jv_type_name (b),
                   jv_type_name (a));
      return NULL;
    }
  }
  if (!strcmp (op, "*") && ((a->type == JV_STRING && b->type == JV_INT) || (a->type == JV_INT && b->type == JV_STRING))) {
    JValue *s = a->type == JV_STRING ? a : b;
    gint64 k = a->type == JV_INT ? a->u.i : b->u.i;
    if (k * (gint64) strlen (s->u.s) > JINJA_MAX_OUTPUT) return jfail (ev, n, error, "string repetition too large");
    GString *out = g_string_new (NULL);
    for (gint64 i = 0; i < k; i++) g_string_append (out, s->u.s);
    return jv_string_take (g_string_free (out, FALSE));
  }
  if (!an || !bn) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "unsupported operand type(s) for %s: '%s' and '%s'",
                 op, jv_type_name (a), jv_type_name (b));
    return NULL;
  }
  gboolean ints = a->type != JV_FLOAT && b->type != JV_FLOAT;
  gint64 x = a->type == JV_BOOL ? a->u.b : a->u.i, y = b->type == JV_BOOL ? b->u.b : b->u.i;
  double fx = a->type == JV_FLOAT ? a->u.f : (double) x, fy = b->type == JV_FLOAT ? b->u.f : (double) y;
  switch (op[0]) {
  case '+': return ints ? jv_int (x + y) : jv_float (fx + fy);
  case '-': return ints ? jv_int (x - y) : jv_float (fx - fy);
  case '*':
    if (op[1] == '*') return ints && y >= 0 ? jv_int ((gint64) pow ((double) x, (double) y)) : jv_float (pow (fx, fy));
    return ints ? jv_int (x * y) : jv_float (fx * fy);
  case '/':
    if (fy == 0) return jfail (ev, n, error, "division by zero");
    if (op[1] == '/') {
      if (ints) {
        gint64 q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
        return jv_int (q);
      }
      return jv_float (floor (fx / fy));
    }
    return jv_float (fx / fy);
  case '%':
    if (fy == 0) return jfail (ev, n, error, "modulo by zero");
    if (ints) {
      gint64 r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return jv_int (r);
    }
    return jv_float (fx - fy * floor (fx / fy));
  }
  return jfail (ev, n, error, "unknown operator %s", op);
}

static JValue *
jbinary (JEval *ev, JNode *n, JValue *a, JValue *b, GError **error)
{
  const char *op = n->name;
  if (!strcmp (op, "~")) {
    char *x = jv_to_str (a), *y = jv_to_str (b);
    JValue *r = jv_string_take (g_strconcat (x, y, NULL));
    g_free (x);
    g_free (y);
    return r;
  }
  if (!strcmp (op, "==")) return jv_bool (jv_equal (a, b));
  if (!strcmp (op, "!=")) return jv_bool (!jv_equal (a, b));
  if (!strcmp (op, "in") || !strcmp (op, "not in")) {
    gboolean found;
    JCallArgs args = { g_ptr_array_new (), g_ptr_array_new (), g_ptr_array_new () };
    if (b->type == JV_STRING && a->type != JV_STRING) {
      jargs_clear (&args);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "'in <string>' requires string as left operand, not %s", jv_type_name (a));
      return NULL;
    }
    if (!jv_is_iterable (b)) {
      jargs_clear (&args);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "argument of type '%s' is not iterable",
                   jv_type_name (b));
      return NULL;
    }
    g_ptr_array_add (args.pos, b);
    jinja_test ("in", a, &args, &found, error);
    jargs_clear (&args);
    return jv_bool (op[0] == 'n' ? !found : found);
  }
  if (op[0] == '<' || op[0] == '>') {
    const char *cmp = !strcmp (op, "<") ? "lt" : !strcmp (op, "<=") ? "le" : !strcmp (op, ">") ? "gt" : "ge";
    JCallArgs args = { g_ptr_array_new (), g_ptr_array_new (), g_ptr_array_new () };
    gboolean r = FALSE;
    g_ptr_array_add (args.pos, b);
    if (a->type == JV_UNDEFINED || b->type == JV_UNDEFINED) {
      jargs_clear (&args);
      return jinja_undefined_error (a->type == JV_UNDEFINED ? a : b, error);
    }
    gboolean ok = jinja_test (cmp, a, &args, &r, error);
    jargs_clear (&args);
    return ok ? jv_bool (r) : NULL;
  }
  return jarith (ev, n, op, a, b, error);
}

static JValue *
jslice (JEval *ev, JFrame *f, JNode *n, JValue *target, GError **error)
{
  JValue *parts[3] = { NULL, NULL, NULL };
  JNode *nodes[3] = { n->b, n->items->pdata[0], n->items->pdata[1] };
  gint64 v[3];
  JValue *result = NULL;
  for (int i = 0; i < 3; i++) {
    if (nodes[i] && !(parts[i] = jeval (ev, f, nodes[i], error))) goto done;
    if (parts[i] && parts[i]->type != JV_INT && parts[i]->type != JV_NONE) {
      jfail (ev, n, error, "slice indices must be integers or None");
      goto done;
    }
  }
  gint64 step = parts[2] && parts[2]->type == JV_INT ? parts[2]->u.i : 1;
  if (step == 0) { jfail (ev, n, error, "slice step cannot be zero"); goto done; }
  GPtrArray *items = target->type == JV_STRING || target->type == JV_LIST ? jv_iter_items (target) : NULL;
  if (!items) { jfail (ev, n, error, "cannot slice a %s", jv_type_name (target)); goto done; }
  gint64 len = items->len;
  for (int i = 0; i < 2; i++) {
    gboolean given = parts[i] && parts[i]->type == JV_INT;
    gint64 x = given ? parts[i]->u.i : 0;
    if (!given) x = i == 0 ? (step > 0 ? 0 : len - 1) : (step > 0 ? len : -1);
    else {
      if (x < 0) x += len;
      if (step > 0) x = CLAMP (x, 0, len);
      else x = CLAMP (x, -1, len - 1);
    }
    v[i] = x;
  }
  GPtrArray *picked = g_ptr_array_new ();
  for (gint64 i = v[0]; step > 0 ? i < v[1] : i > v[1]; i += step) g_ptr_array_add (picked, items->pdata[i]);
  if (target->type == JV_STRING) {
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < picked->len; i++) g_string_append (s, ((JValue *) picked->pdata[i])->u.s);
    result = jv_string_take (g_string_free (s, FALSE));
  } else {
    result = jv_list_new ();
    for (guint i = 0; i < picked->len; i++) jv_list_append (result, jv_ref (picked->pdata[i]));
  }
  g_ptr_array_unref (picked);
  g_ptr_array_unref (items);
done:
  for (int i = 0; i < 3; i++) if (parts[i]) jv_unref (parts[i]);
  return result;
}

static JValue *
jeval_inner (JEval *ev, JFrame *f, JNode *n, GError **error)
{
  g_autoptr (JValue) a = NULL;
  g_autoptr (JValue) b = NULL;
  JCallArgs args = { 0 };
  JValue *r = NULL;
  switch (n->kind) {
  case JN_LITERAL:
    return jv_ref (n->value);
  case JN_NAME:
    return jframe_lookup (f, n->name);
  case JN_LIST:
  case JN_DICT: {
    JValue *c = n->kind == JN_LIST ? jv_list_new () : jv_dict_new ();
    for (guint i = 0; i < n->items->len; i++) {
      JValue *x = jeval (ev, f, n->items->pdata[i], error);
      if (!x) { jv_unref (c); return NULL; }
      if (n->kind == JN_LIST) { jv_list_append (c, x); continue; }
      JValue *val = jeval (ev, f, n->items->pdata[++i], error);
      if (!val || x->type != JV_STRING) {
        if (val) jfail (ev, n, error, "dict keys must be strings");
        jv_unref (x);
        if (val) jv_unref (val);
        jv_unref (c);
        return NULL;
      }
      jv_dict_set (c, x->u.s, val);
      jv_unref (x);
    }
    return c;
  }
  case JN_ATTR:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    r = jinja_getattr (a, n->name, error);
    if (!r) jlocate (ev, n, NULL, error);
    return r;
  case JN_ITEM:
    if (!(a = jeval (ev, f, n->a, error)) || !(b = jeval (ev, f, n->b, error))) return NULL;
    r = jinja_getitem (a, b, error);
    if (!r) jlocate (ev, n, NULL, error);
    return r;
  case JN_SLICE:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    return jslice (ev, f, n, a, error);
  case JN_CALL:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    if (a->type != JV_FUNCTION) {
      if (a->type == JV_UNDEFINED) {
        jinja_undefined_error (a, error);
        jlocate (ev, n, "call", error);
        return NULL;
      }
      return jfail (ev, n, error, "'%s' object is not callable", jv_type_name (a));
    }
    if (jargs_eval (ev, f, n, &args, error)) {
      r = a->u.func.macro ? jcall_macro (ev, a->u.func.macro, &args, error)
                          : a->u.func.fn (ev, a->u.func.self, &args, error);
      if (!r) {
        g_autofree char *what = g_strdup_printf ("%s()", a->u.func.name);
        jlocate (ev, n, what, error);
      }
    }
    jargs_clear (&args);
    return r;
  case JN_FILTER:
  case JN_TEST:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    if (jargs_eval (ev, f, n, &args, error)) {
      gboolean t;
      if (n->kind == JN_FILTER) r = jinja_filter (n->name, a, &args, error);
      else if (jinja_test (n->name, a, &args, &t, error)) r = jv_bool (n->negate ? !t : t);
      if (!r) {
        g_autofree char *what = g_strdup_printf ("%s '%s'", n->kind == JN_FILTER ? "filter" : "test", n->name);
        jlocate (ev, n, what, error);
      }
    }
    jargs_clear (&args);
    return r;
  case JN_NOT:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    return jv_bool (!jv_truthy (a));
  case JN_NEG:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    if (a->type == JV_INT) return jv_int (-a->u.i);
    if (a->type == JV_FLOAT) return jv_float (-a->u.f);
    return jfail (ev, n, error, "bad operand type for unary -: '%s'", jv_type_name (a));
  case JN_AND:
  case JN_OR:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    if (jv_truthy (a) == (n->kind == JN_OR)) return jv_ref (a);
    return jeval (ev, f, n->b, error);
  case JN_COND:
    if (!(a = jeval (ev, f, n->a, error))) return NULL;
    if (jv_truthy (a)) return jeval (ev, f, n->b, error);
    return n->c ? jeval (ev, f, n->c, error) : jv_undefined (NULL);
  case JN_BINARY:
    if (!(a = jeval (ev, f, n->a, error)) || !(b = jeval (ev, f, n->b, error))) return NULL;
    r = jbinary (ev, n, a, b, error);
    if (!r) {
      g_autofree char *what = g_strdup_printf ("'%s'", n->name);
      jlocate (ev, n, what, error);
    }
    return r;
  default:
    return jfail (ev, n, error, "statement used as an expression");
  }
}

static JValue *
jeval (JEval *ev, JFrame *f, JNode *n, GError **error)
{
  if (++ev->depth > JINJA_MAX_DEPTH) {
    ev->depth--;
    return jfail (ev, n, error, "expression nested too deeply");
  }
  JValue *r = jeval_inner (ev, f, n, error);
  ev->depth--;
  return r;
}

static JValue *
jloop_object (guint i, guint n, GPtrArray *items)
{
  JValue *loop = jv_dict_new ();
  jv_dict_set (loop, "index0", jv_int (i));
  jv_dict_set (loop, "index", jv_int (i + 1));
  jv_dict_set (loop, "revindex0", jv_int (n - 1 - i));
  jv_dict_set (loop, "revindex", jv_int (n - i));
  jv_dict_set (loop, "first", jv_bool (i == 0));
  jv_dict_set (loop, "last", jv_bool (i + 1 == n));
  jv_dict_set (loop, "length", jv_int (n));
  if (i > 0) jv_dict_set (loop, "previtem", jv_ref (items->pdata[i - 1]));
  if (i + 1 < n) jv_dict_set (loop, "nextitem", jv_ref (items->pdata[i + 1]));
  return loop;
}

static gboolean
jbind_targets (JEval *ev, JNode *n, JFrame *f, JValue *item, GError **error)
{
  GPtrArray *names = n->kw_names;
  if (names->len == 1) {
    jframe_set (f, names->pdata[0], jv_ref (item));
    return TRUE;
  }
  GPtrArray *parts = jv_iter_items (item);
  if (!parts || parts->len != names->len) {
    if (parts) g_ptr_array_unref (parts);
    jfail (ev, n, error, "cannot unpack %s into %u names", jv_type_name (item), names->len);
    return FALSE;
  }
  for (guint k = 0; k < names->len; k++) jframe_set (f, names->pdata[k], jv_ref (parts->pdata[k]));
  g_ptr_array_unref (parts);
  return TRUE;
}

static JResult
jrender_for (JEval *ev, JFrame *f, JNode *n, GString *out, GError **error)
{
  g_autoptr (JValue) seq = jeval (ev, f, n->a, error);
  if (!seq) return JR_ERROR;
  GPtrArray *all = jv_iter_items (seq);
  if (!all) {
    jfail (ev, n, error, "for loop: '%s' object is not iterable", jv_type_name (seq));
    return JR_ERROR;
  }
  GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify) jv_unref);
  JResult res = JR_OK;
  for (guint i = 0; i < all->len && res == JR_OK; i++) {
    if (n->c) {
      JFrame *tf = jframe_new (f);
      JValue *keep = NULL;
      if (!jbind_targets (ev, n, tf, all->pdata[i], error) || !(keep = jeval (ev, tf, n->c, error)))
        res = JR_ERROR;
      jframe_free (tf);
      if (!keep) break;
      gboolean t = jv_truthy (keep);
      jv_unref (keep);
      if (!t) continue;
    }
    g_ptr_array_add (items, jv_ref (all->pdata[i]));
  }
  g_ptr_array_unref (all);
  for (guint i = 0; i < items->len && res != JR_ERROR; i++) {
    JFrame *lf = jframe_new (f);
    jframe_set (lf, "loop", jloop_object (i, items->len, items));
    if (!jbind_targets (ev, n, lf, items->pdata[i], error)) res = JR_ERROR;
    else res = jrender (ev, lf, n->b, out, error);
    jframe_free (lf);
    if (res == JR_BREAK) break;
    if (res == JR_CONTINUE) res = JR_OK;
  }
  if (res != JR_ERROR && items->len == 0 && n->items)
    res = jrender (ev, f, n->items->pdata[0], out, error);
  g_ptr_array_unref (items);
  return res == JR_BREAK ? JR_OK : res;
}

static JResult
jrender (JEval *ev, JFrame *f, JNode *n, GString *out, GError **error)
{
  if (out->len > JINJA_MAX_OUTPUT) {
    jfail (ev, n, error, "output too large");
    return JR_ERROR;
  }
  switch (n->kind) {
  case JN_BODY:
    for (guint i = 0; i < n->items->len; i++) {
      JResult r = jrender (ev, f, n->items->pdata[i], out, error);
      if (r != JR_OK) return r;
    }
    return JR_OK;
  case JN_TEXT:
    g_string_append (out, n->name);
    return JR_OK;
  case JN_OUTPUT: {
    JValue *v = jeval (ev, f, n->a, error);
    if (!v) return JR_ERROR;
    char *s = jv_to_str (v);
    g_string_append (out, s);
    g_free (s);
    jv_unref (v);
    return JR_OK;
  }
  case JN_IF: {
    JValue *c = jeval (ev, f, n->a, error);
    if (!c) return JR_ERROR;
    gboolean t = jv_truthy (c);
    jv_unref (c);
    if (t) return jrender (ev, f, n->b, out, error);
    return n->c ? jrender (ev, f, n->c, out, error) : JR_OK;
  }
  case JN_FOR:
    return jrender_for (ev, f, n, out, error);
  case JN_SET: {
    JValue *v = jeval (ev, f, n->a, error);
    if (!v) return JR_ERROR;
    if (n->name) {
      JValue *target = jframe_lookup (f, n->kw_names->pdata[0]);
      gboolean ok = target->type == JV_DICT && target->is_namespace;
      if (ok) jv_dict_set (target, n->name, v);
      else jv_unref (v);
      jv_unref (target);
      if (!ok) {
        jfail (ev, n, error, "set: cannot assign attribute '%s' on a non-namespace object", n->name);
        return JR_ERROR;
      }
      return JR_OK;
    }
    gboolean ok = jbind_targets (ev, n, f, v, error);
    jv_unref (v);
    return ok ? JR_OK : JR_ERROR;
  }
  case JN_SET_BLOCK: {
    GString *captured = g_string_new (NULL);
    if (jrender (ev, f, n->a, captured, error) == JR_ERROR) {
      g_string_free (captured, TRUE);
      return JR_ERROR;
    }
    jframe_set (f, n->kw_names->pdata[0], jv_string_take (g_string_free (captured, FALSE)));
    return JR_OK;
  }
  case JN_MACRO: {
    JValue *m = jv_function (n->name, NULL, NULL);
    m->u.func.macro = n;
    jframe_set (f, n->name, m);
    return JR_OK;
  }
  case JN_BREAK:
    return JR_BREAK;
  case JN_CONTINUE:
    return JR_CONTINUE;
  default:
    jfail (ev, n, error, "expression used as a statement");
    return JR_ERROR;
  }
}

char *
jinja_template_render (JTemplate *t, JValue *vars, GError **error)
{
  JFrame *globals = jframe_new (NULL);
  for (guint i = 0; i < jv_dict_size (vars); i++)
    jframe_set (globals, jv_dict_key (vars, i), jv_ref (jv_dict_get (vars, jv_dict_key (vars, i))));
  JFrame *top = jframe_new (globals);
  JEval ev = { t->name, top, FALSE, 0 };   /* macros see the template's top level */
  GString *out = g_string_new (NULL);
  JResult r = jrender (&ev, top, t->body, out, error);
  jframe_free (top);
  jframe_free (globals);
  if (r == JR_ERROR) {
    g_string_free (out, TRUE);
    return NULL;
  }
  return g_string_free (out, FALSE);
}
