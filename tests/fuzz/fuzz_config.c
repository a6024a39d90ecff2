/*
 * fuzz_config.c - libFuzzer target for the configuration reader.
 *
 * Feeds the input to config_load_string_options as a configuration text
 * (up to its first NUL byte). Host names are not resolved (no DNS) and
 * Include is switched off (no file system), so every run is the parser
 * alone. Success or error, the snapshot and the parser's state must be
 * freed: LeakSanitizer checks the error paths too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct config_options opt = {
        .numeric_hosts_only = true,
        .no_includes = true,
    };
    char err[512];
    char *text = malloc(size + 1);
    struct config *c;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    c = config_load_string_options("fuzz.conf", text, &opt, err,
                                   sizeof(err));
    if (c == NULL && strncmp(err, "fuzz.conf:", 10) != 0)
        abort();            /* every error names the file and line */
    config_free(c);
    free(text);
    return 0;
}
