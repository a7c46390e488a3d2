/* size.h — byte sizes as people write them ("16G", "1.5GiB", "512M") and as
 * we print them.
 *
 * Units are binary (1024-based) whatever their spelling: K = KiB = KB =
 * 1024, M = 1024^2, G = 1024^3, T = 1024^4, case-insensitive. Memory is
 * sold and reported in binary units (a "16 GB" laptop has 16 GiB), so "16G"
 * means 16 GiB here, as in `free -h`, llama.cpp and Ollama. Nothing here
 * allocates. */
#ifndef LP_SIZE_H
#define LP_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parse a size: a whole number of bytes ("17179869184", "4096B"), or a
 * number with at most 3 decimals and a unit ("16G", "1.5GiB"). Refuses
 * spaces ("16 G"), signs, empty strings, trailing garbage, and values that
 * overflow 64 bits. Fractions round down to a whole byte. 0 on success, -1
 * otherwise (*out untouched). */
int lp_size_parse(const char *s, uint64_t *out);

/* Human form with the largest unit that keeps the number >= 1, one
 * decimal for KiB and up: "512 B", "1.1 MiB", "16.0 GiB". Always writes a
 * NUL-terminated string (truncated to cap) and returns buf. */
char *lp_size_format(uint64_t bytes, char *buf, size_t cap);

/* The same value in GiB, for tables of sizes in one unit. */
double lp_size_gib(uint64_t bytes);

#endif
