/*
 * manager.h - the balancer-manager handler: an HTML page and a JSON API
 * that show every balancer and member and change their settings
 * (SetHandler balancer-manager inside a <Location>).
 */
#ifndef BALANCER_MANAGER_H
#define BALANCER_MANAGER_H

#include "handler.h"

/* The balancer-manager handler (handler.h). */
void manager_serve(const struct handler_request *rq,
                   struct handler_response *rs);

#endif
