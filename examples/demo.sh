#!/usr/bin/env bash
# demo.sh - the guide's set-up on one machine: two PHP back ends (php -S)
# running examples/app, each with its own session directory and one shared
# upload directory, and build/balancer in front of them on the guide's
# configuration (examples/guide.conf), with the dashboard, the
# balancer-manager and the metrics switched on for 127.0.0.1. Run by
# `make demo`; Ctrl-C or a TERM to this script stops all.
#
# Environment:
#   DEMO_MODE=guide   (default) the back ends set BALANCEID=balancer.serverN
#                     on every response, as the guide's RewriteRule does
#   DEMO_MODE=insert  the back ends are left unchanged and balancer sets the
#                     cookie itself (stickysessioninsert=On)
#   FRONT_PORT=8080 BACKEND1_PORT=8081 BACKEND2_PORT=8082
#   DEMO_LOGLEVEL=info|debug (default info)
#   RUN_DIR=build/demo   where sessions, uploads, logs and the config go
#   BALANCER_BIN=build/balancer
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

MODE=${DEMO_MODE:-guide}
FRONT_PORT=${FRONT_PORT:-8080}
PORT1=${BACKEND1_PORT:-8081}
PORT2=${BACKEND2_PORT:-8082}
LEVEL=${DEMO_LOGLEVEL:-info}
RUN=${RUN_DIR:-build/demo}
BIN=${BALANCER_BIN:-build/balancer}

die() { echo "demo: $*" >&2; exit 1; }

case "$MODE" in
    guide|insert) ;;
    *) die "DEMO_MODE must be guide or insert, not '$MODE'" ;;
esac
case "$LEVEL" in
    info|debug) ;;
    *) die "DEMO_LOGLEVEL must be info or debug, not '$LEVEL'" ;;
esac
[ -x "$BIN" ] || die "$BIN is not built: run make (or make demo)"
command -v php >/dev/null || die "php not found: apt-get install php-cli"

# Say who holds a port, when we can tell.
port_owner() {
    if command -v ss >/dev/null; then
        ss -Hltnp "sport = :$1" 2>/dev/null |
            sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
    fi
}

taken=""
for p in "$FRONT_PORT" "$PORT1" "$PORT2"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        owner=$(port_owner "$p")
        echo "demo: port 127.0.0.1:$p is taken${owner:+ by $owner}" >&2
        taken=1
    fi
done
[ -z "$taken" ] || die "free the port(s) above, or choose others with" \
    "FRONT_PORT, BACKEND1_PORT, BACKEND2_PORT"

mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)
mkdir -p "$RUN/sessions-server1" "$RUN/sessions-server2" "$RUN/shared"

pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    echo "demo: stopped (logs and uploads stay in $RUN)"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_backend NAME PORT: php -S with its own session directory.
start_backend() {
    local name=$1 port=$2 route=""
    [ "$MODE" = guide ] && route=$name
    BACKEND_NAME=$name SHARED_DIR="$RUN/shared" SET_BALANCEID_ROUTE=$route \
        php -S "127.0.0.1:$port" -t "$ROOT/examples/app" \
        -d "session.save_path=$RUN/sessions-$name" \
        -d variables_order=EGPCS \
        >"$RUN/php-$name.log" 2>&1 &
    pids+=($!)
}

wait_port() {
    local i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$1 after 10 s (see $RUN/php-*.log)"
}

start_backend server1 "$PORT1"
start_backend server2 "$PORT2"
wait_port "$PORT1"
wait_port "$PORT2"

# The run copy of the guide's configuration, after the operator's pages
# (ours, not the guide's): their ProxyPass exclusions must come before
# the guide's "ProxyPass /".
CONF=$RUN/balancer.conf
sticky_extra=""
[ "$MODE" = insert ] && sticky_extra=" stickysessioninsert=On"
cat >"$CONF" <<'PAGES'
# --- added by examples/demo.sh: pages for the operator (local only) ---
ProxyPass /balancer-dashboard !
ProxyPass /balancer-manager !
ProxyPass /metrics !
<Location /balancer-dashboard>
    SetHandler balancer-dashboard
    Require ip 127.0.0.1
</Location>
<Location /balancer-manager>
    SetHandler balancer-manager
    Require ip 127.0.0.1
</Location>
<Location /metrics>
    SetHandler balancer-metrics
    Require ip 127.0.0.1
</Location>

PAGES
sed -e "s|^Listen 127.0.0.1:8080\$|Listen 127.0.0.1:$FRONT_PORT|" \
    -e "s|http://127.0.0.1:8081 |http://127.0.0.1:$PORT1 |" \
    -e "s|http://127.0.0.1:8082 |http://127.0.0.1:$PORT2 |" \
    -e "s|^LogLevel .*|LogLevel $LEVEL|" \
    -e "s|build/demo/|$RUN/|" \
    -e "s|stickysession=BALANCEID\$|stickysession=BALANCEID$sticky_extra|" \
    examples/guide.conf >>"$CONF"
"$BIN" -t -f "$CONF" >/dev/null || die "$CONF does not check"
: >>"$RUN/access.log"

URL=http://127.0.0.1:$FRONT_PORT
JAR=$RUN/cookies.txt
if [ "$MODE" = guide ]; then
    how="the back ends set BALANCEID=balancer.serverN on every response,
  as the guide's RewriteRule does (DEMO_MODE=insert: balancer sets it)"
else
    how="balancer sets the BALANCEID cookie itself (stickysessioninsert=On);
  the back ends are unchanged (DEMO_MODE=guide: the guide's way)"
fi
cat <<INFO

balancer demo, mode: $MODE
  $how

  Open        $URL/
  Log in      any user name, password: demo
              The page shows the back end serving it, a visit counter kept
              in the PHP session and the session id. Reload: the counter
              goes up and the back end stays the same. Uploads go to the
              directory both back ends share: $RUN/shared

  Dashboard   $URL/balancer-dashboard
              each back end's state, requests per second, p50/p99 latency
              and errors, live; stop a back end and watch it go to error
  Manager     $URL/balancer-manager
              Apache's balancer-manager: drain, disable or weight a back end
              without a restart (?format=json for scripts)
  Metrics     $URL/metrics   (Prometheus text format)

  Back ends   server1 http://127.0.0.1:$PORT1  sessions in $RUN/sessions-server1
              server2 http://127.0.0.1:$PORT2  sessions in $RUN/sessions-server2

  Watch       tail -f $RUN/access.log
              member= the back end chosen   route= the route the request
              asked for (from its BALANCEID cookie, "-" when none)
              decision= sticky    the route was followed
                        lbmethod  no route: byrequests chose
                        failover  the route's back end is unusable (in
                                  error, disabled) or names no member
                        retry     a try failed (e.g. connection refused)
                                  and another member took the request
                        redirect  the route's member redirects (redirect=)
                        standby   only a hot standby member was left
              Error log: $RUN/error.log (DEMO_LOGLEVEL=debug: one line
              per balancing decision; Apache's "Found value (null) for
              stickysession BALANCEID" reads there as "no sticky value
              for BALANCEID (no cookie, no URL parameter)")

  With curl   rm -f $JAR
              curl -s -c $JAR -b $JAR -d user=alice -d password=demo $URL/api.php
              for i in 1 2 3 4 5; do curl -s -c $JAR -b $JAR $URL/api.php; done
              (the same "backend" every time and "counter" 1..5; without
              -b $JAR there is no route: byrequests shares the requests
              between server1 and server2, counting the sticky ones too,
              as Apache does, so the first few may all go to one)

  Stop        Ctrl-C (or kill $$) stops balancer and both PHP servers.

INFO

# In the background, so that a TERM sent to this script runs its trap
# at once (bash runs traps between commands, not during one) and the
# cleanup stops balancer and the back ends.
"$BIN" -f "$CONF" &
pids+=($!)
wait "$!"
