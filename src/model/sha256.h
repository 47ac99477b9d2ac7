/*
 * SHA-256 (FIPS 180-4): incremental hashing, one-shot hashing, hex encoding and file hashing.
 *
 * Thread-safety: a kat__sha256_ctx is used by one thread at a time; the functions are reentrant.
 */
#ifndef KAT_MODEL_SHA256_H
#define KAT_MODEL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define KAT_SHA256_SIZE 32
#define KAT_SHA256_HEX_SIZE 65 /* 64 lowercase hex digits and a NUL */

/* Caller-owned hashing state; no resources to release. */
typedef struct kat__sha256_ctx {
  uint32_t h[8];
  uint64_t total; /* bytes hashed so far */
  uint8_t block[64];
  size_t used; /* bytes waiting in block */
} kat__sha256_ctx;

void kat__sha256_init(kat__sha256_ctx *c);
void kat__sha256_update(kat__sha256_ctx *c, const void *data, size_t len);
/* Writes the digest; the context must be re-initialised before further use. */
void kat__sha256_final(kat__sha256_ctx *c, uint8_t out[KAT_SHA256_SIZE]);

/* One-shot digest of `len` bytes. */
void kat__sha256(const void *data, size_t len, uint8_t out[KAT_SHA256_SIZE]);
/* Lowercase hex of a digest, NUL-terminated. */
void kat__sha256_hex(const uint8_t digest[KAT_SHA256_SIZE], char out[KAT_SHA256_HEX_SIZE]);

/*
 * Hashes the file at `path` in 64 KiB blocks. KAT_ENOENT when it cannot be opened, KAT_EIO on a
 * read error, with the path in `eb`. *size (if not NULL) gets the file size.
 */
int kat__sha256_file(const char *path, uint8_t out[KAT_SHA256_SIZE], uint64_t *size,
                     kat__errbuf *eb);

#endif /* KAT_MODEL_SHA256_H */
