/*
 * malloc_count.c - LD_PRELOAD library that counts heap allocations.
 *
 * Used by bench/run.py to measure heap allocations per proxied request:
 *
 *   MALLOC_COUNT_FILE=/tmp/x LD_PRELOAD=build/bench/malloc_count.so prog
 *
 * Every allocation call (malloc, calloc, realloc, posix_memalign,
 * aligned_alloc, memalign, valloc) and every free of a non-NULL pointer is
 * counted with a relaxed atomic add, then passed to glibc's own allocator
 * (the __libc_* entry points, so no dlsym bootstrap is needed). A
 * background thread rewrites MALLOC_COUNT_FILE every 50 ms with one line
 * "allocs=N frees=M"; the bench reads it before and after a bounded load.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static unsigned long allocs;
static unsigned long frees;

static void count(unsigned long *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
    count(&allocs);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count(&allocs);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count(&allocs);
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p)
        count(&frees);
    __libc_free(p);
}

void *memalign(size_t align, size_t size)
{
    count(&allocs);
    return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    return memalign(align, size);
}

void *valloc(size_t size)
{
    return memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    void *p;

    if (align < sizeof(void *) || (align & (align - 1)))
        return 22; /* EINVAL */
    p = memalign(align, size);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

/* Rewrite the counter file every 50 ms, for as long as the process runs. */
static void *writer(void *arg)
{
    const char *path = arg;
    struct timespec pause = { 0, 50 * 1000 * 1000 };
    char line[96];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    for (;;) {
        n = snprintf(line, sizeof(line), "allocs=%lu frees=%lu\n",
                     __atomic_load_n(&allocs, __ATOMIC_RELAXED),
                     __atomic_load_n(&frees, __ATOMIC_RELAXED));
        if (pwrite(fd, line, (size_t)n, 0) != n)
            break;
        nanosleep(&pause, NULL);
    }
    close(fd);
    return NULL;
}

__attribute__((constructor)) static void start_writer(void)
{
    const char *path = getenv("MALLOC_COUNT_FILE");
    pthread_attr_t attr;
    pthread_t t;

    if (!path || !*path)
        return;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, writer, strdup(path));
    pthread_attr_destroy(&attr);
}
