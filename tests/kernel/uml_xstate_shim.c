/*
 * LD_PRELOAD shim for Debian's linux.uml (6.1) on hosts whose XSAVE area is larger than the
 * one UML 6.1 was built for (AVX-512 / AMX CPUs). UML restores a guest process's FPU state with
 * PTRACE_SETREGSET(NT_X86_XSTATE) and a buffer of its own size; the host kernel accepts only
 * the full size and answers EFAULT, and the guest's init dies ("ptrace set fp regs failed").
 *
 * This shim completes such a request: it reads the tracee's full current state, overlays the
 * part UML gave (legacy area, header and AVX upper halves), and writes the full size back.
 * Components beyond UML's buffer keep the tracee's current contents, so guest programs must
 * not use AVX-512 (the test helper sets GLIBC_TUNABLES to keep glibc off it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#define XSAVE_HDR_OFFSET 512
#define FULL_MAX 65536

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

static unsigned char full[FULL_MAX];

long ptrace(enum __ptrace_request request, ...)
{
    static ptrace_fn real;
    va_list ap;
    pid_t pid;
    void *addr, *data;

    va_start(ap, request);
    pid = va_arg(ap, pid_t);
    addr = va_arg(ap, void *);
    data = va_arg(ap, void *);
    va_end(ap);
    if (!real)
        real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");

    if (request == PTRACE_SETREGSET && (uintptr_t)addr == NT_X86_XSTATE && data) {
        struct iovec *given = data;
        struct iovec cur = { full, sizeof(full) };
        if (real(PTRACE_GETREGSET, pid, addr, &cur) == 0 && cur.iov_len > given->iov_len
            && given->iov_len >= XSAVE_HDR_OFFSET + 8) {
            uint64_t given_bv, cur_bv;
            memcpy(&cur_bv, full + XSAVE_HDR_OFFSET, 8);
            memcpy(&given_bv, (unsigned char *)given->iov_base + XSAVE_HDR_OFFSET, 8);
            memcpy(full, given->iov_base, given->iov_len);
            /* x87, SSE, AVX come from UML; every later component keeps the tracee's state */
            given_bv = (given_bv & 0x7) | (cur_bv & ~(uint64_t)0x7);
            memcpy(full + XSAVE_HDR_OFFSET, &given_bv, 8);
            return real(PTRACE_SETREGSET, pid, addr, &cur);
        }
    }
    return real(request, pid, addr, data);
}
