/* tok-private.h: the stages of a Hugging Face style tokenizer, each built from
 * its tokenizer.json node. Encoding runs: added-token split, normalizer,
 * pre-tokenizer, model, post-processor; decoding runs the decoder chain. */
#pragma once

#include <glib.h>
#include "text/tok-json.h"

G_BEGIN_DECLS

/* ---- normalizers (tok-normalizer.c) ---- */
typedef struct _TokNormalizer TokNormalizer;
/* @node may be NULL or JSON null: then *out is NULL and TRUE is returned. */
gboolean tok_normalizer_new (const TjNode *node, const char *where, TokNormalizer **out,
                             GError **error);
void     tok_normalizer_free (TokNormalizer *n);
void     tok_normalizer_apply (const TokNormalizer *n, GString *s);

/* ---- splitting a string into match / non-match spans (tok-split.c) ---- */
typedef enum {
  TOK_SPLIT_REMOVED,
  TOK_SPLIT_ISOLATED,
  TOK_SPLIT_MERGED_WITH_PREVIOUS,
  TOK_SPLIT_MERGED_WITH_NEXT,
  TOK_SPLIT_CONTIGUOUS,
} TokSplitBehavior;

typedef struct {
  gsize start, end;
  gboolean is_match;
} TokSpan;

/* Appends the spans of @s (covering all of it) matched by @re to @spans. */
void     tok_spans_regex (const GRegex *re, const char *s, gsize len, GArray *spans);
void     tok_spans_literal (const char *pat, gsize pat_len, const char *s, gsize len,
                            GArray *spans);
/* Applies @behavior and appends the non-empty resulting pieces to @out (GString*). */
void     tok_spans_split (GArray *spans, TokSplitBehavior behavior, gboolean invert,
                          const char *s, GPtrArray *out);
gboolean tok_split_behavior_parse (const char *name, TokSplitBehavior *out);

/* ---- pre-tokenizers (tok-pretokenizer.c) ---- */
typedef struct _TokPreTokenizer TokPreTokenizer;
gboolean tok_pretokenizer_new (const TjNode *node, const char *where, TokPreTokenizer **out,
                               GError **error);
void     tok_pretokenizer_free (TokPreTokenizer *p);
/* Splits every piece of @pieces (GString*, owned) further; @first says whether
 * the pieces start at the beginning of the input (Metaspace "first"). */
void     tok_pretokenizer_apply (const TokPreTokenizer *p, GPtrArray *pieces, gboolean first);

/* ---- models (tok-model.c, tok-bpe.c) ---- */
typedef struct _TokModel TokModel;
typedef struct {
  const char *type;
  /* Appends the ids of @word (@len bytes, NUL-terminated) to @ids (gint32). */
  void        (*tokenize) (TokModel *m, const char *word, gsize len, GArray *ids);
  const char *(*id_to_token) (TokModel *m, gint32 id);
  gint32      (*token_to_id) (TokModel *m, const char *token);
  guint       (*vocab_size) (TokModel *m);
  void        (*free) (TokModel *m);
} TokModelClass;

struct _TokModel {
  const TokModelClass *klass;
};

/* Loading may modify string nodes of @node temporarily (it restores them). */
TokModel *tok_model_new (TjNode *node, const char *where, GError **error);
TokModel *tok_bpe_new (TjNode *node, const char *where, GError **error);
void      tok_model_free (TokModel *m);
#define tok_model_tokenize(m, w, l, ids) ((m)->klass->tokenize ((m), (w), (l), (ids)))
#define tok_model_id_to_token(m, id) ((m)->klass->id_to_token ((m), (id)))
#define tok_model_token_to_id(m, t) ((m)->klass->token_to_id ((m), (t)))
#define tok_model_vocab_size(m) ((m)->klass->vocab_size ((m)))

/* ---- added tokens (tok-added.c) ---- */
typedef struct {
  char *content;
  gint32 id;
  gboolean special, lstrip, rstrip, single_word, normalized;
} TokAddedToken;

typedef struct _TokAddedVocab TokAddedVocab;
TokAddedVocab *tok_added_vocab_new (void);
void     tok_added_vocab_free (TokAddedVocab *v);
/* Adds or replaces (same content) a token. */
void     tok_added_vocab_add (TokAddedVocab *v, const TokAddedToken *t);
/* Builds the matchers; normalized tokens are matched in normalized form. */
void     tok_added_vocab_build (TokAddedVocab *v, const TokNormalizer *normalizer);
const TokAddedToken *tok_added_vocab_by_id (const TokAddedVocab *v, gint32 id);
const TokAddedToken *tok_added_vocab_by_content (const TokAddedVocab *v, const char *content);
guint    tok_added_vocab_size (const TokAddedVocab *v);
gint32   tok_added_vocab_max_id (const TokAddedVocab *v);

typedef struct {
  gsize start, end;
  gint32 id;               /* -1 for plain text */
} TokSegment;
/* Splits @s into text and token segments (appended to @out, TokSegment),
 * using the matcher of normalized or of raw tokens. */
void     tok_added_vocab_split (const TokAddedVocab *v, gboolean normalized, const char *s,
                                gsize len, GArray *out);

/* ---- post-processors (tok-postprocess.c) ---- */
typedef struct _TokPostProcessor TokPostProcessor;
gboolean tok_post_processor_new (const TjNode *node, const char *where, TokPostProcessor **out,
                                 GError **error);
void     tok_post_processor_free (TokPostProcessor *p);
/* Adds special tokens around @ids (gint32) and @tokens (char*, may be NULL). */
void     tok_post_processor_apply (const TokPostProcessor *p, GArray *ids, GPtrArray *tokens);

/* ---- decoders (tok-decoder.c) ---- */
typedef struct _TokDecoder TokDecoder;
gboolean tok_decoder_new (const TjNode *node, const char *where, TokDecoder **out,
                          GError **error);
void     tok_decoder_free (TokDecoder *d);
/* Runs the chain on @tokens (char*, owned, replaced in place); the caller joins them. */
void     tok_decoder_apply (const TokDecoder *d, GPtrArray *tokens);

/* A regex compile that reports where it came from. */
GRegex  *tok_regex_new (const char *pattern, const char *where, GError **error);
/* The string of {"String": s} or {"Regex": r} pattern nodes. */
gboolean tok_pattern_parse (const TjNode *node, const char *where, char **string, GRegex **regex,
                            GError **error);

G_END_DECLS
