/*
 * Physical memory layout of the test kernel on QEMU's "virt" board.
 *
 * This header is the single source of these numbers: the linker script
 * includes it, and the harness reads its #defines (harness/kdefs.py) to
 * place frames and to refuse case mappings that collide with the kernel's own.
 * Keep every value a plain hex literal on one #define line.
 */
#ifndef MMUT_LAYOUT_H
#define MMUT_LAYOUT_H

#define RAM_BASE        0x40000000      /* virt board DRAM; QEMU puts the DTB here */
#define RAM_SIZE        0x40000000      /* -m 1G */
#define UART_BASE       0x09000000      /* PL011 */

#define KERNEL_BASE     0x40080000      /* link address of the image */
/*
 * The kernel's own window: image, stacks, table pool and frame pool.  It is
 * identity-mapped in every case, so no case mapping may touch it.
 */
#define KERNEL_WINDOW_BASE  0x40000000
#define KERNEL_WINDOW_SIZE  0x02000000
/* Frames that cases map their pages to (inside the window, hence reachable through the identity alias). */
#define FRAME_POOL_BASE     0x41000000
#define FRAME_POOL_SIZE     0x01000000
/* Where frames too large for the pool (big blocks) are placed: RAM above the window. */
#define BIG_FRAME_BASE      0x42000000

/*
 * The case blob (case.h): QEMU loads it here (-device loader, harness/qemu.py)
 * and the kernel reads it in place.  Inside the window, above the table pool
 * and below the frames, so the steps can be read from the identity map and
 * from the alias alike, and nothing a case maps or the kernel writes is here.
 * 10 MiB: about 30000 generated cases (make bench's largest scale is 25600).
 */
#define CASE_BLOB_BASE      0x40600000
#define CASE_BLOB_SIZE      0x00a00000

/* The semihosting command line the kernel reads (case IDs, index ranges and options, space-separated); the harness sizes batches to it. */
#define CMDLINE_SIZE        0x4000

/*
 * The kernel's home in TTBR1, for cases whose TTBR0 cannot hold its identity
 * map (small VA sizes, TCR_EL1.EPD0 = 1): the window and the UART page aliased
 * at the top of the upper VA range, reached while such a case's steps run
 * (main.c run_steps_from_alias, run_in_alias in alias.S).  Needs T1SZ <= 34.
 */
#define KERNEL_ALIAS_BASE   0xffffffffc0000000
#define UART_ALIAS_BASE     0xffffffffc2000000

/*
 * Where EL0 steps run: the kernel's EL0 code page (el0.S), the image's first
 * 64 KiB, mapped read-only and EL0-executable at EL0_CODE_VA next to the UART,
 * in the half the kernel runs from (at the alias when it runs from TTBR1).
 * The kernel's own mappings stay EL1-only.
 */
#define EL0_CODE_PA         0x40080000
#define EL0_CODE_SIZE       0x10000
#define EL0_CODE_VA         0x09010000
#define EL0_CODE_ALIAS_VA   0xffffffffc2010000
/* The image's code (the EL0 page included) ends here: under SCTLR_EL1.WXN it is mapped read-only, the rest not. */
#define KERNEL_TEXT_END     0x400a0000
/* The table pool (tables.c), at a fixed place so that the harness builds the same tables offline (harness/declared.py). */
#define TABLE_POOL_BASE     0x40100000

/*
 * MAIR_EL1 indices the kernel's own mappings use.  Every case's MAIR must hold
 * Device-nGnRnE (0x00) and Normal write-back (0xff) at these indices.
 */
#define KERNEL_ATTRIDX_DEVICE   0x0
#define KERNEL_ATTRIDX_NORMAL   0x1

#endif
