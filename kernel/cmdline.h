/*
 * The semihosting command line (docs/protocol.md): case IDs, blob index
 * ranges (#first-last, #index) and the boot's options (+name), space-separated.
 */
#ifndef MMUT_CMDLINE_H
#define MMUT_CMDLINE_H

#include "types.h"

/* The boot's options: walk records of every step (+walks), records through semihosting (+semihosting). */
struct boot_options {
	bool walks, semihosting;
};
extern struct boot_options options;

/* The command line, read through semihosting; NULL if it does not fit CMDLINE_SIZE. */
const char *cmdline_read(void);
/* The next space-separated token of *p: its length, 0 at the end. */
size_t next_token(const char **p, const char **token);
/* Set the options of the command line p (options); false if one is unknown. */
bool set_options(const char *p);
bool set_option(const char *token, size_t len);
bool parse_range(const char *token, size_t len, u32 ncases, u32 *first, u32 *last);
/* An error record what=`what` naming the token as `key`; EXIT_CASE_ERROR. */
int report_bad_token(const char *what, const char *key, const char *token, size_t len);

#endif
