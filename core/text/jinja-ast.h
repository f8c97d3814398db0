/* jinja-ast.h: tokens and syntax tree shared by the lexer, parser and evaluator. */
#pragma once

#include "text/jinja-private.h"

G_BEGIN_DECLS

typedef enum { JT_TEXT, JT_EXPR_BEGIN, JT_EXPR_END, JT_STMT_BEGIN, JT_STMT_END, JT_NAME,
               JT_STRING, JT_INT, JT_FLOAT, JT_OP, JT_EOF } JTokType;

typedef struct {
  JTokType type;
  char *s;                 /* text, name, string value or operator */
  gint64 i;
  double f;
  int line;
} JTok;

/* Splits @source into text and tag tokens, applying whitespace control,
 * trim_blocks and lstrip_blocks (on, as transformers configures Jinja). */
GArray  *jinja_lex (const char *source, const char *name, GError **error);
void     jinja_tokens_free (GArray *tokens);

typedef enum {
  /* expressions */
  JN_LITERAL, JN_NAME, JN_LIST, JN_DICT, JN_ATTR, JN_ITEM, JN_SLICE, JN_CALL, JN_FILTER,
  JN_TEST, JN_NOT, JN_NEG, JN_BINARY, JN_AND, JN_OR, JN_COND,
  /* statements */
  JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SET_BLOCK, JN_BODY, JN_BREAK, JN_CONTINUE,
  JN_MACRO,
} JNodeKind;

struct _JNode {
  JNodeKind kind;
  int line;
  char *name;              /* NAME, ATTR, FILTER, TEST, BINARY operator, SET attribute, MACRO */
  JValue *value;           /* LITERAL */
  JNode *a, *b, *c;        /* operands, conditions, bodies */
  GPtrArray *items;        /* LIST / DICT (key, value pairs) elements, CALL / FILTER / TEST
                              positional args, BODY statements */
  GPtrArray *kw_names;     /* CALL / FILTER / TEST keyword names, MACRO parameter names,
                              FOR / SET target names */
  GPtrArray *kw_values;    /* matching expressions (MACRO defaults, NULL entries allowed) */
  gboolean negate;         /* TEST: "is not" */
};

struct _JTemplate {
  char *name;
  JNode *body;
};

void     jinja_node_free (JNode *n);

/* Evaluated arguments of a call, filter or test. */
struct _JCallArgs {
  GPtrArray *pos;          /* JValue* */
  GPtrArray *kw_names;     /* char* */
  GPtrArray *kw_values;    /* JValue* */
};

/* The argument at @index, else the keyword @kw (may be NULL); borrowed or NULL. */
JValue  *jargs_get (JCallArgs *args, guint index, const char *kw);

/* Builtins (jinja-builtins.c); errors carry no location, the evaluator adds it. */
JValue  *jinja_filter (const char *name, JValue *v, JCallArgs *args, GError **error);
gboolean jinja_test (const char *name, JValue *v, JCallArgs *args, gboolean *result,
                     GError **error);
JValue  *jinja_getattr (JValue *obj, const char *name, GError **error);
JValue  *jinja_getitem (JValue *obj, JValue *key, GError **error);
JValue  *jinja_global (const char *name);
JValue  *jinja_undefined_error (JValue *undef, GError **error);

G_END_DECLS
