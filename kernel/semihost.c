/*
 * Arm semihosting calls ("Semihosting for AArch32 and AArch64"): HLT #0xF000
 * with the operation in w0 and a pointer to its parameter block in x1.
 */
#include "semihost.h"

#define SYS_WRITE0          0x04
#define SYS_GET_CMDLINE     0x15
#define SYS_EXIT            0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static u64 semihost_call(u64 op, const void *params)
{
	register u64 x0 __asm__("x0") = op;
	register const void *x1 __asm__("x1") = params;

	__asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
	return x0;
}

/* A NUL-terminated string to the debug console (x1 points at the string itself). */
void semihost_write0(const char *s)
{
	semihost_call(SYS_WRITE0, s);
}

bool semihost_cmdline(char *buf, size_t size)
{
	u64 params[2] = { (u64)(uintptr_t)buf, size };

	return semihost_call(SYS_GET_CMDLINE, params) == 0;
}

/* On AArch64, SYS_EXIT takes {reason, status}, so the status reaches QEMU's exit code. */
void semihost_exit(u32 status)
{
	u64 params[2] = { ADP_STOPPED_APPLICATION_EXIT, status };

	semihost_call(SYS_EXIT, params);
	for (;;)
		;
}
