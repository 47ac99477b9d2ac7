/*
 * Internal CPU queries shared by the library (the public side is include/katana/system.h).
 *
 * Thread-safety: reentrant; no state is kept.
 */
#ifndef KAT_RUNTIME_SYSTEM_H
#define KAT_RUNTIME_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether int8 weights should use 7 bits (reduce_range) on this CPU: true on x86 with AVX2 but
 * neither AVX512-VNNI nor AVX-VNNI, where ORT's u8 x s8 kernels use VPMADDUBSW, whose int16 pair
 * sums saturate with 8-bit weights. False with VNNI (VPDPBUSD accumulates in int32), on other
 * architectures, and when /proc/cpuinfo cannot be read (then `why` says so). `why` (may be NULL)
 * gets a one-line reason, always NUL-terminated when why_size > 0.
 */
bool kat__cpu_int8_reduce_range(char *why, size_t why_size);
/* The same decision from a file in /proc/cpuinfo's format (for tests). */
bool kat__cpu_int8_reduce_range_file(const char *path, char *why, size_t why_size);

#endif /* KAT_RUNTIME_SYSTEM_H */
