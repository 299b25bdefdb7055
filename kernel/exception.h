/* The exception frame vectors.S saves, and the handler. */
#ifndef MMUT_EXCEPTION_H
#define MMUT_EXCEPTION_H

#include "types.h"

struct frame {
	u64 x[31];
	u64 elr, spsr, esr;
};

/* Vector numbers as vectors.S passes them: group * 4 + (sync, IRQ, FIQ, SError). */
#define VECTOR_CURRENT_SP0_SYNC 0
#define VECTOR_LOWER_A64_SYNC   8
#define VECTOR_IS_NESTED(v)     ((v) >= 4 && (v) < 8)

void handle_exception(struct frame *frame, u64 vector);

/* Self-test hooks: make the next exception unexpected, or nested. */
void selftest_brk(void);
void selftest_nested(void);
void selftest_hang(void) __attribute__((noreturn));

/* The case being run, for the report of an exception. */
extern const char *current_case_id;

#endif
