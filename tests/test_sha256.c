/*
 * SHA-256 against the FIPS 180-4 example vectors (NIST "SHA256.pdf" / FIPS 180-2 appendix B):
 * "abc", the empty message, the 448-bit two-block message and one million 'a'; plus incremental
 * updates split at every offset, and file hashing (including a missing file).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kat_test.h"
#include "model/sha256.h"

static void hex_of(const void *data, size_t len, char out[KAT_SHA256_HEX_SIZE]) {
  uint8_t d[KAT_SHA256_SIZE];
  kat__sha256(data, len, d);
  kat__sha256_hex(d, out);
}

KAT_TEST(test_vectors) {
  char hex[KAT_SHA256_HEX_SIZE];
  hex_of("abc", 3, hex);
  KAT_CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  hex_of("", 0, hex);
  KAT_CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  KAT_CHECK_INT_EQ(strlen(m448) * 8, 448);
  hex_of(m448, strlen(m448), hex);
  KAT_CHECK_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* FIPS 180-4 long vector: 896-bit message. */
  const char *m896 =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
      "lmnopqrsmnopqrstnopqrstu";
  hex_of(m896, strlen(m896), hex);
  KAT_CHECK_STR_EQ(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

KAT_TEST(test_million_a) {
  static char buf[1000];
  memset(buf, 'a', sizeof buf);
  kat__sha256_ctx c;
  uint8_t d[KAT_SHA256_SIZE];
  char hex[KAT_SHA256_HEX_SIZE];
  kat__sha256_init(&c);
  for (int i = 0; i < 1000; i++) kat__sha256_update(&c, buf, sizeof buf);
  kat__sha256_final(&c, d);
  kat__sha256_hex(d, hex);
  KAT_CHECK_STR_EQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Splitting the input at any point (and byte by byte) gives the one-shot digest; lengths around
 * the 55/56/64-byte padding boundaries included. */
KAT_TEST(test_incremental) {
  uint8_t data[200];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 37 + 11);
  size_t lens[] = {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200};
  int mismatches = 0;
  for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
    size_t n = lens[li];
    uint8_t want[KAT_SHA256_SIZE], got[KAT_SHA256_SIZE];
    kat__sha256(data, n, want);
    for (size_t split = 0; split <= n; split++) {
      kat__sha256_ctx c;
      kat__sha256_init(&c);
      kat__sha256_update(&c, data, split);
      kat__sha256_update(&c, data + split, n - split);
      kat__sha256_final(&c, got);
      if (memcmp(want, got, sizeof want) != 0) mismatches++;
    }
    kat__sha256_ctx c;
    kat__sha256_init(&c);
    for (size_t i = 0; i < n; i++) kat__sha256_update(&c, data + i, 1);
    kat__sha256_final(&c, got);
    if (memcmp(want, got, sizeof want) != 0) mismatches++;
  }
  KAT_CHECK_INT_EQ(mismatches, 0);
}

KAT_TEST(test_file) {
  char path[] = "/tmp/kat_sha256_XXXXXX";
  int fd = mkstemp(path);
  KAT_CHECK(fd >= 0);
  if (fd < 0) return;
  FILE *f = fdopen(fd, "wb");
  /* 200000 bytes: spans several 64 KiB read blocks. */
  for (int i = 0; i < 200000; i++) fputc('a', f);
  fclose(f);
  uint8_t d[KAT_SHA256_SIZE], want[KAT_SHA256_SIZE];
  uint64_t size = 0;
  kat__errbuf eb = {{0}};
  KAT_CHECK_INT_EQ(kat__sha256_file(path, d, &size, &eb), KAT_OK);
  KAT_CHECK_INT_EQ(size, 200000);
  static char buf[200000];
  memset(buf, 'a', sizeof buf);
  kat__sha256(buf, sizeof buf, want);
  KAT_CHECK(memcmp(d, want, sizeof d) == 0);
  remove(path);
  KAT_CHECK_INT_EQ(kat__sha256_file(path, d, NULL, &eb), KAT_ENOENT);
  KAT_CHECK_CONTAINS(eb.msg, path);
}

KAT_TEST_MAIN(KAT_CASE(test_vectors), KAT_CASE(test_million_a), KAT_CASE(test_incremental),
              KAT_CASE(test_file))
