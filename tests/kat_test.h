/*
 * A small assertion header for katana's C tests. Each failed check prints both sides and the
 * location and marks the test failed; KAT_SKIP ends the test with CTest's skip code (77) and a
 * reason. A test file defines its cases with KAT_TEST and lists them in KAT_TEST_MAIN.
 */
#ifndef KAT_TEST_H
#define KAT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kat_test_failures = 0;
static int kat_test_checks = 0;

#define KAT_CHECK(cond)                                                        \
  do {                                                                         \
    kat_test_checks++;                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      kat_test_failures++;                                                     \
    }                                                                          \
  } while (0)

#define KAT_CHECK_INT_EQ(a, b)                                                              \
  do {                                                                                      \
    long long kat_a_ = (long long)(a), kat_b_ = (long long)(b);                             \
    kat_test_checks++;                                                                      \
    if (kat_a_ != kat_b_) {                                                                 \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, #a, #b, \
              kat_a_, kat_b_);                                                              \
      kat_test_failures++;                                                                  \
    }                                                                                       \
  } while (0)

#define KAT_CHECK_NEAR(a, b, tol)                                                                  \
  do {                                                                                             \
    double kat_a_ = (double)(a), kat_b_ = (double)(b);                                             \
    kat_test_checks++;                                                                             \
    if (!(fabs(kat_a_ - kat_b_) <= (tol))) {                                                       \
      fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n", __FILE__, __LINE__, #a, #b, \
              (double)(tol), kat_a_, kat_b_);                                                      \
      kat_test_failures++;                                                                         \
    }                                                                                              \
  } while (0)

#define KAT_CHECK_STR_EQ(a, b)                                                                  \
  do {                                                                                          \
    const char *kat_a_ = (a), *kat_b_ = (b);                                                    \
    kat_test_checks++;                                                                          \
    if (!kat_a_ || !kat_b_ || strcmp(kat_a_, kat_b_) != 0) {                                    \
      fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" vs \"%s\"\n", __FILE__, __LINE__, #a, #b, \
              kat_a_ ? kat_a_ : "(null)", kat_b_ ? kat_b_ : "(null)");                          \
      kat_test_failures++;                                                                      \
    }                                                                                           \
  } while (0)

#define KAT_CHECK_CONTAINS(hay, needle)                                              \
  do {                                                                               \
    const char *kat_h_ = (hay), *kat_n_ = (needle);                                  \
    kat_test_checks++;                                                               \
    if (!kat_h_ || !strstr(kat_h_, kat_n_)) {                                        \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
              kat_h_ ? kat_h_ : "(null)", kat_n_);                                   \
      kat_test_failures++;                                                           \
    }                                                                                \
  } while (0)

/* Ends the whole test program as skipped (CTest reads exit code 77 via SKIP_RETURN_CODE). */
#define KAT_SKIP(reason)          \
  do {                            \
    printf("SKIP: %s\n", reason); \
    exit(77);                     \
  } while (0)

#define KAT_TEST(name) static void name(void)

/* Returns a path under KAT_TEST_DATA in a static buffer, or NULL when the variable is unset. */
static inline const char *kat_test_data(const char *rel) {
  static char buf[4096];
  const char *root = getenv("KAT_TEST_DATA");
  if (!root) return NULL;
  snprintf(buf, sizeof buf, "%s/%s", root, rel);
  return buf;
}

/* Reads a whole file into a malloc'ed buffer with a NUL byte after its `*n` bytes (so text files
 * are C strings); NULL if it cannot be read. The caller frees it. */
static inline void *kat_test_read_file(const char *path, size_t *n) {
  *n = 0;
  FILE *f = path ? fopen(path, "rb") : NULL;
  if (!f) return NULL;
  char *buf = NULL;
  long len = -1;
  if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
  if (len >= 0 && fseek(f, 0, SEEK_SET) == 0) buf = malloc((size_t)len + 1);
  if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[len] = '\0';
    *n = (size_t)len;
  }
  return buf;
}

#define KAT_TEST_MAIN(...)                                                                 \
  int main(void) {                                                                         \
    void (*kat_tests_[])(void) = {__VA_ARGS__};                                            \
    const char *kat_names_ = #__VA_ARGS__;                                                 \
    (void)kat_names_;                                                                      \
    for (size_t i = 0; i < sizeof kat_tests_ / sizeof kat_tests_[0]; i++) kat_tests_[i](); \
    printf("%d checks, %d failed\n", kat_test_checks, kat_test_failures);                  \
    if (kat_test_checks == 0) {                                                            \
      fprintf(stderr, "no checks ran\n");                                                  \
      return 1;                                                                            \
    }                                                                                      \
    return kat_test_failures ? 1 : 0;                                                      \
  }

#endif /* KAT_TEST_H */
