#!/usr/bin/env bash
# Starts or stops a throwaway OpenLDAP server (Debian's slapd) for the LDAP
# tests: a generated slapd.conf in a temp dir, plain LDAP (also StartTLS)
# and LDAPS on loopback ports, a test CA, and the users in users.ldif.
#
#   eval "$(tests/ldap/slapd.sh start)"   # prints export lines (ALEXA_LINK_LDAP_*)
#   tests/ldap/slapd.sh stop "$ALEXA_LINK_LDAP_DIR"
#
# SLAPD_HOST=10.88.0.1 binds that address instead (the node suite, whose
# pods reach only the bridge); the certificate then names that address.
#
# Needs: slapd, ldap-utils, openssl (scripts/test installs them).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

HOST=${SLAPD_HOST:-127.0.0.1}

free_port() {
  python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1]); s.close()' "$HOST"
}

start() {
  local dir ldap_port ldaps_port
  dir="$(mktemp -d /tmp/alexa-link-slapd.XXXXXX)"
  mkdir -p "$dir/data"
  ldap_port="$(free_port)"
  ldaps_port="$(free_port)"

  # A test CA and a server certificate for $HOST.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=alexa-link test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$HOST" >"$dir/ext.cnf"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/ext.cnf" -out "$dir/server.pem" 2>/dev/null

  cat >"$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
TLSCACertificateFile $dir/ca.pem
TLSCertificateFile $dir/server.pem
TLSCertificateKeyFile $dir/server.key
database mdb
maxsize 10485760
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw admin-pw
directory $dir/data
access to attrs=userPassword by self read by anonymous auth by * none
access to * by users read by * none
CONF
  slapd -h "ldap://$HOST:$ldap_port/ ldaps://$HOST:$ldaps_port/" -f "$dir/slapd.conf" >&2
  for _ in $(seq 50); do
    ldapsearch -x -H "ldap://$HOST:$ldap_port/" -b "" -s base >/dev/null 2>&1 && break
    sleep 0.1
  done
  ldapadd -x -H "ldap://$HOST:$ldap_port/" -D "cn=admin,dc=example,dc=com" -w admin-pw \
    -f "$HERE/users.ldif" >/dev/null
  echo "export ALEXA_LINK_LDAP_DIR=$dir"
  echo "export ALEXA_LINK_LDAP_URL=ldap://$HOST:$ldap_port"
  echo "export ALEXA_LINK_LDAPS_URL=ldaps://$HOST:$ldaps_port"
  echo "export ALEXA_LINK_LDAP_CA=$dir/ca.pem"
  # The directory manager, for tests that rename and re-create users.
  echo "export ALEXA_LINK_LDAP_ADMIN_DN=cn=admin,dc=example,dc=com"
  echo "export ALEXA_LINK_LDAP_ADMIN_PASSWORD=admin-pw"
}

stop() {
  local dir=${1:?usage: slapd.sh stop DIR}
  if [[ -f "$dir/slapd.pid" ]]; then
    kill "$(cat "$dir/slapd.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [[ -f "$dir/slapd.pid" ]] || break; sleep 0.1; done
  fi
  case "$dir" in /tmp/alexa-link-slapd.*) rm -rf "$dir" ;; esac
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
