#!/usr/bin/env bash
# Start (or stop) throwaway PostgreSQL, Redis and IMAP (dovecot) servers on loopback for the
# test suite (and install Debian's chromium for the browser test when it is missing).
# Usage: scripts/services.sh start|stop   — prints the export lines for the URLs on start.
# PostgreSQL refuses to run as root, so as root the cluster runs as the 'postgres' user.
set -euo pipefail
dir="${LOOM_SERVICES_DIR:-/tmp/loom-test-services}"
pg_port="${LOOM_TEST_PG_PORT:-55432}"
redis_port="${LOOM_TEST_REDIS_PORT:-56379}"
imap_port="${LOOM_TEST_IMAP_PORT:-56143}"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_bin() { for d in /usr/lib/postgresql/*/bin; do [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done; command -v "$1"; }

# A dovecot of its own: config, passwd-file and maildirs under $dir/dovecot, plain IMAP on
# loopback only. One user, loom / loom (tests make a folder each). As root the mail
# processes run as the 'dovecot' user (dovecot refuses root); otherwise as the caller.
start_imap() {
  local d="$dir/dovecot" user group
  if [ "$(id -u)" = 0 ]; then user=dovecot; group=dovecot; else user="$(id -un)"; group="$(id -gn)"; fi
  mkdir -p "$d/run" "$d/mail"
  echo "loom:{PLAIN}loom::::::" >"$d/users"
  cat >"$d/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $d/run
state_dir = $d/run
log_path = $d/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
first_valid_uid = 1
mail_location = maildir:$d/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
  default_fields = uid=$user gid=$group home=$d/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
}
CONF
  chown -R "$user:$group" "$d/mail" 2>/dev/null || true
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$imap_port") 2>/dev/null; then
    /usr/sbin/dovecot -c "$d/dovecot.conf" stop >/dev/null 2>&1 || true
    /usr/sbin/dovecot -c "$d/dovecot.conf" >&2
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$imap_port") 2>/dev/null && break; sleep 0.1; done
  fi
}

case "${1:-start}" in
start)
  # The suite needs real servers; install the Debian packages on a fresh machine (as root).
  missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -n "$(pg_bin initdb 2>/dev/null)" ] || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)  # the headless browser test of the web UI
  [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)  # the IMAP server mail-in tests read from
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2
    else
      echo "scripts/services.sh: please install: ${missing[*]}" >&2; exit 1
    fi
  fi
  mkdir -p "$dir"; chmod 777 "$dir"
  if [ ! -f "$dir/pg/PG_VERSION" ]; then
    as_pg mkdir -p "$dir/pg"
    as_pg "$(pg_bin initdb)" -D "$dir/pg" -U loom --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
  fi
  if ! as_pg "$(pg_bin pg_ctl)" -D "$dir/pg" status >/dev/null 2>&1; then
    as_pg "$(pg_bin pg_ctl)" -D "$dir/pg" -l "$dir/pg.log" -w -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
  fi
  if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --dir "$dir" --logfile "$dir/redis.log" >/dev/null
  fi
  start_imap
  echo "export LOOM_TEST_PG_URL=postgresql://loom@127.0.0.1:$pg_port/postgres"
  echo "export LOOM_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0"
  echo "export LOOM_TEST_IMAP_URL=imap://127.0.0.1:$imap_port"
  ;;
stop)
  as_pg "$(pg_bin pg_ctl)" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  [ -f "$dir/dovecot/dovecot.conf" ] && /usr/sbin/dovecot -c "$dir/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
  ;;
esac
