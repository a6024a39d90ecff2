/*
 * pidfile.c - the PidFile, and `balancer -k graceful|stop`, which
 * checks the file as -t does and signals the running instance, as
 * `apachectl -k graceful` does.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The directory part of path ("." when none) into buf. */
static void dir_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(buf, size, ".");
    else if (slash == path)
        snprintf(buf, size, "/");
    else
        snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

int pidfile_path(const struct config *c, char *buf, size_t size)
{
    char dir[4096];

    if (c->pid_file != NULL) {
        if (c->pid_file[0] == '/')
            return fits(snprintf(buf, size, "%s", c->pid_file), size);
        dir_of(c->file, dir, sizeof(dir));
        return fits(snprintf(buf, size, "%s/%s", dir, c->pid_file), size);
    }
    if (c->error_log != NULL) {
        dir_of(c->error_log, dir, sizeof(dir));
        return fits(snprintf(buf, size, "%s/balancer.pid", dir), size);
    }
    if (geteuid() == 0)
        return fits(snprintf(buf, size, "/run/balancer.pid"), size);
    return -1;
}

int pidfile_write(const struct config *c, char *err, size_t errsize)
{
    char path[4096], tmp[4200], text[32];
    int fd, len;

    if (pidfile_path(c, path, sizeof(path)) < 0)
        return 0;
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    if (write(fd, text, (size_t)len) != len) {
        close(fd);
        goto remove_tmp;
    }
    close(fd);
    if (rename(tmp, path) < 0)
        goto remove_tmp;
    return 0;

remove_tmp:
    unlink(tmp);
fail:
    snprintf(err, errsize, "cannot write %s: %s", path, strerror(errno));
    return -1;
}

/* The pid in path, or -1 with the cause in err. */
/*
 * The process id in path: one decimal number from 2 to the largest pid
 * the kernel hands out (4194304 is PID_MAX_LIMIT on 64-bit Linux), with
 * nothing but white space around it. A value that does not fit is refused
 * rather than wrapped, since kill() with a wrapped value could reach -1
 * (every process) or a process group.
 */
static long read_pid(const char *path, char *err, size_t errsize)
{
    char text[64], *end;
    FILE *f = fopen(path, "r");
    size_t n;
    long pid;

    if (f == NULL) {
        snprintf(err, errsize, "cannot read PidFile %s: %s", path,
                 strerror(errno));
        return -1;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';

    errno = 0;
    pid = strtol(text, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (end == text || *end != '\0' || errno != 0 || pid <= 1 ||
        pid > 4194304 || n == sizeof(text) - 1) {
        snprintf(err, errsize, "PidFile %s holds no process id", path);
        return -1;
    }
    return pid;
}

void pidfile_remove(const char *path)
{
    char err[256], note[4200];

    if (path == NULL || read_pid(path, err, sizeof(err)) != (long)getpid())
        return;
    unlink(path);
    snprintf(note, sizeof(note), "%s.reload", path);
    unlink(note);
}

/* True when pid runs a program named balancer (/proc/PID/comm). A
 * process /proc does not show is not signalled. */
static bool is_balancer(long pid)
{
    char path[64], comm[64] = "";
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return false;
    if (fgets(comm, sizeof(comm), f) == NULL)
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "balancer", 8) == 0;
}

static int send_signal(const char *path, long pid, int sig)
{
    if (!is_balancer(pid)) {
        fprintf(stderr, "balancer: PidFile %s names process %ld, which "
                "is not a running balancer (a stale PidFile?)\n", path,
                pid);
        return 1;
    }
    if (kill((pid_t)pid, sig) < 0) {
        fprintf(stderr, "balancer: cannot signal process %ld (from %s): "
                "%s%s\n", pid, path, strerror(errno),
                errno == ESRCH ? "; is balancer running?" : "");
        return 1;
    }
    return 0;
}

void pidfile_note_reload(const struct config *c, const char *refused)
{
    static _Atomic long count;
    char path[4096], final[4200], tmp[4300], text[6000];
    char *file = realpath(c->file, NULL);
    long n = atomic_fetch_add(&count, 1) + 1;
    int fd, len;

    if (pidfile_path(c, path, sizeof(path)) < 0) {
        free(file);
        return;
    }
    snprintf(final, sizeof(final), "%s.reload", path);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", final, (long)getpid());
    /* The second line names the file the server reads, so that -k
     * graceful can tell a caller who named another one. */
    len = refused == NULL
              ? snprintf(text, sizeof(text), "%ld ok\nfile %s\n", n,
                         file != NULL ? file : c->file)
              : snprintf(text, sizeof(text), "%ld refused: %s\nfile %s\n",
                         n, refused, file != NULL ? file : c->file);
    free(file);
    if (len < 0 || (size_t)len >= sizeof(text))
        len = (int)strlen(text);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, text, (size_t)len) != len || close(fd) < 0 ||
        rename(tmp, final) < 0)
        unlink(tmp);
}

/* The reload note at path: its first line into buf ("" when there is
 * none) and, when file is not NULL, the file it names into file (""
 * when it names none). */
static void read_note(const char *path, char *buf, size_t size,
                      char *file, size_t file_size)
{
    FILE *f = fopen(path, "r");
    char line[4200];

    buf[0] = '\0';
    if (file != NULL)
        file[0] = '\0';
    if (f == NULL)
        return;
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    if (file != NULL && fgets(line, sizeof(line), f) != NULL &&
        strncmp(line, "file ", 5) == 0) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(file, file_size, "%s", line + 5);
    }
    fclose(f);
}

/* The server read another file than the one -k was given: say so. As
 * Apache's -k graceful, FILE only finds the server (its PidFile). */
static void note_other_file(const char *given, const char *running)
{
    char *real = realpath(given, NULL);

    if (running[0] != '\0' && real != NULL && strcmp(real, running) != 0)
        fprintf(stderr, "balancer: note: the running balancer read %s "
                "again, the file it was started with; %s was only "
                "checked\n", running, given);
    free(real);
}

/* After SIGHUP: wait for a new note. Returns the exit status. */
static int wait_for_reload(const char *pid_path, const char *before,
                           const char *given)
{
    char path[4200], note[1200], running[4200];
    const char *refused;
    int i;

    snprintf(path, sizeof(path), "%s.reload", pid_path);
    for (i = 0; i < 100; i++) {
        struct timespec pause = { 0, 50 * 1000 * 1000 };

        read_note(path, note, sizeof(note), running, sizeof(running));
        if (note[0] != '\0' && strcmp(note, before) != 0)
            break;
        nanosleep(&pause, NULL);
    }
    if (i == 100) {
        fprintf(stderr, "balancer: SIGHUP sent; no word from the running "
                "balancer within 5 s (see its error log)\n");
        return 0;
    }
    note_other_file(given, running);
    refused = strstr(note, " refused: ");
    if (refused == NULL)
        return 0;
    fprintf(stderr, "balancer: the running balancer refused the reload: "
            "%s", refused + 10);
    return 1;
}

int pidfile_signal_command(const char *action, const char *file)
{
    char err[1024], path[4096];
    struct config *c;
    long pid;
    int sig;

    if (strcmp(action, "graceful") == 0 || strcmp(action, "restart") == 0)
        sig = SIGHUP;
    else if (strcmp(action, "stop") == 0 ||
             strcmp(action, "graceful-stop") == 0)
        sig = SIGTERM;
    else {
        fprintf(stderr, "balancer: -k %s: expected graceful, restart, "
                "stop or graceful-stop\n", action);
        return 1;
    }

    c = config_load(file, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (pidfile_path(c, path, sizeof(path)) < 0) {
        fprintf(stderr, "balancer: %s sets no PidFile (and no ErrorLog "
                "file to put one beside): cannot find the running "
                "balancer\n", file);
        config_free(c);
        return 1;
    }
    config_free(c);

    pid = read_pid(path, err, sizeof(err));
    if (pid < 0) {
        fprintf(stderr, "balancer: %s; is balancer running?\n", err);
        return 1;
    }
    if (sig == SIGHUP) {
        char note_path[4200], before[1200];

        snprintf(note_path, sizeof(note_path), "%s.reload", path);
        read_note(note_path, before, sizeof(before), NULL, 0);
        if (send_signal(path, pid, sig) != 0)
            return 1;
        return wait_for_reload(path, before, file);
    }
    return send_signal(path, pid, sig);
}
