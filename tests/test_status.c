/* Tests for status codes, messages and names, and the log router. */
#include "core/core.h"
#include "kat_test.h"

KAT_TEST(test_strerror) {
  KAT_CHECK_STR_EQ(kat_strerror(KAT_OK), "success");
  KAT_CHECK_STR_EQ(kat_strerror(KAT_EINVAL), "invalid argument");
  KAT_CHECK_STR_EQ(kat_strerror(KAT_ECANCELED), "operation canceled");
  KAT_CHECK_STR_EQ(kat_strerror(12345), "unknown status");
}

KAT_TEST(test_names) {
  KAT_CHECK_STR_EQ(kat_status_name(KAT_OK), "KAT_OK");
  KAT_CHECK_STR_EQ(kat_status_name(KAT_ERUNTIME), "KAT_ERUNTIME");
  KAT_CHECK_STR_EQ(kat_status_name(-999), "KAT_UNKNOWN");
  /* Every failure code is negative and has a distinct name. */
#define XX(name, value, msg) KAT_CHECK((value) <= 0);
  KAT_STATUS_MAP(XX)
#undef XX
}

static int g_calls;
static char g_last[256];
static void capture(void *user, kat_log_level level, const char *origin, const char *msg) {
  (void)user;
  (void)level;
  g_calls++;
  snprintf(g_last, sizeof g_last, "%s|%s", origin, msg);
}

KAT_TEST(test_log_routing) {
  kat_log_set(capture, NULL, KAT_LOG_INFO);
  kat__log(KAT_LOG_DEBUG, "hidden %d", 1);
  KAT_CHECK_INT_EQ(g_calls, 0);
  kat__log(KAT_LOG_WARN, "shown %d", 2);
  KAT_CHECK_INT_EQ(g_calls, 1);
  KAT_CHECK_STR_EQ(g_last, "katana|shown 2");
  kat_log_set(NULL, NULL, KAT_LOG_WARN);
  KAT_CHECK_INT_EQ(kat_log_level_parse("error"), KAT_LOG_ERROR);
  KAT_CHECK_INT_EQ(kat_log_level_parse("nope"), -1);
}

KAT_TEST(test_errbuf_and_sizes) {
  kat__errbuf eb;
  kat__errbuf_clear(&eb);
  KAT_CHECK_INT_EQ(kat__fail(&eb, KAT_EINVAL, "bad %s", "box"), KAT_EINVAL);
  KAT_CHECK_STR_EQ(eb.msg, "bad box");
  size_t out = 7;
  KAT_CHECK(!kat__size_mul(SIZE_MAX / 2, 3, &out));
  KAT_CHECK_INT_EQ(out, 7);
  KAT_CHECK(kat__size_mul(1024, 1024, &out));
  KAT_CHECK_INT_EQ(out, 1048576);
  KAT_CHECK(!kat__size_add(SIZE_MAX, 1, &out));
}

KAT_TEST_MAIN(KAT_CASE(test_strerror), KAT_CASE(test_names), KAT_CASE(test_log_routing),
              KAT_CASE(test_errbuf_and_sizes))
