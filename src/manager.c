/*
 * manager.c - the balancer-manager page and JSON API.
 */
#include "manager.h"

#include <string.h>

void manager_serve(const struct handler_request *rq,
                   struct handler_response *rs)
{
    size_t i;

    hbuf_puts(&rs->body, "<!DOCTYPE html>\n<html><head><title>Balancer "
              "Manager</title></head><body><h1>Load Balancer Manager</h1>\n");
    for (i = 0; i < rq->config->nbalancers; i++) {
        hbuf_puts(&rs->body, "<h3>");
        hbuf_html(&rs->body, rq->config->balancers[i]->name,
                  strlen(rq->config->balancers[i]->name));
        hbuf_puts(&rs->body, "</h3>\n");
    }
    hbuf_puts(&rs->body, "</body></html>\n");
}
