/* tok-json.c: arena-backed JSON reader used to load tokenizer.json quickly. */
#include "text/tok-json.h"

#include "vlm/vlm-error.h"

#include <string.h>

#define TJ_MAX_DEPTH 256
#define TJ_BLOCK (1 << 20)

struct _TjDoc {
  char *buf;               /* owned copy of the text; strings point into it */
  GSList *blocks;          /* arena blocks */
  char *cur;
  gsize left;
  TjNode *root;
};

typedef struct {
  TjDoc *doc;
  char *p, *end, *start;
  const char *name;
  GPtrArray *stack;        /* children being collected, shared by all levels */
  GError **error;
} TjParser;

static gpointer
tj_alloc (TjDoc *doc, gsize size)
{
  size = (size + 7) & ~(gsize) 7;
  if (size > doc->left) {
    gsize bs = MAX (size, TJ_BLOCK);
    char *block = g_malloc (bs);
    doc->blocks = g_slist_prepend (doc->blocks, block);
    doc->cur = block;
    doc->left = bs;
  }
  gpointer r = doc->cur;
  doc->cur += size;
  doc->left -= size;
  return r;
}

static gboolean
tj_fail (TjParser *ps, const char *what)
{
  guint line = 1, col = 1;
  for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
    if (*q == '\n') { line++; col = 1; } else col++;
  }
  g_set_error (ps->error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: line %u column %u: %s",
               ps->name, line, col, what);
  return FALSE;
}

static void
tj_skip_ws (TjParser *ps)
{
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
    ps->p++;
}

static int
tj_hex4 (const char *s)
{
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int c = s[i], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Decodes the string at ps->p (just after the opening quote) in place. */
static gboolean
tj_string (TjParser *ps, const char **out, guint *out_len)
{
  char *w = ps->p, *r = ps->p;
  for (;;) {
    /* Fast path: copy plain bytes. */
    while (r < ps->end && *r != '"' && *r != '\\' && (guchar) *r >= 0x20)
      *w++ = *r++;
    if (r >= ps->end) { ps->p = r; return tj_fail (ps, "unterminated string"); }
    if (*r == '"') break;
    if ((guchar) *r < 0x20) { ps->p = r; return tj_fail (ps, "control character in string"); }
    r++;
    if (r >= ps->end) { ps->p = r; return tj_fail (ps, "unterminated escape"); }
    char c = *r++;
    switch (c) {
    case '"': *w++ = '"'; break;
    case '\\': *w++ = '\\'; break;
    case '/': *w++ = '/'; break;
    case 'b': *w++ = '\b'; break;
    case 'f': *w++ = '\f'; break;
    case 'n': *w++ = '\n'; break;
    case 'r': *w++ = '\r'; break;
    case 't': *w++ = '\t'; break;
    case 'u': {
      if (ps->end - r < 4 || tj_hex4 (r) < 0) { ps->p = r; return tj_fail (ps, "bad \\u escape"); }
      gunichar cp = tj_hex4 (r);
      r += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && ps->end - r >= 6 && r[0] == '\\' && r[1] == 'u'
          && tj_hex4 (r + 2) >= 0xDC00 && tj_hex4 (r + 2) < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (tj_hex4 (r + 2) - 0xDC00);
        r += 6;
      } else if (cp >= 0xD800 && cp < 0xE000) {
        cp = 0xFFFD;       /* a lone surrogate cannot be UTF-8 */
      }
      w += g_unichar_to_utf8 (cp, w);
      break;
    }
    default:
      ps->p = r - 1;
      return tj_fail (ps, "unknown escape in string");
    }
  }
  *out = ps->p;
  *out_len = w - ps->p;
  *w = '\0';               /* w <= r, and r points at the closing quote */
  ps->p = r + 1;
  return TRUE;
}

static TjNode *tj_value (TjParser *ps, int depth);

static TjNode *
tj_new (TjParser *ps, TjType type)
{
  TjNode *n = tj_alloc (ps->doc, sizeof (TjNode));
  n->type = type;
  n->n = 0;
  n->u.items = NULL;
  return n;
}

static TjNode *
tj_collect (TjParser *ps, TjType type, guint mark)
{
  TjNode *node = tj_new (ps, type);
  guint count = ps->stack->len - mark;
  node->u.items = tj_alloc (ps->doc, MAX (count, 1) * sizeof (TjNode *));
  memcpy (node->u.items, ps->stack->pdata + mark, count * sizeof (TjNode *));
  node->n = type == TJ_OBJECT ? count / 2 : count;
  g_ptr_array_set_size (ps->stack, mark);
  return node;
}

static TjNode *
tj_container (TjParser *ps, int depth, gboolean object)
{
  guint mark = ps->stack->len;
  char close = object ? '}' : ']';
  ps->p++;
  tj_skip_ws (ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return tj_collect (ps, object ? TJ_OBJECT : TJ_ARRAY, mark);
  }
  for (;;) {
    tj_skip_ws (ps);
    if (object) {
      if (ps->p >= ps->end || *ps->p != '"') { tj_fail (ps, "expected a member name"); return NULL; }
      ps->p++;
      TjNode *key = tj_new (ps, TJ_STRING);
      if (!tj_string (ps, &key->u.s, &key->n)) return NULL;
      tj_skip_ws (ps);
      if (ps->p >= ps->end || *ps->p != ':') { tj_fail (ps, "expected ':'"); return NULL; }
      ps->p++;
      g_ptr_array_add (ps->stack, key);
    }
    TjNode *v = tj_value (ps, depth + 1);
    if (!v) return NULL;
    g_ptr_array_add (ps->stack, v);
    tj_skip_ws (ps);
    if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
    if (ps->p < ps->end && *ps->p == close) { ps->p++; break; }
    tj_fail (ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    return NULL;
  }
  return tj_collect (ps, object ? TJ_OBJECT : TJ_ARRAY, mark);
}

static gboolean
tj_word (TjParser *ps, const char *w)
{
  gsize l = strlen (w);
  if ((gsize) (ps->end - ps->p) >= l && memcmp (ps->p, w, l) == 0) {
    ps->p += l;
    return TRUE;
  }
  return FALSE;
}

static TjNode *
tj_value (TjParser *ps, int depth)
{
  if (depth > TJ_MAX_DEPTH) { tj_fail (ps, "nesting too deep"); return NULL; }
  tj_skip_ws (ps);
  if (ps->p >= ps->end) { tj_fail (ps, "unexpected end of data"); return NULL; }
  char c = *ps->p;
  if (c == '{' || c == '[') return tj_container (ps, depth, c == '{');
  if (c == '"') {
    ps->p++;
    TjNode *n = tj_new (ps, TJ_STRING);
    return tj_string (ps, &n->u.s, &n->n) ? n : NULL;
  }
  if (tj_word (ps, "true") || tj_word (ps, "false")) {
    TjNode *n = tj_new (ps, TJ_BOOL);
    n->u.b = ps->p[-1] == 'e' && ps->p[-2] == 'u';
    return n;
  }
  if (tj_word (ps, "null")) return tj_new (ps, TJ_NULL);
  if (c == '-' || (c >= '0' && c <= '9')) {
    char tmp[64];
    gsize l = 0;
    while (ps->p + l < ps->end && l < sizeof tmp - 1 && strchr ("+-0123456789.eE", ps->p[l]))
      l++;
    memcpy (tmp, ps->p, l);
    tmp[l] = '\0';
    char *endp;
    TjNode *n = tj_new (ps, TJ_NUMBER);
    n->u.num = g_ascii_strtod (tmp, &endp);
    if (endp != tmp + l) { tj_fail (ps, "malformed number"); return NULL; }
    ps->p += l;
    return n;
  }
  tj_fail (ps, "unexpected character");
  return NULL;
}

/**
 * tj_doc_parse: (skip)
 * Takes ownership of @data (g_malloc'ed, @len bytes plus a trailing NUL).
 */
TjDoc *
tj_doc_parse (char *data, gsize len, const char *name, GError **error)
{
  TjDoc *doc = g_new0 (TjDoc, 1);
  doc->buf = data;
  TjParser ps = { doc, data, data + len, data, name, g_ptr_array_new (), error };
  doc->root = tj_value (&ps, 0);
  if (doc->root) {
    tj_skip_ws (&ps);
    if (ps.p != ps.end) {
      tj_fail (&ps, "trailing data after the JSON value");
      doc->root = NULL;
    }
  }
  g_ptr_array_unref (ps.stack);
  if (!doc->root) {
    tj_doc_free (doc);
    return NULL;
  }
  return doc;
}

TjDoc *
tj_doc_load (const char *path, GError **error)
{
  char *data;
  gsize len;
  GError *local = NULL;
  if (!g_file_get_contents (path, &data, &len, &local)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s", local->message);
    g_error_free (local);
    return NULL;
  }
  return tj_doc_parse (data, len, path, error);
}

void
tj_doc_free (TjDoc *doc)
{
  if (!doc) return;
  g_slist_free_full (doc->blocks, g_free);
  g_free (doc->buf);
  g_free (doc);
}

TjNode *
tj_doc_root (TjDoc *doc)
{
  return doc->root;
}

gboolean
tj_is (const TjNode *node, TjType type)
{
  return node && node->type == type;
}

TjNode *
tj_get (const TjNode *object, const char *key)
{
  if (!tj_is (object, TJ_OBJECT)) return NULL;
  for (guint i = 0; i < object->n; i++)
    if (strcmp (object->u.items[2 * i]->u.s, key) == 0)
      return object->u.items[2 * i + 1];
  return NULL;
}

const char *
tj_get_string (const TjNode *object, const char *key)
{
  TjNode *n = tj_get (object, key);
  return tj_is (n, TJ_STRING) ? n->u.s : NULL;
}

gboolean
tj_get_bool (const TjNode *object, const char *key, gboolean fallback)
{
  TjNode *n = tj_get (object, key);
  return tj_is (n, TJ_BOOL) ? n->u.b : fallback;
}
