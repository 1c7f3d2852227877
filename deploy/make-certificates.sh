#!/bin/sh
# The lab's own certificate authority, the broker's certificate and one certificate per MQTT
# client, made with openssl (ECDSA P-256, SHA-256). README.md, "Securing a lab", says how
# they are used.
#
#   make-certificates.sh ca [LAB]          the lab's CA: ca.pem, and ca.key to keep offline
#   make-certificates.sh broker NAME...    broker/: broker.pem and broker.key, valid for each
#                                          host name or IP address the clients dial
#   make-certificates.sh client NAME       NAME/: NAME.pem and NAME.key for a bench's agent
#                                          (NAME: its MQTT user name) or a remote console
#
# Files go to ./certs, or to the folder in $CERTS_DIR; broker/ and each client's folder also
# get a copy of ca.pem, so a folder is all its holder needs (the CA key is in none). Keys
# are written mode 0600 and nothing is overwritten: remove a file to make it again.
# Environment:
#   CA_PASSWORD    encrypts the CA key when it is made, and unlocks it to sign
#   KEY_PASSWORD   encrypts a client's key (the agent reads it from the variable named by
#                  mqtt.key_password_env); the broker's key stays unencrypted, since the
#                  broker cannot ask for a passphrase when it starts
#   DAYS           validity of a broker or client certificate (default 825; the CA: 3650)
set -eu

dir=${CERTS_DIR:-certs}
days=${DAYS:-825}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

usage() {
    sed -n '6,10p' "$0" | cut -c3- >&2
    exit 2
}

fail() {
    echo "make-certificates.sh: $*" >&2
    exit 1
}

# Run openssl quietly; on failure show what it said.
quiet() {
    "$@" 2>"$work/log" || { cat "$work/log" >&2; fail "openssl failed (above)"; }
}

check_name() {
    printf '%s' "$1" | grep -Eq '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' ||
        fail "bad name '$1': use letters, digits, '.', '_' or '-' (at most 64)"
}

absent() {
    for file in "$@"; do
        [ ! -e "$dir/$file" ] || fail "$dir/$file exists; remove it first to make it again"
    done
}

# -pass/-passin argument: the variable named $1 if it is set and not empty, else no password.
password() {
    if [ -n "$1" ] && [ -n "$(printenv "$1" || true)" ]; then echo "env:$1"; else echo "pass:"; fi
}

# A new EC key in $1, encrypted with the variable named $2 if that is set (mode 0600).
new_key() {
    if [ "$(password "$2")" = "pass:" ]; then
        (umask 077 && quiet openssl genpkey -algorithm EC \
            -pkeyopt ec_paramgen_curve:P-256 -out "$1")
    else
        (umask 077 && quiet openssl genpkey -algorithm EC \
            -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass "env:$2" -out "$1")
    fi
}

# Write to $1 a certificate signed by the CA for the key $2 (unlocked with the variable named
# $3), subject CN $4, extended usage $5 and subject names $6.
sign() {
    {
        printf '[req]\ndistinguished_name = dn\n[dn]\n[v3]\n'
        printf 'basicConstraints = critical, CA:false\n'
        printf 'keyUsage = critical, digitalSignature, keyAgreement\n'
        printf 'extendedKeyUsage = %s\n' "$5"
        printf 'subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n'
        [ -z "$6" ] || printf 'subjectAltName = %s\n' "$6"
    } >"$work/leaf.cnf"
    quiet openssl req -new -key "$2" -passin "$(password "$3")" -subj "/CN=$4" \
        -config "$work/leaf.cnf" -out "$work/request.csr"
    quiet openssl x509 -req -in "$work/request.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -passin "$(password CA_PASSWORD)" -set_serial "0x$(openssl rand -hex 16)" \
        -days "$days" -sha256 -extfile "$work/leaf.cnf" -extensions v3 -out "$work/leaf.pem"
    mv "$work/leaf.pem" "$1"
}

# Move $work/$2.pem and $2.key into the folder $dir/$1 (mode 0700) with a copy of ca.pem.
deliver() {
    (umask 077 && mkdir -p "$dir/$1")
    cp "$dir/ca.pem" "$dir/$1/ca.pem"
    mv "$work/$2.pem" "$work/$2.key" "$dir/$1/"
}

need_ca() {
    [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] ||
        fail "no CA in $dir: run 'make-certificates.sh ca' first (or set CERTS_DIR)"
}

[ $# -ge 1 ] || usage
kind=$1
shift

case $kind in
ca)
    [ $# -le 1 ] || usage
    case ${1:-} in */* | *=*) fail "the lab's name cannot hold '/' or '='" ;; esac
    (umask 077 && mkdir -p "$dir")
    absent ca.pem ca.key
    {
        printf '[req]\ndistinguished_name = dn\n[dn]\n[v3]\n'
        printf 'basicConstraints = critical, CA:true, pathlen:0\n'
        printf 'keyUsage = critical, keyCertSign, cRLSign\n'
        printf 'subjectKeyIdentifier = hash\n'
    } >"$work/ca.cnf"
    new_key "$work/ca.key" CA_PASSWORD
    quiet openssl req -new -x509 -key "$work/ca.key" -passin "$(password CA_PASSWORD)" \
        -subj "/CN=${1:-benchdaq lab} CA" -days 3650 -sha256 -config "$work/ca.cnf" \
        -extensions v3 -out "$dir/ca.pem"
    mv "$work/ca.key" "$dir/ca.key"
    echo "made $dir/ca.pem and $dir/ca.key (keep the key offline)"
    ;;
broker)
    [ $# -ge 1 ] || fail "name the host names or IP addresses the clients dial for the broker"
    need_ca
    absent broker/broker.pem broker/broker.key
    names=""
    for name in "$@"; do
        if printf '%s' "$name" | grep -Eq '^[0-9.]+$|:'; then
            names="${names:+$names, }IP:$name"
        else
            check_name "$name"
            names="${names:+$names, }DNS:$name"
        fi
    done
    new_key "$work/broker.key" ""
    sign "$work/broker.pem" "$work/broker.key" "" "$1" serverAuth "$names"
    deliver broker broker
    echo "made $dir/broker/broker.pem and broker.key for $names"
    ;;
client)
    [ $# -eq 1 ] || usage
    check_name "$1"
    case $1 in ca | broker) fail "'$1' names the CA's or the broker's files; choose another" ;; esac
    need_ca
    absent "$1/$1.pem" "$1/$1.key"
    new_key "$work/$1.key" KEY_PASSWORD
    sign "$work/$1.pem" "$work/$1.key" KEY_PASSWORD "$1" clientAuth ""
    deliver "$1" "$1"
    echo "made $dir/$1/$1.pem and $1.key"
    ;;
*)
    usage
    ;;
esac
