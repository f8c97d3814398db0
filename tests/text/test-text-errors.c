/* test-text-errors: malformed tokenizer.json files and templates give clear
 * GErrors (naming the file or template line), never a crash. */
#include <glib/gstdio.h>
#include <string.h>

#include "vlm/vlm-chat-template.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-tokenizer.h"

static char *tmpdir;

static char *
write_file (const char *name, const char *content)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  g_assert_true (g_file_set_contents (path, content, -1, NULL));
  return path;
}

#define VOCAB "\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}"

static const struct {
  const char *json;
  const char *expect;      /* a fragment of the message */
} bad_tokenizers[] = {
  { "", "unexpected end" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}", "expected ',' or '}'" },
  { "[1, 2]", "top level" },
  { "{\"normalizer\": null}", "missing \"model\"" },
  { "{\"model\": {\"type\": \"Banana\"}}", "unsupported model type \"Banana\"" },
  { "{\"model\": {\"type\": \"BPE\", \"vocab\": [1], \"merges\": []}}", "\"vocab\" must be an object" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a\"]}}", "merge 0 is not a pair" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [[\"a\", \"zz\"]]}}", "missing from the vocab" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"b a\"]}}", "\"ba\", which is missing" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": 3}}", "\"merges\" must be a list" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [], \"unk_token\": \"<unk>\"}}", "unk_token" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}, \"normalizer\": {\"type\": \"Weird\"}}",
    "unsupported normalizer type" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", "
    "\"pattern\": {\"Regex\": \"(unclosed\"}, \"behavior\": \"Isolated\"}}", "invalid regex" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", "
    "\"pattern\": {\"String\": \" \"}, \"behavior\": \"Sideways\"}}", "behavior" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}, \"decoder\": {\"type\": \"Sequence\"}}",
    "\"decoders\" list" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}, \"post_processor\": {\"type\": "
    "\"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {}}}",
    "special_tokens" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": []}, \"added_tokens\": [{\"id\": 5}]}",
    "added token 0" },
  { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", "no valid id" },
  { "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a b\"]}, \"x\": \"\\u12\"}", "\\u escape" },
  { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "too deep" },
};

static void
test_bad_tokenizers (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_tokenizers); i++) {
    g_autofree char *path = write_file ("tokenizer.json", bad_tokenizers[i].json);
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_file (path, &error);
    g_assert_null (tok);
    g_assert_nonnull (error);
    g_assert_true (error->domain == VLM_ERROR);
    if (!strstr (error->message, bad_tokenizers[i].expect) || !strstr (error->message, path))
      g_error ("case %u: message \"%s\" lacks \"%s\" or the path", i, error->message, bad_tokenizers[i].expect);
  }
}

static void
test_missing_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *empty = g_build_filename (tmpdir, "empty", NULL);
  g_mkdir (empty, 0700);
  g_assert_null (vlm_tokenizer_new_from_dir (empty, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (vlm_chat_template_new_from_dir (empty, NULL, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND);
}

/* A tiny valid tokenizer: decoding an id outside the vocabulary is an error. */
static void
test_decode_unknown_id (void)
{
  g_autofree char *path = write_file ("tokenizer.json",
      "{\"model\": {\"type\": \"BPE\", " VOCAB ", \"merges\": [\"a b\"]}}");
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_file (path, &error);
  g_assert_no_error (error);
  gsize n;
  g_autofree gint32 *ids = vlm_tokenizer_encode (tok, "abba", FALSE, &n);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (ids[0], ==, 2);
  gint32 bad[] = { 0, 99 };
  g_autofree char *text = vlm_tokenizer_decode (tok, bad, 2, FALSE, &error);
  g_assert_null (text);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
}

static const struct {
  const char *source;
  const char *expect;
} bad_templates[] = {
  { "{% if x %}never closed", "missing {% endif %}" },
  { "{% for %}{% endfor %}", "loop variable" },
  { "{{ 1 + }}", "expected an expression" },
  { "line one\n{{ 'unterminated }}", "line 2" },
  { "{% frobnicate %}", "unknown statement 'frobnicate'" },
  { "{{ x", "unclosed tag" },
  { "{# comment", "unclosed comment" },
  { "{{ (1, 2 }}", "expected ')'" },
  { "{% set %}", "variable name" },
  { "{{ a[1:2:3:4] }}", "too many ':'" },
};

static const struct {
  const char *source;
  const char *expect;
} bad_renders[] = {
  { "\n\n{{ raise_exception('no way') }}", "line 3" },
  { "{{ 'a' + 1 }}", "can only concatenate str" },
  { "{{ messages.nope.deeper }}", "'nope' is undefined" },
  { "{{ messages | frob }}", "unknown filter 'frob'" },
  { "{% if messages is frob %}{% endif %}", "unknown test 'frob'" },
  { "{{ 1 / 0 }}", "division by zero" },
  { "{% for m in 3 %}{% endfor %}", "not iterable" },
  { "{% set x = 1 %}{% set x.y = 2 %}", "non-namespace" },
  { "{{ undefined_function() }}", "'undefined_function' is undefined" },
  { "{{ 'x' * 1000000000000 }}", "too large" },
};

/* Deep nesting is refused, not a stack overflow. */
static void
test_deep_templates (void)
{
  const char *units[] = { "{% if x %}", "(", "-", "not ", "[" };
  for (guint u = 0; u < G_N_ELEMENTS (units); u++) {
    GString *src = g_string_new (u ? "{{ " : "");
    for (int i = 0; i < 100000; i++) g_string_append (src, units[u]);
    g_string_append (src, u ? "1 }}" : "x");
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmChatTemplate) t = vlm_chat_template_new_from_string (src->str, "deep.jinja", &error);
    g_assert_null (t);
    g_assert_true (strstr (error->message, "too deeply") != NULL);
    g_string_free (src, TRUE);
  }
}

static void
test_bad_templates (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_templates); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmChatTemplate) t = vlm_chat_template_new_from_string (bad_templates[i].source, "bad.jinja", &error);
    g_assert_null (t);
    g_assert_nonnull (error);
    if (!strstr (error->message, bad_templates[i].expect) || !strstr (error->message, "bad.jinja"))
      g_error ("template %u: message \"%s\" lacks \"%s\"", i, error->message, bad_templates[i].expect);
  }
  g_autoptr (JsonNode) messages = json_from_string ("[{\"role\": \"user\", \"content\": \"hi\"}]", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad_renders); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmChatTemplate) t = vlm_chat_template_new_from_string (bad_renders[i].source, "run.jinja", &error);
    g_assert_no_error (error);
    g_autofree char *text = vlm_chat_template_render (t, messages, TRUE, NULL, &error);
    g_assert_null (text);
    g_assert_nonnull (error);
    if (!strstr (error->message, bad_renders[i].expect) || !strstr (error->message, "run.jinja"))
      g_error ("render %u: message \"%s\" lacks \"%s\"", i, error->message, bad_renders[i].expect);
  }
}

/* Features real templates use beyond the fixtures: macros, loop controls, filters. */
static void
test_template_features (void)
{
  static const struct { const char *source, *want; } cases[] = {
    { "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('you') }} {{ greet('me', '?') }}",
      "Hi you! Hi me?" },
    { "{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
      "02" },
    { "{{ [3, 1, 2] | sort | join(',') }}|{{ 'a,b' .split(',') | length }}|{{ '%s' ~ 1.5 }}", "1,2,3|2|%s1.5" },
    { "{{ {'a': 1, 'b': [True, None]} | tojson }} {{ {'a': \"it's\"} }}", "{\"a\": 1, \"b\": [true, null]} {'a': \"it's\"}" },
    { "{% set ns = namespace(n=0) %}{% for x in [1,2,3] if x > 1 %}{% set ns.n = ns.n + x %}{{ loop.index }}/{{ loop.length }} {% endfor %}{{ ns.n }}",
      "1/2 2/2 5" },
    { "{{ 'abcdef'[::-2] }} {{ [1,2,3][-1] }} {{ 7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }}", "fdb 3 3 2 1024" },
    { "  {%- if true %}\n  x\n  {%- endif %}\ny", "  xy" },
    { "a\n    {% if true %}\nb\n    {% endif %}\n{{ 'c' }}\n", "a\nb\nc" },
    { "{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}", "a=1" },
  };
  g_autoptr (JsonNode) messages = json_from_string ("[]", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmChatTemplate) t = vlm_chat_template_new_from_string (cases[i].source, "f.jinja", &error);
    g_assert_no_error (error);
    g_autofree char *text = vlm_chat_template_render (t, messages, FALSE, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (text, ==, cases[i].want);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("vlm-text-XXXXXX", NULL);
  g_test_add_func ("/text/errors/tokenizer-json", test_bad_tokenizers);
  g_test_add_func ("/text/errors/missing-files", test_missing_files);
  g_test_add_func ("/text/errors/decode-unknown-id", test_decode_unknown_id);
  g_test_add_func ("/text/errors/templates", test_bad_templates);
  g_test_add_func ("/text/errors/deep-templates", test_deep_templates);
  g_test_add_func ("/text/templates/features", test_template_features);
  int r = g_test_run ();
  const char *names[] = { "tokenizer.json", "empty", NULL };
  for (int i = 0; names[i]; i++) {
    g_autofree char *p = g_build_filename (tmpdir, names[i], NULL);
    g_remove (p);
  }
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return r;
}
