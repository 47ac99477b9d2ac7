/*
 * Status codes: names and messages generated from KAT_STATUS_MAP.
 */
#include "katana/common.h"

const char *kat_strerror(int status) {
  switch (status) {
#define KAT__STATUS_MSG(name, value, msg) \
  case (value): return msg;
    KAT_STATUS_MAP(KAT__STATUS_MSG)
#undef KAT__STATUS_MSG
    default: return "unknown status";
  }
}

const char *kat_status_name(int status) {
  switch (status) {
#define KAT__STATUS_NAME(name, value, msg) \
  case (value): return "KAT_" #name;
    KAT_STATUS_MAP(KAT__STATUS_NAME)
#undef KAT__STATUS_NAME
    default: return "KAT_UNKNOWN";
  }
}

const char *kat_version(void) {
  return KAT_VERSION_STRING;
}
