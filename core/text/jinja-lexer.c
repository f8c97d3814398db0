/* jinja-lexer.c: template source to tokens. Whitespace control follows Jinja2
 * with trim_blocks=True and lstrip_blocks=True (transformers' settings), and the
 * single trailing newline of the source is dropped (keep_trailing_newline=False). */
#include "text/jinja-ast.h"

#include "vlm/vlm-error.h"

#include <string.h>

typedef struct {
  gboolean strip_before, strip_after;   /* "{%-" and "-%}" */
  gboolean block;                       /* {% %} or {# #} (trim/lstrip blocks apply) */
  gboolean no_lstrip;                   /* "{%+" */
} JTagInfo;

void
jinja_tokens_free (GArray *tokens)
{
  for (guint i = 0; i < tokens->len; i++) g_free (g_array_index (tokens, JTok, i).s);
  g_array_unref (tokens);
}

static void
jt_push (GArray *toks, JTokType type, char *s, int line)
{
  JTok t = { type, s, 0, 0, line };
  g_array_append_val (toks, t);
}

static gboolean
jt_fail (GError **error, const char *name, int line, const char *what)
{
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "template %s line %d: %s", name, line, what);
  return FALSE;
}

/* Lexes the inside of a tag from *pp up to its closing delimiter. */
static gboolean
jt_lex_tag (const char **pp, int *line, char close, GArray *toks, JTagInfo *info,
            const char *name, GError **error)
{
  static const char *ops2[] = { "**", "//", "==", "!=", "<=", ">=" };
  const char *p = *pp;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
      if (*p == '\n') (*line)++;
      p++;
    }
    if (!*p) return jt_fail (error, name, *line, "unclosed tag");
    if ((p[0] == '-' || p[0] == '+') && p[1] == close && p[2] == '}') {
      info->strip_after = p[0] == '-';
      *pp = p + 3;
      return TRUE;
    }
    if (p[0] == close && p[1] == '}') {
      *pp = p + 2;
      return TRUE;
    }
    if (g_ascii_isalpha (*p) || *p == '_') {
      const char *s = p;
      while (g_ascii_isalnum (*p) || *p == '_') p++;
      jt_push (toks, JT_NAME, g_strndup (s, p - s), *line);
    } else if (g_ascii_isdigit (*p)) {
      const char *s = p;
      while (g_ascii_isdigit (*p) || *p == '_') p++;
      gboolean is_float = *p == '.' && g_ascii_isdigit (p[1]);
      if (is_float) {
        p++;
        while (g_ascii_isdigit (*p)) p++;
      }
      if (*p == 'e' || *p == 'E') {
        const char *e = p + 1;
        if (*e == '+' || *e == '-') e++;
        if (g_ascii_isdigit (*e)) {
          is_float = TRUE;
          p = e;
          while (g_ascii_isdigit (*p)) p++;
        }
      }
      char *num = g_strndup (s, p - s);
      JTok t = { is_float ? JT_FLOAT : JT_INT, num, 0, 0, *line };
      if (is_float) t.f = g_ascii_strtod (num, NULL);
      else t.i = g_ascii_strtoll (num, NULL, 10);
      g_array_append_val (toks, t);
    } else if (*p == '\'' || *p == '"') {
      char q = *p++;
      GString *s = g_string_new (NULL);
      while (*p && *p != q) {
        if (*p == '\n') (*line)++;
        if (*p == '\\' && p[1]) {
          p++;
          switch (*p) {
          case 'n': g_string_append_c (s, '\n'); break;
          case 't': g_string_append_c (s, '\t'); break;
          case 'r': g_string_append_c (s, '\r'); break;
          case '\\': case '\'': case '"': g_string_append_c (s, *p); break;
          default: g_string_append_c (s, '\\'); g_string_append_c (s, *p);
          }
          p++;
        } else {
          g_string_append_c (s, *p++);
        }
      }
      if (!*p) {
        g_string_free (s, TRUE);
        return jt_fail (error, name, *line, "unterminated string literal");
      }
      p++;
      jt_push (toks, JT_STRING, g_string_free (s, FALSE), *line);
    } else {
      const char *op = NULL;
      for (guint i = 0; i < G_N_ELEMENTS (ops2) && !op; i++)
        if (strncmp (p, ops2[i], 2) == 0) op = ops2[i];
      if (op) {
        jt_push (toks, JT_OP, g_strdup (op), *line);
        p += 2;
      } else if (strchr ("+-*/%~<>=()[]{},.:|", *p)) {
        jt_push (toks, JT_OP, g_strndup (p, 1), *line);
        p++;
      } else {
        char msg[64];
        g_snprintf (msg, sizeof msg, "unexpected character '%c' in tag", *p);
        return jt_fail (error, name, *line, msg);
      }
    }
  }
}

/* Applies whitespace control to the text between two tags. */
static char *
jt_trim_text (const char *s, gsize len, const JTagInfo *prev, const JTagInfo *next,
              gboolean at_start)
{
  const char *b = s, *e = s + len;
  if (prev && prev->strip_after) {
    while (b < e && g_ascii_isspace (*b)) b++;
  } else if (prev && prev->block) {
    if (b < e && *b == '\n') b++;
    else if (e - b >= 2 && b[0] == '\r' && b[1] == '\n') b += 2;
  }
  if (next && next->strip_before) {
    while (e > b && g_ascii_isspace (e[-1])) e--;
  } else if (next && next->block && !next->no_lstrip) {
    const char *q = e;
    while (q > b && (q[-1] == ' ' || q[-1] == '\t')) q--;
    if ((q > b && q[-1] == '\n') || (q == s && at_start) || (q == b && q > s && q[-1] == '\n'))
      e = q;
  }
  return g_strndup (b, e - b);
}

GArray *
jinja_lex (const char *source, const char *name, GError **error)
{
  GArray *toks = g_array_new (FALSE, TRUE, sizeof (JTok));
  gsize len = strlen (source);
  if (len && source[len - 1] == '\n') len--;
  if (len && source[len - 1] == '\r' && source[len] == '\n') len--;
  char *src = g_strndup (source, len);
  const char *p = src;
  int line = 1;
  JTagInfo prev = { 0 };
  gboolean have_prev = FALSE;
  for (;;) {
    const char *open = p;
    while ((open = strchr (open, '{')) && open[1] != '{' && open[1] != '%' && open[1] != '#') open++;
    JTagInfo next = { 0 };
    if (open) {
      next.block = open[1] != '{';
      next.strip_before = open[2] == '-';
      next.no_lstrip = open[2] == '+';
    }
    const char *text_end = open ? open : p + strlen (p);
    char *text = jt_trim_text (p, text_end - p, have_prev ? &prev : NULL, open ? &next : NULL, p == src);
    int text_line = line;
    for (const char *q = p; q < text_end; q++) if (*q == '\n') line++;
    if (*text) jt_push (toks, JT_TEXT, text, text_line);
    else g_free (text);
    if (!open) break;
    const char *q = open + 2 + (next.strip_before || next.no_lstrip ? 1 : 0);
    if (open[1] == '#') {
      const char *end = strstr (q, "#}");
      if (!end) {
        jt_fail (error, name, line, "unclosed comment");
        goto fail;
      }
      next.strip_after = end > q && end[-1] == '-';
      for (const char *r = open; r < end; r++) if (*r == '\n') line++;
      p = end + 2;
    } else {
      gboolean expr = open[1] == '{';
      jt_push (toks, expr ? JT_EXPR_BEGIN : JT_STMT_BEGIN, NULL, line);
      if (!jt_lex_tag (&q, &line, expr ? '}' : '%', toks, &next, name, error)) goto fail;
      jt_push (toks, expr ? JT_EXPR_END : JT_STMT_END, NULL, line);
      p = q;
    }
    prev = next;
    have_prev = TRUE;
  }
  jt_push (toks, JT_EOF, NULL, line);
  g_free (src);
  return toks;
fail:
  g_free (src);
  jinja_tokens_free (toks);
  return NULL;
}
