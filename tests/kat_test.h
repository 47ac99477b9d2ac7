/*
 * A small assertion header for katana's C tests. Each failed check prints both sides and the
 * location and marks the running case failed. A test file defines its cases with KAT_TEST and
 * registers them by name in KAT_TEST_MAIN (KAT_CASE, plus KAT_SETUP / KAT_TEARDOWN fixtures that
 * run around whichever cases are chosen). The program takes `--list` (print the case names), case
 * names (run those, in that order) or nothing (run every case). KAT_SKIP skips the running case
 * with a reason; the program exits 77 (CTest's SKIP_RETURN_CODE) only when every chosen case
 * skipped and nothing failed, 1 when a check failed or a case made no checks, else 0.
 */
#ifndef KAT_TEST_H
#define KAT_TEST_H

#include <math.h>
#include <setjmp.h>
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

/* The skip state of the running case: KAT_SKIP jumps back to the harness (so a case should skip
 * before it acquires anything it would have to release). Only the case's own thread may skip. */
static jmp_buf kat_test_jmp_;
static int kat_test_in_case_ = 0;
static char kat_test_skip_reason_[512];

_Noreturn static inline void kat_test_skip_(const char *reason) {
  snprintf(kat_test_skip_reason_, sizeof kat_test_skip_reason_, "%s", reason);
  if (kat_test_in_case_) longjmp(kat_test_jmp_, 1);
  printf("SKIP: %s\n", reason); /* outside the harness: the whole program skips */
  exit(77);
}

/* Skips the running case (or fixture) with a reason that is printed. */
#define KAT_SKIP(reason) kat_test_skip_(reason)

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

/* One registered entry: a case, or a fixture that runs before (setup) or after (teardown) the
 * chosen cases whichever they are. */
typedef enum { KAT_TEST_CASE_, KAT_TEST_SETUP_, KAT_TEST_TEARDOWN_ } kat_test_kind_;
typedef struct kat_test_entry_ {
  const char *name;
  void (*fn)(void);
  kat_test_kind_ kind;
} kat_test_entry_;

#define KAT_CASE(fn) \
  { #fn, fn, KAT_TEST_CASE_ }
#define KAT_SETUP(fn) \
  { #fn, fn, KAT_TEST_SETUP_ }
#define KAT_TEARDOWN(fn) \
  { #fn, fn, KAT_TEST_TEARDOWN_ }

/* Runs fn; returns 1 if it skipped (reason in kat_test_skip_reason_), else 0. */
static inline int kat_test_call_(void (*fn)(void)) {
  kat_test_skip_reason_[0] = '\0';
  kat_test_in_case_ = 1;
  if (setjmp(kat_test_jmp_) == 0) {
    fn();
    kat_test_in_case_ = 0;
    return 0;
  }
  kat_test_in_case_ = 0;
  return 1;
}

/* Runs the fixtures of `kind`; returns 1 if one of them skipped. */
static inline int kat_test_fixtures_(const kat_test_entry_ *e, size_t n, kat_test_kind_ kind,
                                     char *why, size_t why_size) {
  for (size_t i = 0; i < n; i++) {
    if (e[i].kind != kind || !kat_test_call_(e[i].fn)) continue;
    snprintf(why, why_size, "%s: %s", e[i].name, kat_test_skip_reason_);
    return 1;
  }
  return 0;
}

static inline const kat_test_entry_ *kat_test_find_(const kat_test_entry_ *e, size_t n,
                                                    const char *name) {
  for (size_t i = 0; i < n; i++)
    if (e[i].kind == KAT_TEST_CASE_ && strcmp(e[i].name, name) == 0) return &e[i];
  return NULL;
}

/* Runs one case and prints its line; returns 0 passed, 1 failed, 2 skipped. A case does not run
 * when a setup fixture skipped (setup_skip is its reason) or failed a check (setup_failed). */
static inline int kat_test_case_(const kat_test_entry_ *c, const char *setup_skip,
                                 int setup_failed) {
  if (setup_failed) {
    printf("FAIL %s: not run, a setup fixture failed\n", c->name);
    return 1;
  }
  if (setup_skip) {
    printf("SKIP %s: %s\n", c->name, setup_skip);
    return 2;
  }
  int checks0 = kat_test_checks, failures0 = kat_test_failures;
  int skipped = kat_test_call_(c->fn);
  int checks = kat_test_checks - checks0, failures = kat_test_failures - failures0;
  if (failures) {
    printf("FAIL %s: %d of %d checks failed\n", c->name, failures, checks);
    return 1;
  }
  if (skipped) {
    printf("SKIP %s: %s\n", c->name, kat_test_skip_reason_);
    return 2;
  }
  if (checks == 0) {
    printf("FAIL %s: the case made no checks\n", c->name);
    return 1;
  }
  printf("ok   %s (%d checks)\n", c->name, checks);
  return 0;
}

static inline int kat_test_run_(const kat_test_entry_ *e, size_t n, int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < n; i++)
      if (e[i].kind == KAT_TEST_CASE_) printf("%s\n", e[i].name);
    return 0;
  }
  for (int a = 1; a < argc; a++) {
    if (!kat_test_find_(e, n, argv[a])) {
      fprintf(stderr, "%s: no case named '%s' (--list prints them)\n", argv[0], argv[a]);
      return 2;
    }
  }
  char why[700];
  int setup_skipped = kat_test_fixtures_(e, n, KAT_TEST_SETUP_, why, sizeof why);
  int fixture_failures = kat_test_failures;
  const char *skip = setup_skipped ? why : NULL;
  int counts[3] = {0, 0, 0}; /* passed, failed, skipped */
  if (argc > 1) {
    for (int a = 1; a < argc; a++)
      counts[kat_test_case_(kat_test_find_(e, n, argv[a]), skip, fixture_failures)]++;
  } else {
    for (size_t i = 0; i < n; i++)
      if (e[i].kind == KAT_TEST_CASE_) counts[kat_test_case_(&e[i], skip, fixture_failures)]++;
  }
  int before_teardown = kat_test_failures;
  if (kat_test_fixtures_(e, n, KAT_TEST_TEARDOWN_, why, sizeof why))
    printf("SKIP (teardown): %s\n", why);
  fixture_failures += kat_test_failures - before_teardown;
  if (fixture_failures) printf("FAIL fixtures: %d checks failed\n", fixture_failures);
  printf("%d checks, %d failed; cases: %d passed, %d failed, %d skipped\n", kat_test_checks,
         kat_test_failures, counts[0], counts[1], counts[2]);
  if (counts[1] || fixture_failures) return 1;
  return counts[0] == 0 && counts[2] > 0 ? 77 : 0;
}

/* Registers the entries (KAT_CASE, KAT_SETUP, KAT_TEARDOWN) and defines main. */
#define KAT_TEST_MAIN(...)                                                                        \
  int main(int argc, char **argv) {                                                               \
    static const kat_test_entry_ kat_entries_[] = {__VA_ARGS__};                                  \
    return kat_test_run_(kat_entries_, sizeof kat_entries_ / sizeof kat_entries_[0], argc, argv); \
  }

#endif /* KAT_TEST_H */
