/*
 * The strict JSON parser: values and lookups on valid documents (escapes, surrogate pairs,
 * numbers, nesting) and every class of error, each checked for its line:column and wording.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kat_test.h"
#include "model/json.h"
#include "tools/json/write.h"

static kat__json_doc *parse_ok(const char *text) {
  kat__json_doc *d = NULL;
  kat__errbuf eb = {{0}};
  int rc = kat__json_parse(text, strlen(text), "t.json", NULL, &d, &eb);
  if (rc) fprintf(stderr, "unexpected error for %s: %s\n", text, eb.msg);
  KAT_CHECK_INT_EQ(rc, KAT_OK);
  return d;
}

/* Parses text (with explicit length), expects failure with `status` and a message containing
 * `needle` (which should include the line:column). */
static void parse_fail_n(const char *text, size_t len, const kat__json_limits *lim, int status,
                         const char *needle) {
  kat__json_doc *d = (kat__json_doc *)&d; /* must be reset to NULL */
  kat__errbuf eb = {{0}};
  int rc = kat__json_parse(text, len, "t.json", lim, &d, &eb);
  KAT_CHECK_INT_EQ(rc, status);
  KAT_CHECK(d == NULL);
  KAT_CHECK_CONTAINS(eb.msg, needle);
  if (rc == KAT_OK) kat__json_destroy(d);
}

static void parse_fail(const char *text, const char *needle) {
  parse_fail_n(text, strlen(text), NULL, KAT_EFORMAT, needle);
}

KAT_TEST(test_values) {
  const char *text =
      "{\n"
      "  \"s\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\",\n"
      "  \"u\": \"\\u00e9\\u20AC\\ud83d\\ude00\",\n"
      "  \"raw\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\n"
      "  \"nul\": \"a\\u0000b\",\n"
      "  \"i\": -9223372036854775808, \"imax\": 9223372036854775807,\n"
      "  \"big\": 18446744073709551616, \"f\": -1.5e-3, \"e\": 7E2, \"z\": -0, \"x\": 7.0,\n"
      "  \"t\": true, \"fa\": false, \"n\": null,\n"
      "  \"a\": [1, [2, [3]], {}, [], \"x\"],\n"
      "  \"o\": {\"k\": {\"k\": 5}}\n"
      "}\n";
  kat__json_doc *d = parse_ok(text);
  if (!d) return;
  const kat__json *r = kat__json_root(d);
  KAT_CHECK_INT_EQ(kat__json_type(r), KAT_JSON_OBJECT);
  KAT_CHECK_INT_EQ(kat__json_len(r), 16);
  KAT_CHECK_STR_EQ(kat__json_string(kat__json_get(r, "s"), NULL), "a\"b\\c/d\b\f\n\r\t");
  KAT_CHECK_STR_EQ(kat__json_string(kat__json_get(r, "u"), NULL),
                   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  KAT_CHECK_STR_EQ(kat__json_string(kat__json_get(r, "raw"), NULL),
                   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  size_t len = 0;
  const char *nul = kat__json_string(kat__json_get(r, "nul"), &len);
  KAT_CHECK_INT_EQ(len, 3);
  KAT_CHECK(nul && nul[0] == 'a' && nul[1] == '\0' && nul[2] == 'b');

  int64_t i = 0;
  double x = 0;
  KAT_CHECK(kat__json_int64(kat__json_get(r, "i"), &i));
  KAT_CHECK(i == INT64_MIN);
  KAT_CHECK(kat__json_int64(kat__json_get(r, "imax"), &i));
  KAT_CHECK(i == INT64_MAX);
  KAT_CHECK(!kat__json_int64(kat__json_get(r, "big"), &i)); /* 2^64: a double, not an int64 */
  KAT_CHECK(kat__json_double(kat__json_get(r, "big"), &x));
  KAT_CHECK_NEAR(x, 18446744073709551616.0, 1.0);
  KAT_CHECK(kat__json_double(kat__json_get(r, "f"), &x));
  KAT_CHECK_NEAR(x, -1.5e-3, 0);
  KAT_CHECK(!kat__json_int64(kat__json_get(r, "f"), &i));
  KAT_CHECK(kat__json_int64(kat__json_get(r, "e"), &i));
  KAT_CHECK_INT_EQ(i, 700);
  KAT_CHECK(kat__json_int64(kat__json_get(r, "x"), &i));
  KAT_CHECK_INT_EQ(i, 7);
  KAT_CHECK(kat__json_int64(kat__json_get(r, "z"), &i));
  KAT_CHECK_INT_EQ(i, 0);

  bool b = false;
  KAT_CHECK(kat__json_bool(kat__json_get(r, "t"), &b) && b);
  KAT_CHECK(kat__json_bool(kat__json_get(r, "fa"), &b) && !b);
  KAT_CHECK(kat__json_is_null(kat__json_get(r, "n")));
  /* Type-checked getters refuse other types. */
  KAT_CHECK(!kat__json_bool(kat__json_get(r, "n"), &b));
  KAT_CHECK(!kat__json_double(kat__json_get(r, "s"), &x));
  KAT_CHECK(kat__json_string(kat__json_get(r, "t"), NULL) == NULL);
  KAT_CHECK(kat__json_get(r, "missing") == NULL);
  KAT_CHECK(kat__json_get(kat__json_get(r, "a"), "k") == NULL); /* not an object */

  const kat__json *a = kat__json_get(r, "a");
  KAT_CHECK_INT_EQ(kat__json_len(a), 5);
  KAT_CHECK(kat__json_int64(kat__json_at(a, 0), &i) && i == 1);
  const kat__json *a1 = kat__json_at(a, 1);
  KAT_CHECK_INT_EQ(kat__json_len(a1), 2);
  KAT_CHECK(kat__json_int64(kat__json_at(kat__json_at(a1, 1), 0), &i) && i == 3);
  KAT_CHECK_INT_EQ(kat__json_type(kat__json_at(a, 2)), KAT_JSON_OBJECT);
  KAT_CHECK_INT_EQ(kat__json_len(kat__json_at(a, 2)), 0);
  KAT_CHECK_INT_EQ(kat__json_type(kat__json_at(a, 3)), KAT_JSON_ARRAY);
  KAT_CHECK_STR_EQ(kat__json_string(kat__json_at(a, 4), NULL), "x");
  KAT_CHECK(kat__json_at(a, 5) == NULL);
  const kat__json *k = kat__json_get(kat__json_get(kat__json_get(r, "o"), "k"), "k");
  KAT_CHECK(kat__json_int64(k, &i) && i == 5);
  KAT_CHECK_STR_EQ(kat__json_key(k), "k");
  KAT_CHECK_STR_EQ(kat__json_key(kat__json_at(r, 0)), "s");

  int line = 0, col = 0;
  kat__json_pos(kat__json_get(r, "o"), &line, &col);
  KAT_CHECK_INT_EQ(line, 10);
  KAT_CHECK_INT_EQ(col, 8);
  /* Columns count characters: the value after a 3-byte UTF-8 character. */
  kat__json_destroy(d);
  d = parse_ok("[\"\xe2\x82\xac\", 1]");
  kat__json_pos(kat__json_at(kat__json_root(d), 1), &line, &col);
  KAT_CHECK_INT_EQ(col, 7);
  kat__json_destroy(d);

  /* Scalars at the top level, surrounding whitespace. */
  d = parse_ok(" \t\r\n42 \n");
  KAT_CHECK(kat__json_int64(kat__json_root(d), &i) && i == 42);
  kat__json_destroy(d);
  d = parse_ok("\"top\"");
  KAT_CHECK_STR_EQ(kat__json_string(kat__json_root(d), NULL), "top");
  kat__json_destroy(d);
  kat__json_destroy(NULL);
}

KAT_TEST(test_errors) {
  parse_fail("", "t.json:1:1: expected a value, found end of input");
  parse_fail("   \n  ", "t.json:2:3: expected a value");
  parse_fail("{\"a\": 1,}", "t.json:1:9: expected a string key, found '}'");
  parse_fail("[1, 2,]", "t.json:1:7: expected a value, found ']'");
  parse_fail("[1 2]", "t.json:1:4: expected ',' or ']' after an array element, found '2'");
  parse_fail("{\"a\" 1}", "t.json:1:6: expected ':' after an object key, found '1'");
  parse_fail("{\"a\": 1 \"b\": 2}", "1:9: expected ',' or '}' after an object member");
  parse_fail("{a: 1}", "1:2: expected a string key, found 'a'");
  parse_fail("[1]\n  x", "t.json:2:3: expected end of input after the top-level value");
  parse_fail("[1", "1:3: expected ',' or ']' after an array element, found end of input");
  parse_fail("{\"a\":1, \"a\":2}", "t.json:1:13: duplicate object key \"a\"");
  parse_fail("{\"b\":{\"x\":1,\"y\":2,\"x\":3}}", "duplicate object key \"x\"");
  /* Literals and numbers. */
  parse_fail("tru", "1:1: expected a value, found 't'");
  parse_fail("[nul]", "1:2: expected a value");
  parse_fail("NaN", "expected a value, found 'N'");
  parse_fail("-Infinity", "1:2: expected a digit, found 'I'");
  parse_fail("012", "1:2: leading zeros are not allowed");
  parse_fail("[-]", "1:3: expected a digit, found ']'");
  parse_fail("1.", "1:3: expected a digit after the decimal point, found end of input");
  parse_fail("1.e5", "1:3: expected a digit after the decimal point");
  parse_fail(".5", "1:1: expected a value, found '.'");
  parse_fail("1e", "1:3: expected a digit in the exponent");
  parse_fail("1e+", "1:4: expected a digit in the exponent");
  parse_fail("+1", "expected a value, found '+'");
  parse_fail("1e999", "out of the range of a double");
  parse_fail("0x10", "1:2: expected end of input after the top-level value, found 'x'");
  /* Strings. */
  parse_fail("\"abc", "t.json:1:1: unterminated string");
  parse_fail("\"a\tb\"", "1:3: control character 0x09 in a string must be escaped");
  parse_fail("\"a\nb\"", "control character 0x0a");
  parse_fail("\"\\x\"", "1:3: expected an escape character");
  parse_fail("\"\\u12G4\"", "1:6: expected a hex digit in a \\u escape, found 'G'");
  parse_fail("\"\\u12", "unterminated \\u escape");
  parse_fail("\"\\ud83d\"", "high surrogate \\uD83D is not followed by a low surrogate");
  parse_fail("\"\\ud83d\\u0041\"", "followed by \\u0041, not a low surrogate");
  parse_fail("\"\\ude00\"", "unpaired low surrogate \\uDE00");
  parse_fail("\"\xff\"", "1:2: invalid UTF-8 byte 0xff");
  parse_fail("\"\xc0\xaf\"", "invalid UTF-8 byte 0xc0");         /* overlong '/' */
  parse_fail("\"\xe0\x80\xaf\"", "invalid UTF-8 byte 0xe0");     /* overlong */
  parse_fail("\"\xed\xa0\x80\"", "invalid UTF-8 byte 0xed");     /* encoded surrogate */
  parse_fail("\"\xf4\x90\x80\x80\"", "invalid UTF-8 byte 0xf4"); /* above U+10FFFF */
  parse_fail("\"\xe2\x82\"", "invalid UTF-8 byte 0xe2");         /* truncated sequence */
  parse_fail("\xef\xbb\xbf{}", "a byte order mark is not allowed");
  parse_fail("[1] // c", "expected end of input");
  parse_fail("'a'", "expected a value, found '''");
  /* A NUL byte inside the given length is just a bad byte. */
  parse_fail_n("[1,\0]", 5, NULL, KAT_EFORMAT, "1:4: expected a value, found byte 0x00");
}

KAT_TEST(test_limits) {
  /* Depth: 64 levels by default; 100000 open brackets fail fast without recursion. */
  static char deep[100001];
  memset(deep, '[', 100000);
  deep[100000] = '\0';
  parse_fail(deep, "1:65: nesting deeper than 64 levels");
  kat__json_limits lim = {0, 0, 3};
  kat__json_doc *d = NULL;
  kat__errbuf eb = {{0}};
  KAT_CHECK_INT_EQ(kat__json_parse("[[[1]]]", 7, NULL, &lim, &d, &eb), KAT_OK);
  kat__json_destroy(d);
  d = NULL;
  parse_fail_n("[[[[1]]]]", 9, &lim, KAT_EFORMAT, "json:1:4: nesting deeper than 3 levels");
  /* Size and value-count limits. */
  kat__json_limits small = {8, 0, 0};
  parse_fail_n("[1,2,3,4,5]", 11, &small, KAT_EFORMAT,
               "input is 11 bytes, more than the limit of 8");
  kat__json_limits few = {0, 4, 0};
  parse_fail_n("[1,2,3,4]", 9, &few, KAT_EFORMAT, "1:8: too many values (the limit is 4)");
  /* Long numbers are refused, not truncated. */
  static char longnum[700];
  memset(longnum, '1', 600);
  longnum[600] = '\0';
  parse_fail(longnum, "number longer than 511 characters");
  /* Many members with distinct keys: duplicate detection stays fast (sorted). */
  size_t n = 20000, cap = n * 16 + 16, used = 0;
  char *big = malloc(cap);
  used += (size_t)snprintf(big + used, cap - used, "{");
  for (size_t k = 0; k < n; k++)
    used += (size_t)snprintf(big + used, cap - used, "%s\"k%zu\":%zu", k ? "," : "", k, k);
  snprintf(big + used, cap - used, "}");
  d = parse_ok(big);
  const kat__json *v = kat__json_get(kat__json_root(d), "k19999");
  int64_t i = 0;
  KAT_CHECK(kat__json_int64(v, &i) && i == 19999);
  kat__json_destroy(d);
  free(big);
  /* Invalid arguments. */
  KAT_CHECK_INT_EQ(kat__json_parse(NULL, 3, NULL, NULL, &d, &eb), KAT_EINVAL);
  KAT_CHECK_INT_EQ(kat__json_parse("1", 1, NULL, NULL, NULL, &eb), KAT_EINVAL);
}

/* The writer (tools/json/write.h) read back by the parser: escapes, UTF-8, control bytes, and
 * numbers with their decimals or null. */
KAT_TEST(test_writer_round_trip) {
  const char *in = "q\"b\\s/\x01\t\n \xc3\xa9\xe2\x82\xac end";
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  KAT_CHECK(f != NULL);
  if (!f) return;
  fputs("{\"s\": ", f);
  kat__json_write_str(f, in);
  fputs(", \"a\": [", f);
  kat__json_write_num(f, 1.23456789, 4);
  fputs(", ", f);
  kat__json_write_num(f, -2.5, 0);
  fputs(", ", f);
  kat__json_write_num(f, NAN, 6);
  fputs(", ", f);
  kat__json_write_num(f, INFINITY, 6);
  fputs("]}", f);
  fclose(f);
  KAT_CHECK_CONTAINS(buf, "[1.2346, -2, null, null]");
  KAT_CHECK_CONTAINS(buf, "\\u0001\\u0009\\u000a");
  kat__errbuf eb = {{0}};
  kat__json_doc *doc = NULL;
  KAT_CHECK_INT_EQ(kat__json_parse(buf, len, "written", NULL, &doc, &eb), KAT_OK);
  if (doc) {
    const char *got = kat__json_string(kat__json_get(kat__json_root(doc), "s"), NULL);
    KAT_CHECK(got && strcmp(got, in) == 0);
    double v = 0;
    KAT_CHECK(kat__json_double(kat__json_at(kat__json_get(kat__json_root(doc), "a"), 0), &v));
    KAT_CHECK_NEAR(v, 1.2346, 0);
    KAT_CHECK(kat__json_is_null(kat__json_at(kat__json_get(kat__json_root(doc), "a"), 2)));
  }
  kat__json_destroy(doc);
  free(buf);
}

KAT_TEST_MAIN(KAT_CASE(test_values), KAT_CASE(test_errors), KAT_CASE(test_limits),
              KAT_CASE(test_writer_round_trip))
