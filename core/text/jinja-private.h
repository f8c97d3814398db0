/* jinja-private.h: a Jinja2 interpreter for the subset chat templates use,
 * with Python semantics where templates depend on them (str() of lists and
 * dicts, truthiness, + on mixed types raising TypeError). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* ---- values (jinja-value.c) ---- */
typedef enum { JV_UNDEFINED, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STRING, JV_LIST, JV_DICT,
               JV_FUNCTION } JvType;

typedef struct _JValue JValue;
typedef struct _JDict JDict;
typedef struct _JCallArgs JCallArgs;
typedef struct _JEval JEval;

/* A builtin or bound method: @self is the receiver (NULL for globals). */
typedef JValue *(*JFunc) (JEval *ev, JValue *self, JCallArgs *args, GError **error);

struct _JValue {
  gint ref;
  JvType type;
  union {
    gboolean b;
    gint64 i;
    double f;
    char *s;               /* JV_STRING; JV_UNDEFINED: the missing name (or NULL) */
    GPtrArray *list;       /* JValue*, owned */
    JDict *dict;
    struct {
      JFunc fn;
      JValue *self;
      char *name;
      gpointer macro;      /* a JNode for template macros */
    } func;
  } u;
  gboolean is_namespace;   /* a namespace() object: attributes may be assigned */
};

JValue  *jv_ref (JValue *v);
void     jv_unref (JValue *v);
JValue  *jv_undefined (const char *name);
JValue  *jv_none (void);
JValue  *jv_bool (gboolean b);
JValue  *jv_int (gint64 i);
JValue  *jv_float (double f);
JValue  *jv_string (const char *s);
JValue  *jv_string_take (char *s);
JValue  *jv_list_new (void);
void     jv_list_append (JValue *list, JValue *item);     /* takes @item */
JValue  *jv_dict_new (void);
void     jv_dict_set (JValue *dict, const char *key, JValue *value);  /* takes @value */
JValue  *jv_dict_get (JValue *dict, const char *key);     /* borrowed or NULL */
guint    jv_dict_size (JValue *dict);
const char *jv_dict_key (JValue *dict, guint i);
JValue  *jv_function (const char *name, JFunc fn, JValue *self);

JValue  *jv_from_json (JsonNode *node);
gboolean jv_truthy (JValue *v);
gboolean jv_equal (JValue *a, JValue *b);
char    *jv_to_str (JValue *v);           /* Python str() (Undefined: "") */
void     jv_append_repr (GString *out, JValue *v);   /* Python repr() */
void     jv_append_json (GString *out, JValue *v, int indent, int level);
const char *jv_type_name (JValue *v);      /* Python type name for messages */
gboolean jv_is_iterable (JValue *v);
/* Items to iterate over (strings give characters, dicts their keys); NULL if not iterable. */
GPtrArray *jv_iter_items (JValue *v);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JValue, jv_unref)

/* ---- templates (jinja-lexer.c, jinja-parser.c) ---- */
typedef struct _JNode JNode;
typedef struct _JTemplate JTemplate;

JTemplate *jinja_template_parse (const char *source, const char *name, GError **error);
void     jinja_template_free (JTemplate *t);
/* Renders with @vars (a JV_DICT of globals such as messages, bos_token). */
char    *jinja_template_render (JTemplate *t, JValue *vars, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JTemplate, jinja_template_free)

G_END_DECLS
