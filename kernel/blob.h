/* The case blob (case.h): checked once at boot, then read case by case. */
#ifndef MMUT_BLOB_H
#define MMUT_BLOB_H

#include "case.h"

/* What is wrong with a blob: the field (a protocol word) and, for a case record, its index. */
struct blob_problem {
	const char *field;
	bool in_case;
	u32 index;
};

/*
 * Check the blob at base, of at most capacity bytes: header, every case
 * record, every offset and count, and the values the kernel relies on.
 * Returns true, or false with *problem filled in.
 */
bool blob_check(const void *base, u64 capacity, struct blob_problem *problem);
u32 blob_ncases(const void *base);
const char *blob_id(const void *base, u32 index);
/* Case index of a checked blob. */
void blob_case(const void *base, u32 index, struct mmut_case *c);

#endif
