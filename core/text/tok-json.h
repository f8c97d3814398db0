/* tok-json.h: a small, fast read-only JSON tree for tokenizer.json files.
 *
 * json-glib needs over a second for Gemma 3's 33 MB tokenizer.json; this reader
 * decodes strings in place inside one buffer and allocates nodes from an arena,
 * so the same file parses in a fraction of that. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum { TJ_NULL, TJ_BOOL, TJ_NUMBER, TJ_STRING, TJ_ARRAY, TJ_OBJECT } TjType;

typedef struct _TjNode TjNode;
struct _TjNode {
  TjType type;
  guint n;                 /* string length in bytes, or number of items / members */
  union {
    const char *s;         /* NUL-terminated, may contain NUL (use n) */
    double num;
    gboolean b;
    TjNode **items;        /* array: n items; object: 2n (key, value) pairs */
  } u;
};

typedef struct _TjDoc TjDoc;

TjDoc   *tj_doc_load (const char *path, GError **error);
TjDoc   *tj_doc_parse (char *data, gsize len, const char *name, GError **error);
void     tj_doc_free (TjDoc *doc);
TjNode  *tj_doc_root (TjDoc *doc);

TjNode  *tj_get (const TjNode *object, const char *key);
const char *tj_get_string (const TjNode *object, const char *key);
gboolean tj_get_bool (const TjNode *object, const char *key, gboolean fallback);
gboolean tj_is (const TjNode *node, TjType type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TjDoc, tj_doc_free)

G_END_DECLS
