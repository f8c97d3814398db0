/* jinja-parser.c: tokens to syntax tree, following Jinja2's expression grammar
 * (filters and tests bind tighter than arithmetic: `x|length - 1`). */
#include "text/jinja-ast.h"

#include "vlm/vlm-error.h"

#include <string.h>

#define JP_MAX_DEPTH 100

typedef struct {
  GArray *toks;
  guint pos;
  const char *name;
  GError **error;
  int depth;               /* nesting of blocks and parenthesised expressions */
} JParser;

void
jinja_node_free (JNode *n)
{
  if (!n) return;
  g_free (n->name);
  if (n->value) jv_unref (n->value);
  jinja_node_free (n->a);
  jinja_node_free (n->b);
  jinja_node_free (n->c);
  g_clear_pointer (&n->items, g_ptr_array_unref);
  g_clear_pointer (&n->kw_names, g_ptr_array_unref);
  g_clear_pointer (&n->kw_values, g_ptr_array_unref);
  g_free (n);
}

static JNode *
jn_new (JNodeKind kind, int line)
{
  JNode *n = g_new0 (JNode, 1);
  n->kind = kind;
  n->line = line;
  return n;
}

static GPtrArray *
jn_list (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) jinja_node_free);
}

static JTok *
jp_peek (JParser *p)
{
  return &g_array_index (p->toks, JTok, p->pos);
}

static JTok *
jp_next (JParser *p)
{
  JTok *t = jp_peek (p);
  if (t->type != JT_EOF) p->pos++;
  return t;
}

static gboolean
jp_is_op (JParser *p, const char *op)
{
  JTok *t = jp_peek (p);
  return t->type == JT_OP && strcmp (t->s, op) == 0;
}

static gboolean
jp_is_name (JParser *p, const char *name)
{
  JTok *t = jp_peek (p);
  return t->type == JT_NAME && strcmp (t->s, name) == 0;
}

static gboolean
jp_accept_op (JParser *p, const char *op)
{
  if (!jp_is_op (p, op)) return FALSE;
  p->pos++;
  return TRUE;
}

static gboolean
jp_accept_name (JParser *p, const char *name)
{
  if (!jp_is_name (p, name)) return FALSE;
  p->pos++;
  return TRUE;
}

static gpointer
jp_fail (JParser *p, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gpointer
jp_fail (JParser *p, const char *fmt, ...)
{
  if (p->error && *p->error) return NULL;
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  JTok *t = jp_peek (p);
  const char *near = t->type == JT_EOF ? "end of template" : t->type == JT_STMT_END ? "%}"
                   : t->type == JT_EXPR_END ? "}}" : t->s ? t->s : "tag";
  g_set_error (p->error, VLM_ERROR, VLM_ERROR_FORMAT, "template %s line %d: %s (near '%s')",
               p->name, t->line, msg, near);
  g_free (msg);
  return NULL;
}

static gboolean
jp_expect_op (JParser *p, const char *op)
{
  if (jp_accept_op (p, op)) return TRUE;
  jp_fail (p, "expected '%s'", op);
  return FALSE;
}

static JNode *jp_expr (JParser *p);
static JNode *jp_unary (JParser *p, gboolean with_filter);

/* Arguments of a call, filter or test: positional, then name=value. */
static gboolean
jp_call_args (JParser *p, JNode *n)
{
  n->items = jn_list ();
  n->kw_names = g_ptr_array_new_with_free_func (g_free);
  n->kw_values = jn_list ();
  if (jp_accept_op (p, ")")) return TRUE;
  do {
    JTok *t = jp_peek (p);
    JTok *after = &g_array_index (p->toks, JTok, p->pos + 1);
    if (t->type == JT_NAME && after->type == JT_OP && strcmp (after->s, "=") == 0) {
      p->pos += 2;
      JNode *v = jp_expr (p);
      if (!v) return FALSE;
      g_ptr_array_add (n->kw_names, g_strdup (t->s));
      g_ptr_array_add (n->kw_values, v);
    } else {
      JNode *v = jp_expr (p);
      if (!v) return FALSE;
      g_ptr_array_add (n->items, v);
    }
  } while (jp_accept_op (p, ","));
  return jp_expect_op (p, ")");
}

static JNode *
jp_literal (JValue *v, int line)
{
  JNode *n = jn_new (JN_LITERAL, line);
  n->value = v;
  return n;
}

static JNode *
jp_primary (JParser *p)
{
  JTok *t = jp_next (p);
  switch (t->type) {
  case JT_STRING: {
    GString *s = g_string_new (t->s);
    while (jp_peek (p)->type == JT_STRING) g_string_append (s, jp_next (p)->s);  /* "a" "b" */
    return jp_literal (jv_string_take (g_string_free (s, FALSE)), t->line);
  }
  case JT_INT: return jp_literal (jv_int (t->i), t->line);
  case JT_FLOAT: return jp_literal (jv_float (t->f), t->line);
  case JT_NAME:
    if (!strcmp (t->s, "true") || !strcmp (t->s, "True")) return jp_literal (jv_bool (TRUE), t->line);
    if (!strcmp (t->s, "false") || !strcmp (t->s, "False")) return jp_literal (jv_bool (FALSE), t->line);
    if (!strcmp (t->s, "none") || !strcmp (t->s, "None")) return jp_literal (jv_none (), t->line);
    {
      JNode *n = jn_new (JN_NAME, t->line);
      n->name = g_strdup (t->s);
      return n;
    }
  case JT_OP:
    if (!strcmp (t->s, "(")) {
      JNode *e = jp_expr (p);
      if (!e) return NULL;
      if (jp_is_op (p, ",")) {          /* a tuple: treated as a list */
        JNode *l = jn_new (JN_LIST, t->line);
        l->items = jn_list ();
        g_ptr_array_add (l->items, e);
        while (jp_accept_op (p, ",") && !jp_is_op (p, ")")) {
          JNode *x = jp_expr (p);
          if (!x) { jinja_node_free (l); return NULL; }
          g_ptr_array_add (l->items, x);
        }
        e = l;
      }
      if (!jp_expect_op (p, ")")) { jinja_node_free (e); return NULL; }
      return e;
    }
    if (!strcmp (t->s, "[") || !strcmp (t->s, "{")) {
      gboolean dict = t->s[0] == '{';
      const char *close = dict ? "}" : "]";
      JNode *l = jn_new (dict ? JN_DICT : JN_LIST, t->line);
      l->items = jn_list ();
      while (!jp_is_op (p, close)) {
        JNode *x = jp_expr (p);
        if (!x) { jinja_node_free (l); return NULL; }
        g_ptr_array_add (l->items, x);
        if (dict) {
          if (!jp_expect_op (p, ":") || !(x = jp_expr (p))) { jinja_node_free (l); return NULL; }
          g_ptr_array_add (l->items, x);
        }
        if (!jp_accept_op (p, ",")) break;
      }
      if (!jp_expect_op (p, close)) { jinja_node_free (l); return NULL; }
      return l;
    }
    break;
  default:
    break;
  }
  p->pos--;
  return jp_fail (p, "expected an expression");
}

static JNode *
jp_subscript (JParser *p, JNode *target, int line)
{
  JNode *parts[3] = { NULL, NULL, NULL };
  int n = 0;
  gboolean slice = FALSE;
  for (;;) {
    if (!jp_is_op (p, ":") && !jp_is_op (p, "]")) {
      parts[n] = jp_expr (p);
      if (!parts[n]) goto fail;
    }
    if (jp_accept_op (p, ":")) {
      slice = TRUE;
      if (++n > 2) { jp_fail (p, "too many ':' in a slice"); goto fail; }
      continue;
    }
    break;
  }
  if (!jp_expect_op (p, "]")) goto fail;
  JNode *r = jn_new (slice ? JN_SLICE : JN_ITEM, line);
  r->a = target;
  r->b = parts[0];
  if (slice) {
    r->items = g_ptr_array_new_with_free_func ((GDestroyNotify) jinja_node_free);
    g_ptr_array_add (r->items, parts[1]);
    g_ptr_array_add (r->items, parts[2]);
  } else if (!r->b) {
    jinja_node_free (r);
    return jp_fail (p, "empty subscript");
  }
  return r;
fail:
  jinja_node_free (target);
  for (int i = 0; i < 3; i++) jinja_node_free (parts[i]);
  return NULL;
}

static JNode *
jp_postfix (JParser *p, JNode *n)
{
  for (;;) {
    int line = jp_peek (p)->line;
    if (jp_accept_op (p, ".")) {
      JTok *t = jp_next (p);
      if (t->type != JT_NAME && t->type != JT_INT) {
        jinja_node_free (n);
        return jp_fail (p, "expected an attribute name after '.'");
      }
      JNode *a = jn_new (JN_ATTR, line);
      a->a = n;
      a->name = g_strdup (t->s);
      n = a;
    } else if (jp_accept_op (p, "[")) {
      if (!(n = jp_subscript (p, n, line))) return NULL;
    } else if (jp_accept_op (p, "(")) {
      JNode *c = jn_new (JN_CALL, line);
      c->a = n;
      if (!jp_call_args (p, c)) { jinja_node_free (c); return NULL; }
      n = c;
    } else {
      return n;
    }
  }
}

/* `| filter(args)` and `is [not] test(args)` chains. */
static JNode *
jp_filters (JParser *p, JNode *n)
{
  for (;;) {
    int line = jp_peek (p)->line;
    gboolean is_filter = jp_accept_op (p, "|");
    if (!is_filter && !jp_accept_name (p, "is")) return n;
    JNode *f = jn_new (is_filter ? JN_FILTER : JN_TEST, line);
    f->a = n;
    if (!is_filter) f->negate = jp_accept_name (p, "not");
    JTok *t = jp_next (p);
    if (t->type != JT_NAME) {
      jinja_node_free (f);
      return jp_fail (p, is_filter ? "expected a filter name" : "expected a test name");
    }
    f->name = g_strdup (t->s);
    if (jp_accept_op (p, "(")) {
      if (!jp_call_args (p, f)) { jinja_node_free (f); return NULL; }
    } else if (!is_filter && (jp_peek (p)->type == JT_STRING || jp_peek (p)->type == JT_INT
                              || jp_peek (p)->type == JT_FLOAT)) {
      /* `is equalto 'x'`: a test may take one argument without parentheses. */
      f->items = jn_list ();
      JNode *arg = jp_primary (p);
      if (!arg) { jinja_node_free (f); return NULL; }
      g_ptr_array_add (f->items, arg);
    }
    n = f;
  }
}

static JNode *
jp_unary (JParser *p, gboolean with_filter)
{
  int line = jp_peek (p)->line;
  JNode *n;
  if (p->depth >= JP_MAX_DEPTH) return jp_fail (p, "expression nested too deeply");
  if (jp_accept_op (p, "-")) {
    p->depth++;
    JNode *x = jp_unary (p, FALSE);
    p->depth--;
    if (!x) return NULL;
    n = jn_new (JN_NEG, line);
    n->a = x;
  } else if (jp_accept_op (p, "+")) {
    p->depth++;
    n = jp_unary (p, FALSE);
    p->depth--;
  } else {
    n = jp_primary (p);
    if (n) n = jp_postfix (p, n);
  }
  if (n && with_filter) n = jp_filters (p, n);
  return n;
}

static JNode *
jp_binary (JParser *p, int level);

/* A two-operand node (BINARY with its operator, AND, OR). */
static JNode *
jn_pair (JNodeKind kind, const char *op, int line, JNode *left, JNode *right)
{
  JNode *n = jn_new (kind, line);
  n->name = g_strdup (op);
  n->a = left;
  n->b = right;
  return n;
}

/* Binary levels, loosest first: + -, ~, * / // %, **. */
static const char *const jp_levels[][5] = {
  { "+", "-", NULL },
  { "~", NULL },
  { "*", "/", "//", "%", NULL },
  { "**", NULL },
};

static JNode *
jp_binary (JParser *p, int level)
{
  if (level >= (int) G_N_ELEMENTS (jp_levels)) return jp_unary (p, TRUE);
  JNode *left = jp_binary (p, level + 1);
  while (left) {
    const char *op = NULL;
    for (int i = 0; jp_levels[level][i] && !op; i++)
      if (jp_is_op (p, jp_levels[level][i])) op = jp_levels[level][i];
    if (!op) break;
    int line = jp_next (p)->line;
    JNode *right = jp_binary (p, level + 1);
    if (!right) { jinja_node_free (left); return NULL; }
    left = jn_pair (JN_BINARY, op, line, left, right);
  }
  return left;
}

static JNode *
jp_compare (JParser *p)
{
  JNode *left = jp_binary (p, 0);
  while (left) {
    static const char *ops[] = { "==", "!=", "<", ">", "<=", ">=" };
    const char *op = NULL;
    int line = jp_peek (p)->line;
    for (guint i = 0; i < G_N_ELEMENTS (ops) && !op; i++)
      if (jp_accept_op (p, ops[i])) op = ops[i];
    if (!op && jp_accept_name (p, "in")) op = "in";
    if (!op && jp_is_name (p, "not")
        && g_array_index (p->toks, JTok, p->pos + 1).type == JT_NAME
        && !strcmp (g_array_index (p->toks, JTok, p->pos + 1).s, "in")) {
      p->pos += 2;
      op = "not in";
    }
    if (!op) break;
    JNode *right = jp_binary (p, 0);
    if (!right) { jinja_node_free (left); return NULL; }
    left = jn_pair (JN_BINARY, op, line, left, right);
  }
  return left;
}

static JNode *
jp_not (JParser *p)
{
  int line = jp_peek (p)->line;
  if (jp_accept_name (p, "not")) {
    if (p->depth >= JP_MAX_DEPTH) return jp_fail (p, "expression nested too deeply");
    p->depth++;
    JNode *x = jp_not (p);
    p->depth--;
    if (!x) return NULL;
    JNode *n = jn_new (JN_NOT, line);
    n->a = x;
    return n;
  }
  return jp_compare (p);
}

static JNode *
jp_logic (JParser *p, gboolean is_or)
{
  JNode *left = is_or ? jp_logic (p, FALSE) : jp_not (p);
  while (left && jp_is_name (p, is_or ? "or" : "and")) {
    int line = jp_next (p)->line;
    JNode *right = is_or ? jp_logic (p, FALSE) : jp_not (p);
    if (!right) { jinja_node_free (left); return NULL; }
    left = jn_pair (is_or ? JN_OR : JN_AND, NULL, line, left, right);
  }
  return left;
}

static JNode *
jp_expr_inner (JParser *p)
{
  JNode *n = jp_logic (p, TRUE);
  while (n && jp_is_name (p, "if")) {
    int line = jp_next (p)->line;
    JNode *cond = jp_logic (p, TRUE), *other = NULL;
    if (!cond) { jinja_node_free (n); return NULL; }
    if (jp_accept_name (p, "else") && !(other = jp_logic (p, TRUE))) {
      jinja_node_free (n);
      jinja_node_free (cond);
      return NULL;
    }
    JNode *c = jn_new (JN_COND, line);
    c->a = cond;
    c->b = n;
    c->c = other;
    n = c;
  }
  return n;
}

static JNode *
jp_expr (JParser *p)
{
  if (p->depth >= JP_MAX_DEPTH) return jp_fail (p, "expression nested too deeply");
  p->depth++;
  JNode *n = jp_expr_inner (p);
  p->depth--;
  return n;
}

/* ---- statements ---- */

static JNode *jp_body (JParser *p, const char *const *ends, char **which);

static gboolean
jp_stmt_end (JParser *p)
{
  if (jp_peek (p)->type == JT_STMT_END) {
    p->pos++;
    return TRUE;
  }
  jp_fail (p, "expected '%%}'");
  return FALSE;
}

static JNode *
jp_if (JParser *p, int line)
{
  JNode *n = jn_new (JN_IF, line);
  static const char *const ends[] = { "elif", "else", "endif", NULL };
  char *which = NULL;
  if (!(n->a = jp_expr (p)) || !jp_stmt_end (p) || !(n->b = jp_body (p, ends, &which))) goto fail;
  if (!strcmp (which, "elif")) {
    if (!(n->c = jp_if (p, jp_peek (p)->line))) goto fail;
  } else if (!strcmp (which, "else")) {
    static const char *const end_only[] = { "endif", NULL };
    g_free (which);
    which = NULL;
    if (!jp_stmt_end (p) || !(n->c = jp_body (p, end_only, &which)) || !jp_stmt_end (p)) goto fail;
  } else if (!jp_stmt_end (p)) {
    goto fail;
  }
  g_free (which);
  return n;
fail:
  g_free (which);
  jinja_node_free (n);
  return NULL;
}

static gboolean
jp_targets (JParser *p, JNode *n)
{
  n->kw_names = g_ptr_array_new_with_free_func (g_free);
  gboolean paren = jp_accept_op (p, "(");
  do {
    JTok *t = jp_next (p);
    if (t->type != JT_NAME) {
      jp_fail (p, "expected a loop variable name");
      return FALSE;
    }
    g_ptr_array_add (n->kw_names, g_strdup (t->s));
  } while (jp_accept_op (p, ","));
  return !paren || jp_expect_op (p, ")");
}

static JNode *
jp_for (JParser *p, int line)
{
  JNode *n = jn_new (JN_FOR, line);
  static const char *const ends[] = { "else", "endfor", NULL };
  char *which = NULL;
  if (!jp_targets (p, n)) goto fail;
  if (!jp_accept_name (p, "in")) { jp_fail (p, "expected 'in' in a for loop"); goto fail; }
  /* The iterable stops before a trailing `if` filter (not a conditional expression). */
  if (!(n->a = jp_logic (p, TRUE))) goto fail;
  if (jp_accept_name (p, "if") && !(n->c = jp_logic (p, TRUE))) goto fail;
  if (!jp_stmt_end (p) || !(n->b = jp_body (p, ends, &which))) goto fail;
  if (!strcmp (which, "else")) {
    static const char *const end_only[] = { "endfor", NULL };
    JNode *else_body;
    g_free (which);
    which = NULL;
    if (!jp_stmt_end (p) || !(else_body = jp_body (p, end_only, &which))) goto fail;
    n->items = jn_list ();
    g_ptr_array_add (n->items, else_body);
  }
  if (!jp_stmt_end (p)) goto fail;
  g_free (which);
  return n;
fail:
  g_free (which);
  jinja_node_free (n);
  return NULL;
}

static JNode *
jp_set (JParser *p, int line)
{
  JTok *t = jp_next (p);
  if (t->type != JT_NAME) return jp_fail (p, "expected a variable name after 'set'");
  JNode *n = jn_new (JN_SET, line);
  n->kw_names = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (n->kw_names, g_strdup (t->s));
  if (jp_accept_op (p, ".")) {
    JTok *attr = jp_next (p);
    if (attr->type != JT_NAME) { jinja_node_free (n); return jp_fail (p, "expected an attribute name"); }
    n->name = g_strdup (attr->s);
  } else {
    while (jp_accept_op (p, ",")) {
      JTok *more = jp_next (p);
      if (more->type != JT_NAME) { jinja_node_free (n); return jp_fail (p, "expected a variable name"); }
      g_ptr_array_add (n->kw_names, g_strdup (more->s));
    }
  }
  if (jp_peek (p)->type == JT_STMT_END && !n->name && n->kw_names->len == 1) {
    /* {% set x %}...{% endset %} captures rendered text. */
    static const char *const ends[] = { "endset", NULL };
    char *which = NULL;
    n->kind = JN_SET_BLOCK;
    p->pos++;
    if (!(n->a = jp_body (p, ends, &which)) || !jp_stmt_end (p)) {
      g_free (which);
      jinja_node_free (n);
      return NULL;
    }
    g_free (which);
    return n;
  }
  if (!jp_expect_op (p, "=") || !(n->a = jp_expr (p)) || !jp_stmt_end (p)) {
    jinja_node_free (n);
    return NULL;
  }
  return n;
}

static JNode *
jp_macro (JParser *p, int line)
{
  JTok *t = jp_next (p);
  if (t->type != JT_NAME) return jp_fail (p, "expected a macro name");
  JNode *n = jn_new (JN_MACRO, line);
  n->name = g_strdup (t->s);
  n->kw_names = g_ptr_array_new_with_free_func (g_free);
  n->kw_values = g_ptr_array_new_with_free_func ((GDestroyNotify) jinja_node_free);
  static const char *const ends[] = { "endmacro", NULL };
  char *which = NULL;
  if (!jp_expect_op (p, "(")) goto fail;
  while (!jp_is_op (p, ")")) {
    JTok *arg = jp_next (p);
    if (arg->type != JT_NAME) { jp_fail (p, "expected a macro parameter name"); goto fail; }
    g_ptr_array_add (n->kw_names, g_strdup (arg->s));
    JNode *def = NULL;
    if (jp_accept_op (p, "=") && !(def = jp_expr (p))) goto fail;
    g_ptr_array_add (n->kw_values, def);
    if (!jp_accept_op (p, ",")) break;
  }
  if (!jp_expect_op (p, ")") || !jp_stmt_end (p) || !(n->a = jp_body (p, ends, &which))
      || !jp_stmt_end (p))
    goto fail;
  g_free (which);
  return n;
fail:
  g_free (which);
  jinja_node_free (n);
  return NULL;
}

/* Parses statements until one of @ends (a {% name %} tag, left after its name)
 * or the end of the template when @ends is NULL. */
static JNode *jp_body_inner (JParser *p, const char *const *ends, char **which);

static JNode *
jp_body (JParser *p, const char *const *ends, char **which)
{
  if (p->depth >= JP_MAX_DEPTH) return jp_fail (p, "blocks nested too deeply");
  p->depth++;
  JNode *n = jp_body_inner (p, ends, which);
  p->depth--;
  return n;
}

static JNode *
jp_body_inner (JParser *p, const char *const *ends, char **which)
{
  JNode *body = jn_new (JN_BODY, jp_peek (p)->line);
  body->items = jn_list ();
  for (;;) {
    JTok *t = jp_next (p);
    if (t->type == JT_EOF) {
      if (!ends) return body;
      const char *last = ends[0];
      for (int i = 0; ends[i]; i++) last = ends[i];
      jinja_node_free (body);
      return jp_fail (p, "missing {%% %s %%}", last);
    }
    if (t->type == JT_TEXT) {
      JNode *n = jn_new (JN_TEXT, t->line);
      n->name = g_strdup (t->s);
      g_ptr_array_add (body->items, n);
      continue;
    }
    if (t->type == JT_EXPR_BEGIN) {
      JNode *n = jn_new (JN_OUTPUT, t->line);
      g_ptr_array_add (body->items, n);
      if (!(n->a = jp_expr (p))) break;
      if (jp_peek (p)->type != JT_EXPR_END) { jp_fail (p, "expected '}}'"); break; }
      p->pos++;
      continue;
    }
    if (t->type != JT_STMT_BEGIN) { jp_fail (p, "unexpected token"); break; }
    JTok *kw = jp_next (p);
    if (kw->type != JT_NAME) { jp_fail (p, "expected a statement name"); break; }
    for (int i = 0; ends && ends[i]; i++)
      if (!strcmp (kw->s, ends[i])) {
        *which = g_strdup (kw->s);
        return body;
      }
    JNode *n = NULL;
    int line = kw->line;
    if (!strcmp (kw->s, "if")) n = jp_if (p, line);
    else if (!strcmp (kw->s, "for")) n = jp_for (p, line);
    else if (!strcmp (kw->s, "set")) n = jp_set (p, line);
    else if (!strcmp (kw->s, "macro")) n = jp_macro (p, line);
    else if (!strcmp (kw->s, "break") || !strcmp (kw->s, "continue")) {
      n = jn_new (kw->s[0] == 'b' ? JN_BREAK : JN_CONTINUE, line);
      if (!jp_stmt_end (p)) { jinja_node_free (n); n = NULL; }
    } else if (!strcmp (kw->s, "generation")) {
      /* transformers' {% generation %} only marks assistant text; it renders its body. */
      static const char *const gen_end[] = { "endgeneration", NULL };
      char *w = NULL;
      if (jp_stmt_end (p) && (n = jp_body (p, gen_end, &w)) && !jp_stmt_end (p)) {
        jinja_node_free (n);
        n = NULL;
      }
      g_free (w);
    } else {
      p->pos--;
      jp_fail (p, "unknown statement '%s'", kw->s);
    }
    if (!n) break;
    g_ptr_array_add (body->items, n);
  }
  jinja_node_free (body);
  return NULL;
}

void
jinja_template_free (JTemplate *t)
{
  if (!t) return;
  g_free (t->name);
  jinja_node_free (t->body);
  g_free (t);
}

JTemplate *
jinja_template_parse (const char *source, const char *name, GError **error)
{
  GArray *toks = jinja_lex (source, name, error);
  if (!toks) return NULL;
  JParser p = { toks, 0, name, error, 0 };
  JNode *body = jp_body (&p, NULL, NULL);
  jinja_tokens_free (toks);
  if (!body) return NULL;
  JTemplate *t = g_new0 (JTemplate, 1);
  t->name = g_strdup (name);
  t->body = body;
  return t;
}
