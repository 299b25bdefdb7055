/*
 * The kernel's blob checker (kernel/blob.c) on the host, for tests/test_fuzz_inputs_blob.py:
 * built with -fsanitize=address,undefined, it reads blobs from stdin (each a little-endian u32
 * length, then the bytes), checks each in a buffer of exactly its size, and reads every byte a
 * checked blob lets the kernel read (each case's ID, arrays and stage 2), so that a check that
 * lets an out-of-bounds or misaligned record through stops it with the sanitizer's report.
 * One line out per blob: "ok <cases>" or "refused <field> <case index or ->".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"

static volatile u64 sink;

static void touch(const void *p, size_t n)
{
	const volatile u8 *b = p;

	for (size_t i = 0; i < n; i++)
		sink += b[i];
}

static void read_case(const void *blob, u32 index)
{
	struct mmut_case c;

	blob_case(blob, index, &c);
	touch(c.id, strlen(c.id) + 1);
	touch(c.maps, c.nmaps * sizeof(*c.maps));
	touch(c.tables, c.ntables * sizeof(*c.tables));
	touch(c.raws, c.nraws * sizeof(*c.raws));
	for (u32 i = 0; i < c.nsteps; i++)
		sink += c.steps[i].va + c.steps[i].op + c.steps[i].level;
	for (u32 i = 0; i < c.nmaps; i++)
		sink += c.maps[i].va + c.maps[i].pa;
	if (c.stage2) {
		touch(c.stage2, sizeof(*c.stage2));
		touch(c.s2maps, c.stage2->nmaps * sizeof(*c.s2maps));
		touch(c.s2raws, c.stage2->nraws * sizeof(*c.s2raws));
	}
}

int main(void)
{
	uint32_t len;

	while (fread(&len, sizeof(len), 1, stdin) == 1) {
		u8 *blob = malloc(len ? len : 1);
		struct blob_problem problem;

		if (!blob || fread(blob, 1, len, stdin) != len)
			return 2;
		if (blob_check(blob, len, &problem)) {
			for (u32 i = 0; i < blob_ncases(blob); i++)
				read_case(blob, i);
			printf("ok %u\n", blob_ncases(blob));
		} else if (problem.in_case) {
			printf("refused %s %u\n", problem.field, problem.index);
		} else {
			printf("refused %s -\n", problem.field);
		}
		fflush(stdout);
		free(blob);
	}
	return 0;
}
