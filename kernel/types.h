/* Fixed-width types for a freestanding kernel that is also compiled on the host (and BIT() for assembly). */
#ifndef MMUT_TYPES_H
#define MMUT_TYPES_H

#ifdef __ASSEMBLER__
#define BIT(n) (1 << (n))
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int64_t s64;

#define BIT(n) (1ULL << (n))
#define GENMASK(hi, lo) ((~0ULL >> (63 - (hi))) & ~((1ULL << (lo)) - 1))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#endif
