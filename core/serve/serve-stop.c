/* serve-stop.c: stop strings over streamed text. A piece is released once no stop
 * string can begin inside it; when one appears the text is cut before it. */
#include "serve/serve.h"

#include <string.h>

void
serve_stop_text_init (ServeStopText *st, const char *const *stop)
{
  st->text = g_string_new (NULL);
  st->emitted = 0;
  st->stop = stop;
  st->max_stop = 0;
  for (guint s = 0; stop && stop[s]; s++)
    st->max_stop = MAX (st->max_stop, strlen (stop[s]));
}

void
serve_stop_text_clear (ServeStopText *st)
{
  if (st->text)
    g_string_free (st->text, TRUE);
  st->text = NULL;
}

static char *
release (ServeStopText *st, gsize end)
{
  if (end <= st->emitted)
    return NULL;
  char *piece = g_strndup (st->text->str + st->emitted, end - st->emitted);
  st->emitted = end;
  return piece;
}

/* Appends @piece; *ready receives the text that is now final (or NULL). Returns TRUE
 * when a stop string was found (the text then ends before it). */
gboolean
serve_stop_text_push (ServeStopText *st, const char *piece, char **ready)
{
  gsize old = st->text->len;
  g_string_append (st->text, piece);
  gsize from = old >= st->max_stop ? old - st->max_stop + 1 : 0, cut = G_MAXSIZE;
  for (guint s = 0; st->stop && st->stop[s]; s++) {
    if (!*st->stop[s])
      continue;
    const char *p = strstr (st->text->str + from, st->stop[s]);
    if (p && (gsize) (p - st->text->str) < cut)
      cut = (gsize) (p - st->text->str);
  }
  if (cut != G_MAXSIZE) {
    g_string_truncate (st->text, cut);
    *ready = release (st, cut);
    return TRUE;
  }
  /* Hold back the longest tail that is a proper prefix of some stop string. */
  gsize hold = 0;
  for (guint s = 0; st->stop && st->stop[s]; s++) {
    gsize len = strlen (st->stop[s]);
    for (gsize k = MIN (len ? len - 1 : 0, st->text->len); k > hold; k--)
      if (memcmp (st->text->str + st->text->len - k, st->stop[s], k) == 0) {
        hold = k;
        break;
      }
  }
  *ready = release (st, st->text->len - hold);
  return FALSE;
}

/* Releases whatever was held back (the generation ended without a stop string). */
char *
serve_stop_text_finish (ServeStopText *st)
{
  return release (st, st->text->len);
}
