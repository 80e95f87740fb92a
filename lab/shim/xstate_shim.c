/*
 * LD_PRELOAD shim for user-mode-linux 6.1 on hosts with AVX-512/AMX.
 *
 * UML saves and restores a guest process's FPU state with
 * ptrace(PTRACE_{GET,SET}REGSET, pid, NT_X86_XSTATE, iov) using a fixed
 * 832-byte buffer (legacy area + XSAVE header + AVX).  The host kernel accepts
 * a short buffer for GETREGSET but refuses SETREGSET unless the buffer is the
 * full XSAVE size (EFAULT, "ptrace set fp regs failed, errno = 14").
 *
 * For a short SETREGSET we read the traced process's full XSAVE image, lay
 * UML's bytes over its start and write the full image back.  Components UML
 * does not know about (AVX-512, AMX) keep the values the process already has.
 * Every other call goes to the real ptrace() unchanged, so the shim is
 * harmless on CPUs whose XSAVE area fits UML's buffer.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* Far above any XSAVE layout the kernel exports (about 11 KB with AMX). */
#define FULL_MAX (64 * 1024)

typedef long (*ptrace_fn)(enum __ptrace_request, ...);

/* UML issues ptrace only from its main thread, so one static image is enough;
 * its helper threads are raw clone()s without usable TLS. */
static unsigned char full_image[FULL_MAX] __attribute__((aligned(64)));

static ptrace_fn real_ptrace(void)
{
	static ptrace_fn fn;

	if (!fn)
		fn = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	return fn;
}

static long set_xstate(ptrace_fn fn, pid_t pid, struct iovec *iov)
{
	struct iovec full = { .iov_base = full_image, .iov_len = sizeof(full_image) };
	long rc;

	rc = fn(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &full);
	if (rc < 0)
		return rc;
	if (iov->iov_len >= full.iov_len) /* already the full size: nothing to fix */
		return fn(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, iov);
	memcpy(full_image, iov->iov_base, iov->iov_len);
	return fn(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &full);
}

long ptrace(enum __ptrace_request request, ...)
{
	ptrace_fn fn = real_ptrace();
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);

	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	if (request == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE && data)
		return set_xstate(fn, pid, (struct iovec *)data);
	return fn(request, pid, addr, data);
}
