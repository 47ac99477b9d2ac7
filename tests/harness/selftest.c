/*
 * A test program of the test harness itself (tests/kat_test.h), driven by run.sh: one case of each
 * outcome, so the script can check what `--list`, a chosen case, a skip from a nested helper, a
 * failed check and a case without checks print and return.
 */
#include "kat_test.h"

static int g_setup_runs = 0;

static void setup(void) {
  g_setup_runs++;
  if (getenv("KAT_SELFTEST_SKIP_SETUP")) KAT_SKIP("the setup fixture skipped");
}

KAT_TEST(passes) {
  KAT_CHECK_INT_EQ(g_setup_runs, 1); /* the setup fixture ran once, before the case */
}

static int helper_that_skips(void) {
  KAT_SKIP("skipped from a nested helper");
  return 1;
}

KAT_TEST(skips) {
  KAT_CHECK(1);
  if (helper_that_skips()) KAT_CHECK(0); /* not reached: the skip leaves the case */
}

KAT_TEST(fails) {
  KAT_CHECK_INT_EQ(1 + 1, 3);
}

KAT_TEST(no_checks) {}

static void teardown(void) {
  printf("teardown ran\n");
}

KAT_TEST_MAIN(KAT_SETUP(setup), KAT_CASE(passes), KAT_CASE(skips), KAT_CASE(fails),
              KAT_CASE(no_checks), KAT_TEARDOWN(teardown))
